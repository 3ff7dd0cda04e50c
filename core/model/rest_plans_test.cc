// RestPlans (model.rest_plans): which tracks rest in which bars, picked per sample by its latent; and its place in
// the generator (after the refiner, before the accompaniment's given part).

#include <cmath>
#include <sstream>

#include <gtest/gtest.h>
#include <torch/torch.h>

#include "core/model/model_options.h"
#include "core/model/model_test_util.h"
#include "core/model/networks.h"
#include "core/model/rest_plans.h"

namespace tutti {
namespace {

constexpr int64_t kPlans = RestPlansImpl::kPlans;

// Plan r: track t rests in bar m when bit (t * 4 + m) of r is set (r < 1024 uses 10 of the 20 bits).
torch::Tensor NumberedPlans() {
  const torch::Tensor rows = torch::arange(kPlans, torch::kLong).view({kPlans, 1, 1});
  const torch::Tensor bit = torch::arange(20, torch::kLong).view({1, 5, 4});
  return 1 - rows.bitwise_right_shift(bit).bitwise_and(1).to(torch::kFloat);
}

// The latent whose first coordinate picks plan r: the normal quantile of r's middle, (r + 0.5) / kPlans.
torch::Tensor LatentsPicking(const std::vector<int64_t>& rows, int64_t latent = 128) {
  torch::Tensor z = torch::randn({static_cast<int64_t>(rows.size()), latent});
  for (size_t i = 0; i < rows.size(); ++i) {
    const double u = (static_cast<double>(rows[i]) + 0.5) / kPlans;
    z[static_cast<int64_t>(i)][0] = std::sqrt(2.0) * torch::erfinv(torch::tensor(2 * u - 1)).item<double>();
  }
  return z;
}

TEST(RestPlansTest, TheLatentsFirstCoordinatePicksThePlanEvenly) {
  torch::manual_seed(1);
  RestPlans plans(5, 4);
  // All ones to start with: nothing rests.
  EXPECT_TRUE(torch::equal(plans->Pick(torch::randn({3, 128})), torch::ones({3, 5, 4})));
  plans->Set(NumberedPlans());
  const std::vector<int64_t> rows{0, 1, 517, 1023};
  const torch::Tensor picked = plans->Pick(LatentsPicking(rows));
  for (size_t i = 0; i < rows.size(); ++i) {
    EXPECT_TRUE(torch::equal(picked[static_cast<int64_t>(i)], NumberedPlans()[rows[i]])) << "plan " << rows[i];
  }
  // Over N(0, 1) latents every plan is equally likely: bit 0 (drums resting in bar 0) is set in half the plans, bit 9
  // in half, both in a quarter. 20,000 draws: a share's standard error is under 0.004.
  const torch::Tensor many = plans->Pick(torch::randn({20000, 128}));
  const torch::Tensor drums_rest = 1 - many.select(1, 0).select(1, 0), piano_rest = 1 - many.select(1, 2).select(1, 1);
  const double both = (drums_rest * piano_rest).mean().item<double>();
  EXPECT_NEAR(drums_rest.mean().item<double>(), 0.5, 0.02);
  EXPECT_NEAR(piano_rest.mean().item<double>(), 0.5, 0.02);
  EXPECT_NEAR(both, 0.25, 0.02);
  // Far tails stay in range.
  const torch::Tensor tails = torch::zeros({2, 128});
  tails[0][0] = -1e30;
  tails[1][0] = 1e30;
  EXPECT_TRUE(torch::equal(plans->Pick(tails)[0], NumberedPlans()[0]));
  EXPECT_TRUE(torch::equal(plans->Pick(tails)[1], NumberedPlans()[kPlans - 1]));
}

TEST(RestPlansTest, SetRefusesAWrongShapeOrValue) {
  RestPlans plans(5, 4);
  try {
    plans->Set(torch::ones({kPlans, 5, 3}));
    FAIL() << "a wrong shape was taken";
  } catch (const c10::Error& e) {
    EXPECT_NE(std::string(e.what_without_backtrace()).find("expected plans (1024, 5, 4), got [1024, 5, 3]"),
              std::string::npos)
        << e.what_without_backtrace();
  }
  torch::Tensor half = torch::ones({kPlans, 5, 4});
  half[0][1][2] = 0.5;
  try {
    plans->Set(half);
    FAIL() << "a value of 0.5 was taken";
  } catch (const c10::Error& e) {
    EXPECT_NE(std::string(e.what_without_backtrace()).find("must be 0 or 1; flat index 6 is not"), std::string::npos)
        << e.what_without_backtrace();
  }
  // A refused call leaves the plans as they were.
  EXPECT_TRUE(torch::equal(plans->plans, torch::ones({kPlans, 5, 4})));
}

TEST(RestPlansTest, TheGeneratorRestsExactlyThePlansBarsAndWritesTheRestAsBefore) {
  torch::manual_seed(2);
  Generator plain, resting(GeneratorOptions().rest_plans(true));
  DrawAlike(plain, resting, 3);
  const std::vector<int64_t> rows{1, 6, 1023, 300};
  const torch::Tensor z = LatentsPicking(rows);
  torch::NoGradGuard no_grad;
  plain->eval();
  resting->eval();
  // Before the plans are filled (all ones) it is the tutorial's generator bit for bit.
  EXPECT_TRUE(torch::equal(plain(z), resting(z)));
  resting->rest_plans->Set(NumberedPlans());
  const torch::Tensor expected = plain(z), out = resting(z);
  for (size_t i = 0; i < rows.size(); ++i) {
    for (int64_t t = 0; t < 5; ++t) {
      for (int64_t m = 0; m < 4; ++m) {
        const torch::Tensor bar = out[static_cast<int64_t>(i)][t].narrow(0, m * 16, 16);
        const bool rests = ((rows[i] >> (t * 4 + m)) & 1) != 0;
        if (rests) {
          EXPECT_EQ(bar.abs().max().item<float>(), 0) << "plan " << rows[i] << " track " << t << " bar " << m;
        } else {
          EXPECT_TRUE(torch::equal(bar, expected[static_cast<int64_t>(i)][t].narrow(0, m * 16, 16)))
              << "plan " << rows[i] << " track " << t << " bar " << m;
        }
      }
    }
  }
}

TEST(RestPlansTest, RestingBarsPassNoGradientAndTheRefinerCannotFillThem) {
  torch::manual_seed(4);
  Generator g(GeneratorOptions().rest_plans(true).refiner(RefinerKind::kDeterministic));
  g->rest_plans->Set(NumberedPlans());
  const torch::Tensor z = LatentsPicking({1023, 1023});  // bits 0-9: drums bars 0-3, piano 0-3, guitar 0-1 rest
  g->set_refiner_active(true);
  const torch::Tensor out = g(z);
  EXPECT_EQ(out.select(1, 0).abs().max().item<float>(), 0);
  EXPECT_EQ(out.select(1, 1).abs().max().item<float>(), 0);
  EXPECT_EQ(out.select(1, 2).narrow(1, 0, 32).abs().max().item<float>(), 0);
  // A loss on the resting cells alone reaches no weight.
  g->zero_grad();
  out.select(1, 0).sum().backward();
  for (const auto& p : g->parameters()) {
    if (p.grad().defined()) {
      EXPECT_EQ(p.grad().abs().max().item<float>(), 0);
    }
  }
}

TEST(RestPlansTest, AGivenPartComesBackWholeAndThePlansRideInTheCheckpoint) {
  torch::manual_seed(5);
  Generator g(GeneratorOptions().rest_plans(true).condition_track(3));
  g->eval();
  // The bass, the given track, rests in every bar of every plan: the user's part still comes back whole.
  torch::Tensor plans = NumberedPlans();
  plans.select(1, 3).zero_();
  g->rest_plans->Set(plans);
  const torch::Tensor given = (torch::rand({2, 64, 72}) > 0.8).to(torch::kFloat);
  const torch::Tensor z = torch::randn({2, 128});
  torch::NoGradGuard no_grad;
  const torch::Tensor out = g(z, torch::Tensor(), torch::Tensor(), given);
  EXPECT_TRUE(torch::equal(out.select(1, 3), given));

  // Saved and loaded: the plans come back, and the same latents give the same samples.
  std::stringstream bytes;
  torch::serialize::OutputArchive out_archive;
  g->save(out_archive);
  out_archive.save_to(bytes);
  Generator loaded(GeneratorOptions().rest_plans(true).condition_track(3));
  torch::serialize::InputArchive in_archive;
  in_archive.load_from(bytes);
  loaded->load(in_archive);
  loaded->eval();
  EXPECT_TRUE(torch::equal(loaded->rest_plans->plans, plans));
  EXPECT_TRUE(torch::equal(loaded(z, torch::Tensor(), torch::Tensor(), given), out));

  std::ostringstream text, plain;
  g->pretty_print(text);
  Generator(GeneratorOptions().condition_track(3))->pretty_print(plain);
  EXPECT_NE(text.str().find("rest_plans=true"), std::string::npos) << text.str();
  EXPECT_EQ(DescribeArchitectureDifference(plain.str(), text.str()),
            "model.rest_plans: false in the checkpoint, true here");
}

}  // namespace
}  // namespace tutti
