#include "core/metrics/realism.h"

#include <cmath>
#include <set>
#include <vector>

#include <gmock/gmock.h>
#include <gtest/gtest.h>

namespace tutti {
namespace {

using ::testing::HasSubstr;
using realism_internal::Quantile;
using realism_internal::UniformIndex;

constexpr int kDrums = 0, kPiano = 1, kGuitar = 2, kBass = 3, kStrings = 4;
constexpr int64_t kCells = 5 * 64 * 72;

// A toy "genre": LPD-5-shaped samples with random notes in a random major key. Per track and bar the bar is
// left empty with probability empty[track]; drums put one-step hits on 8th positions (now and then on a
// 16th), the other tracks 1-4 notes of 1-8 steps.
struct ToyGenre {
  double empty[5] = {0.05, 0.3, 0.2, 0.1, 0.5};
};

uint64_t Pick(std::mt19937_64& rng, uint64_t n) { return UniformIndex(rng, n); }

std::vector<uint8_t> Generate(const ToyGenre& genre, int64_t n, uint64_t seed) {
  std::mt19937_64 rng(seed);
  std::vector<uint8_t> cells(static_cast<size_t>(n * kCells), 0);
  auto on = [&](int64_t s, int track, int step, int midi) {
    cells[static_cast<size_t>(((s * 5 + track) * 64 + step) * 72 + (midi - 24))] = 1;
  };
  constexpr int kMajor[7] = {0, 2, 4, 5, 7, 9, 11};
  const int octave[5] = {0, 60, 48, 36, 72};
  for (int64_t s = 0; s < n; ++s) {
    const int key = static_cast<int>(Pick(rng, 12));
    for (int track = 0; track < 5; ++track) {
      for (int bar = 0; bar < 4; ++bar) {
        if (static_cast<double>(Pick(rng, 1000)) < 1000 * genre.empty[track]) continue;
        if (track == kDrums) {
          bool any = false;
          for (int eighth = 0; eighth < 8; ++eighth) {
            if (Pick(rng, 2) == 0 && !(eighth == 7 && !any)) continue;
            const int step = bar * 16 + eighth * 2 + (Pick(rng, 10) == 0 ? 1 : 0);
            on(s, kDrums, step, eighth % 4 == 2 ? 38 : (eighth % 2 == 0 ? 36 : 42));
            any = true;
          }
          continue;
        }
        const int notes = 1 + static_cast<int>(Pick(rng, 4));
        for (int k = 0; k < notes; ++k) {
          const int pitch = octave[track] + (key + kMajor[Pick(rng, 7)]) % 12;
          const int start = bar * 16 + static_cast<int>(Pick(rng, 16));
          const int length = 1 + static_cast<int>(Pick(rng, 8));
          for (int step = start; step < std::min(64, start + length); ++step) on(s, track, step, pitch);
        }
      }
    }
  }
  return cells;
}

SampleReader ReaderOf(const std::vector<uint8_t>& cells) {
  return [&cells](int64_t index, uint8_t* out) {
    std::copy_n(cells.data() + index * kCells, kCells, out);
  };
}

RealismReference MustBuild(const std::vector<uint8_t>& pool, RealismOptions options) {
  StatusOr<RealismReference> ref = RealismReference::Build(static_cast<int64_t>(pool.size() / kCells),
                                                           ReaderOf(pool), PianorollDims{}, MetricsOptions{}, options);
  EXPECT_TRUE(ref.ok()) << ref.status();
  return std::move(ref).value();
}

RealismOptions Options(int64_t n, int draws = 200, uint64_t seed = 0) {
  RealismOptions o;
  o.samples = n;
  o.draws = draws;
  o.seed = seed;
  return o;
}

const RealismMetricResult* Find(const RealismResult& r, const std::string& name) {
  for (const RealismMetricResult& m : r.metrics) {
    if (m.name == name) return &m;
  }
  return nullptr;
}

TEST(RealismTest, QuantileMatchesAHandWorkedExample) {
  // Five values: h = 4p. p = 2.5 %: h = 0.1, 1 + 0.1 (2 - 1) = 1.1; median x[2] = 3; 97.5 %: h = 3.9,
  // 4 + 0.9 (5 - 4) = 4.9.
  const std::vector<double> five = {1, 2, 3, 4, 5};
  EXPECT_DOUBLE_EQ(Quantile(five, 0.025), 1.1);
  EXPECT_DOUBLE_EQ(Quantile(five, 0.5), 3.0);
  EXPECT_DOUBLE_EQ(Quantile(five, 0.975), 4.9);
  EXPECT_DOUBLE_EQ(Quantile(five, 0.0), 1.0);
  EXPECT_DOUBLE_EQ(Quantile(five, 1.0), 5.0);
  // 200 draws 0..199: h = 199 p = 4.975 and 194.025.
  std::vector<double> draws;
  for (int i = 0; i < 200; ++i) draws.push_back(i);
  EXPECT_NEAR(Quantile(draws, 0.025), 4.975, 1e-12);
  EXPECT_NEAR(Quantile(draws, 0.975), 194.025, 1e-12);
  EXPECT_DOUBLE_EQ(Quantile({7.0}, 0.025), 7.0);
  EXPECT_DOUBLE_EQ(Quantile({0.0, 10.0}, 0.975), 9.75);
}

TEST(RealismTest, UniformIndexIsUnbiasedEnoughAndReproducible) {
  std::mt19937_64 a(3), b(3);
  std::vector<int> counts(3, 0);
  for (int i = 0; i < 30000; ++i) {
    const uint64_t x = UniformIndex(a, 3);
    ASSERT_LT(x, 3u);
    ++counts[x];
    EXPECT_EQ(x, UniformIndex(b, 3));
  }
  for (int c : counts) EXPECT_NEAR(c, 10000, 300);
  EXPECT_EQ(UniformIndex(a, 1), 0u);
  // The largest range rejects about half the raw values and still lands in range.
  for (int i = 0; i < 100; ++i) EXPECT_LT(UniformIndex(a, (uint64_t{1} << 63) + 1), (uint64_t{1} << 63) + 1);
}

TEST(RealismTest, SameSeedGivesIdenticalBandsAndAnotherSeedOtherBands) {
  const std::vector<uint8_t> pool = Generate(ToyGenre{}, 600, 1);
  const RealismReference a = MustBuild(pool, Options(16, 50, 5));
  const RealismReference b = MustBuild(pool, Options(16, 50, 5));
  const RealismReference c = MustBuild(pool, Options(16, 50, 6));
  ASSERT_EQ(a.bands().size(), b.bands().size());
  ASSERT_EQ(a.bands().size(), c.bands().size());
  bool any_differs = false;
  for (size_t i = 0; i < a.bands().size(); ++i) {
    // Bit-identical, not just close: the algorithm is fixed and the generator fully specified.
    EXPECT_EQ(a.bands()[i].low, b.bands()[i].low) << a.bands()[i].name;
    EXPECT_EQ(a.bands()[i].median, b.bands()[i].median) << a.bands()[i].name;
    EXPECT_EQ(a.bands()[i].high, b.bands()[i].high) << a.bands()[i].name;
    any_differs = any_differs || a.bands()[i].low != c.bands()[i].low || a.bands()[i].high != c.bands()[i].high;
  }
  EXPECT_TRUE(any_differs);
  EXPECT_FALSE(a.with_replacement());  // 600 >= 20 x 16: drawn without replacement
  EXPECT_EQ(a.pool_used(), 600);
}

TEST(RealismTest, TheVectorLeavesOutWhatIsConstantAtTheGrid) {
  const std::vector<uint8_t> pool = Generate(ToyGenre{}, 400, 2);
  const RealismReference ref = MustBuild(pool, Options(32, 100));
  std::set<std::string> constant;
  for (const auto& [name, value] : ref.constant_metrics()) {
    constant.insert(name);
    EXPECT_EQ(value, 1.0) << name;
  }
  // At 4 steps per beat every note is >= a 32nd and every onset is on the 16th grid.
  const std::set<std::string> expected = {
      "Drums.qualified_notes_ge_32nd_paper",  "Piano.qualified_notes_ge_32nd_paper",
      "Guitar.qualified_notes_ge_32nd_paper", "Bass.qualified_notes_ge_32nd_paper",
      "Strings.qualified_notes_ge_32nd_paper", "Drums.drum_onsets_on_16th_paper"};
  EXPECT_EQ(constant, expected);
  ASSERT_EQ(ref.bands().size(), 22u);  // 5 EB + 5 UPC + 5 QN>=8th + DP 8th + 6 TD
  EXPECT_EQ(ref.bands()[0].name, "Drums.empty_bars");
  EXPECT_EQ(ref.bands().back().name, "S-P.tonal_distance_true_pc");
  for (const RealismBand& band : ref.bands()) {
    EXPECT_LE(band.low, band.median) << band.name;
    EXPECT_LE(band.median, band.high) << band.name;
    EXPECT_EQ(band.draws, 100);
  }

  // At 24 steps per beat the paper's QN can vary (a 1-step note is under a 32nd): it stays in the vector.
  MetricsOptions fine;
  fine.steps_per_bar = 16;
  fine.steps_per_beat = 16;
  StatusOr<RealismReference> fine_ref =
      RealismReference::Build(400, ReaderOf(pool), PianorollDims{}, fine, Options(32, 20));
  ASSERT_TRUE(fine_ref.ok()) << fine_ref.status();
  bool kept = false;
  for (const RealismBand& band : fine_ref->bands()) kept = kept || band.name == "Bass.qualified_notes_ge_32nd_paper";
  EXPECT_TRUE(kept);
}

TEST(RealismTest, BandsSitAroundThePoolsOwnMetrics) {
  const std::vector<uint8_t> pool = Generate(ToyGenre{}, 800, 3);
  const RealismReference ref = MustBuild(pool, Options(32, 200));
  StatusOr<MetricsReport> whole = ComputeMetrics(pool.data(), 800, PianorollDims{});
  ASSERT_TRUE(whole.ok());
  // The pool's own metrics are the draws' centre: inside every band (a draw of 32 spreads far wider than
  // the difference between its median and the pool's value).
  StatusOr<RealismResult> own = ref.Score(*whole);
  ASSERT_TRUE(own.ok()) << own.status();
  EXPECT_EQ(own->outside, 0);
  EXPECT_LT(own->score, 0.5);
  EXPECT_THAT(own->note, HasSubstr("800 samples scored against bands for N = 32"));
}

TEST(RealismTest, RealSamplesOfTheSameGenreAreMostlyInside) {
  const std::vector<uint8_t> pool = Generate(ToyGenre{}, 1500, 4);
  const std::vector<uint8_t> heldout = Generate(ToyGenre{}, 200, 99);
  const RealismReference ref = MustBuild(pool, Options(64));
  EXPECT_FALSE(ref.with_replacement());  // 1500 >= 20 x 64

  StatusOr<RealismResult> bar = ref.ScoreHeldOut(200, ReaderOf(heldout));
  ASSERT_TRUE(bar.ok()) << bar.status();
  EXPECT_EQ(bar->samples, 64);
  EXPECT_EQ(bar->metric_count, 22);
  EXPECT_LE(bar->outside, 3);  // ~5 % of 22 expected
  EXPECT_LT(bar->score, 1.0);
  EXPECT_TRUE(bar->note.empty()) << bar->note;

  // Five more independent sets of 64: on average about one metric in twenty outside.
  int outside = 0;
  for (uint64_t seed = 10; seed < 15; ++seed) {
    const std::vector<uint8_t> fresh = Generate(ToyGenre{}, 64, seed);
    StatusOr<RealismResult> r = ref.ScoreSamples(fresh.data(), 64);
    ASSERT_TRUE(r.ok()) << r.status();
    EXPECT_TRUE(r->note.empty()) << r->note;
    outside += r->outside;
  }
  EXPECT_LE(outside, 12);  // of 110

  // Fewer held-out samples than N: all of them, with a note.
  StatusOr<RealismResult> small = ref.ScoreHeldOut(40, ReaderOf(heldout));
  ASSERT_TRUE(small.ok()) << small.status();
  EXPECT_EQ(small->samples, 40);
  EXPECT_THAT(small->note, HasSubstr("all 40 samples of the held-out split (fewer than the 64"));
}

TEST(RealismTest, ABrokenGeneratorIsOutsideOnMostMetrics) {
  const std::vector<uint8_t> pool = Generate(ToyGenre{}, 1000, 5);
  const RealismReference ref = MustBuild(pool, Options(32));

  std::vector<uint8_t> silent(static_cast<size_t>(32 * kCells), 0);
  StatusOr<RealismResult> empty = ref.ScoreSamples(silent.data(), 32);
  ASSERT_TRUE(empty.ok()) << empty.status();
  EXPECT_EQ(empty->outside, 22);  // EB = 1 everywhere; every other metric undefined (NaN)
  EXPECT_GT(empty->score, 9.0);  // NaN metrics at the cap; EB = 1 is capped or nearly (Strings: ~5 half-widths)
  EXPECT_DOUBLE_EQ(Find(*empty, "Piano.used_pitch_classes_true_pc")->distance, kRealismDistanceCap);

  std::vector<uint8_t> full(static_cast<size_t>(32 * kCells), 1);
  StatusOr<RealismResult> noise = ref.ScoreSamples(full.data(), 32);
  ASSERT_TRUE(noise.ok()) << noise.status();
  EXPECT_GE(noise->outside, 18) << noise->outside;
  EXPECT_GT(noise->score, 5.0);
  EXPECT_TRUE(Find(*noise, "Bass.used_pitch_classes_true_pc")->outside);  // 12 pitch classes in every bar
}

TEST(RealismTest, DegenerateBandsCatchAValueOffThem) {
  // Piano plays in every bar of every real sample: EB = 0 in every draw, a zero-width band that stays in the
  // vector (an all-empty probe set has EB = 1, so EB can vary at this grid).
  ToyGenre always_piano;
  always_piano.empty[kPiano] = 0;
  const std::vector<uint8_t> pool = Generate(always_piano, 600, 6);
  const RealismReference ref = MustBuild(pool, Options(16, 100));
  const RealismBand* band = nullptr;
  for (const RealismBand& b : ref.bands()) {
    if (b.name == "Piano.empty_bars") band = &b;
  }
  ASSERT_NE(band, nullptr);
  EXPECT_EQ(band->low, 0.0);
  EXPECT_EQ(band->high, 0.0);

  std::vector<uint8_t> same = Generate(always_piano, 16, 60);
  StatusOr<RealismResult> on_band = ref.ScoreSamples(same.data(), 16);
  ASSERT_TRUE(on_band.ok());
  EXPECT_FALSE(Find(*on_band, "Piano.empty_bars")->outside);
  EXPECT_EQ(Find(*on_band, "Piano.empty_bars")->distance, 0.0);

  // One empty piano bar in 64: EB = 1/64, off the degenerate band by far more than epsilon.
  for (int step = 0; step < 16; ++step) {
    std::fill_n(same.begin() + ((0 * 5 + kPiano) * 64 + step) * 72, 72, 0);
  }
  StatusOr<RealismResult> off_band = ref.ScoreSamples(same.data(), 16);
  ASSERT_TRUE(off_band.ok());
  EXPECT_TRUE(Find(*off_band, "Piano.empty_bars")->outside);
  EXPECT_EQ(Find(*off_band, "Piano.empty_bars")->distance, kRealismDistanceCap);
}

TEST(RealismTest, NanIsOutsideUnlessRealDataIsNanAsOften) {
  // Strings never play in this genre: its UPC is NaN in every real draw.
  ToyGenre no_strings;
  no_strings.empty[kStrings] = 1.0;
  const std::vector<uint8_t> pool = Generate(no_strings, 600, 7);
  const RealismReference ref = MustBuild(pool, Options(16, 100));
  const RealismBand* upc = nullptr;
  for (const RealismBand& b : ref.bands()) {
    if (b.name == "Strings.used_pitch_classes_true_pc") upc = &b;
  }
  ASSERT_NE(upc, nullptr);  // it varies on the probes, so it stays in the vector
  EXPECT_EQ(upc->nan_draws, 100);
  EXPECT_TRUE(std::isnan(upc->median));

  std::vector<uint8_t> alike = Generate(no_strings, 16, 70);
  StatusOr<RealismResult> quiet = ref.ScoreSamples(alike.data(), 16);
  ASSERT_TRUE(quiet.ok());
  EXPECT_FALSE(Find(*quiet, "Strings.used_pitch_classes_true_pc")->outside);  // NaN as real data is
  EXPECT_EQ(Find(*quiet, "Strings.used_pitch_classes_true_pc")->distance, 0.0);

  std::vector<uint8_t> with_strings = Generate(ToyGenre{}, 16, 71);
  StatusOr<RealismResult> loud = ref.ScoreSamples(with_strings.data(), 16);
  ASSERT_TRUE(loud.ok());
  EXPECT_TRUE(Find(*loud, "Strings.used_pitch_classes_true_pc")->outside);  // finite where real is NaN
  EXPECT_EQ(Find(*loud, "Strings.used_pitch_classes_true_pc")->distance, kRealismDistanceCap);
  EXPECT_TRUE(Find(*loud, "Strings.empty_bars")->outside);  // EB band is [1, 1]

  // The other way round: strings usually play in the real data; a set without them has NaN UPC: outside.
  const std::vector<uint8_t> pool2 = Generate(ToyGenre{}, 600, 8);
  const RealismReference ref2 = MustBuild(pool2, Options(16, 100));
  StatusOr<RealismResult> missing = ref2.ScoreSamples(alike.data(), 16);
  ASSERT_TRUE(missing.ok());
  EXPECT_TRUE(Find(*missing, "Strings.used_pitch_classes_true_pc")->outside);
  EXPECT_EQ(Find(*missing, "Strings.used_pitch_classes_true_pc")->distance, kRealismDistanceCap);
}

TEST(RealismTest, SmallPoolsAreDrawnWithReplacementAndLargeOnesCapped) {
  const std::vector<uint8_t> pool = Generate(ToyGenre{}, 300, 9);
  EXPECT_TRUE(MustBuild(pool, Options(32, 20)).with_replacement());  // 300 < 20 x 32
  RealismOptions capped = Options(8, 20);
  capped.max_pool = 100;
  const RealismReference a = MustBuild(pool, capped);
  EXPECT_EQ(a.pool_total(), 300);
  EXPECT_EQ(a.pool_used(), 100);
  EXPECT_TRUE(a.with_replacement());  // 100 < 20 x 8
  const RealismReference b = MustBuild(pool, capped);
  for (size_t i = 0; i < a.bands().size(); ++i) EXPECT_EQ(a.bands()[i].median, b.bands()[i].median);
}

TEST(RealismTest, SeveralPoolsMakeOneDraw) {
  const std::vector<uint8_t> rock = Generate(ToyGenre{}, 300, 10);
  ToyGenre sparse;
  for (double& e : sparse.empty) e = 0.7;
  const std::vector<uint8_t> jazz = Generate(sparse, 200, 11);
  std::vector<RealismPool> pools = {{300, ReaderOf(rock), 8, "rock train split"},
                                    {200, ReaderOf(jazz), 8, "jazz train split"}};
  StatusOr<RealismReference> ref = RealismReference::Build(pools, PianorollDims{}, MetricsOptions{}, Options(0, 50));
  ASSERT_TRUE(ref.ok()) << ref.status();
  EXPECT_EQ(ref->samples(), 16);
  EXPECT_EQ(ref->pool_total(), 500);
  // The held-out bar takes 8 of each; an empty held-out pool has no bar.
  StatusOr<RealismResult> bar = ref->ScoreHeldOut(pools);
  ASSERT_TRUE(bar.ok()) << bar.status();
  EXPECT_EQ(bar->samples, 16);
  pools[1].size = 0;
  StatusOr<RealismResult> none = ref->ScoreHeldOut(pools);
  EXPECT_EQ(none.status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_THAT(std::string(none.status().message()), HasSubstr("jazz train split: no held-out samples"));
}

TEST(RealismTest, RejectsBadArgumentsAndMismatchedReports) {
  const std::vector<uint8_t> pool = Generate(ToyGenre{}, 50, 12);
  auto build = [&](int64_t size, RealismOptions o, PianorollDims dims = {}) {
    return RealismReference::Build(size, ReaderOf(pool), dims, MetricsOptions{}, o).status();
  };
  EXPECT_EQ(build(0, Options(8)).code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(build(50, Options(0)).code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(std::string(build(50, Options(8, 0)).message()), HasSubstr("draws (R) must be >= 1, got 0"));
  EXPECT_THAT(std::string(build(50, Options(8), PianorollDims{5, 60, 72}).message()), HasSubstr("steps (60)"));
  EXPECT_EQ(RealismReference::Build(std::vector<RealismPool>{}, PianorollDims{}, MetricsOptions{}, Options(8))
                .status()
                .code(),
            absl::StatusCode::kInvalidArgument);

  const RealismReference ref = MustBuild(pool, Options(8, 10));
  MetricsReport three_tracks;
  three_tracks.tracks.resize(3);
  EXPECT_THAT(std::string(ref.Score(three_tracks).status().message()),
              HasSubstr("expected a report of 5 tracks (as the reference), got 3"));
}

TEST(RealismTest, ReportJsonTableAndSummaries) {
  const std::vector<uint8_t> pool = Generate(ToyGenre{}, 700, 13);
  const std::vector<uint8_t> heldout = Generate(ToyGenre{}, 100, 14);
  const RealismReference ref = MustBuild(pool, Options(32, 50));
  std::vector<uint8_t> silent(static_cast<size_t>(32 * kCells), 0);
  RealismReport report = RealismReport::FromReference(ref);
  report.generated = ref.ScoreSamples(silent.data(), 32).value();
  report.heldout = ref.ScoreHeldOut(100, ReaderOf(heldout)).value();

  const nlohmann::json j = report.ToJson();
  EXPECT_EQ(j["outside"], 22);
  EXPECT_EQ(j["metrics"], 22);
  EXPECT_EQ(j["samples"], 32);
  EXPECT_DOUBLE_EQ(j["score"].get<double>(), report.generated->score);
  EXPECT_EQ(j["heldout_outside"], report.heldout->outside);
  EXPECT_DOUBLE_EQ(j["heldout_score"].get<double>(), report.heldout->score);
  EXPECT_EQ(j["heldout_samples"], 32);
  EXPECT_EQ(j["reference"]["draws"], 50);
  EXPECT_EQ(j["reference"]["samples"], 32);
  EXPECT_EQ(j["reference"]["pool"], 700);
  EXPECT_EQ(j["reference"]["with_replacement"], false);
  EXPECT_EQ(j["reference"]["constant_metrics"].size(), 6u);
  ASSERT_EQ(j["per_metric"].size(), 22u);
  const nlohmann::json& first = j["per_metric"][0];
  EXPECT_EQ(first["name"], "Drums.empty_bars");
  EXPECT_EQ(first["value"], 1.0);
  EXPECT_EQ(first["outside"], true);
  for (const char* key :
       {"low", "median", "high", "distance", "heldout_value", "heldout_outside", "heldout_distance"}) {
    EXPECT_TRUE(first.contains(key)) << key;
  }
  EXPECT_TRUE(j["per_metric"][1]["value"].is_null());  // Drums UPC of a silent set: NaN
  EXPECT_FALSE(report.ToJson(/*heldout_per_metric=*/false)["per_metric"][0].contains("heldout_value"));

  const std::string table = report.ToTable();
  std::printf("%s", table.c_str());  // for people reading the test log
  EXPECT_THAT(table, HasSubstr("band [low, high]"));
  EXPECT_THAT(table, HasSubstr("B-G.tonal_distance_true_pc"));
  EXPECT_THAT(table, HasSubstr("Drums.qualified_notes_ge_32nd_paper = 1"));
  EXPECT_THAT(table, HasSubstr("note: 50 draws (< 200)"));
  const std::string held = absl::StrCat(report.heldout->outside, " of 22");
  char score[32], gen_score[32];
  std::snprintf(score, sizeof score, "%.2f", report.heldout->score);
  std::snprintf(gen_score, sizeof gen_score, "%.2f", report.generated->score);
  EXPECT_EQ(report.Summary(), absl::StrCat("realism: 22 of 22 metrics outside the real band (held-out real: ", held,
                                           "); score ", gen_score, " (held-out real: ", score, ")"));
  EXPECT_THAT(table, HasSubstr(report.Summary()));
  EXPECT_EQ(report.ConsoleSummary(), absl::StrCat("realism 22/22 outside, score ", gen_score, " (real ",
                                                  report.heldout->outside, "/22, ", score, ")"));

  RealismReport bar_only = RealismReport::FromReference(ref);
  bar_only.heldout = report.heldout;
  EXPECT_TRUE(bar_only.ToJson()["score"].is_null());
  EXPECT_THAT(bar_only.Summary(), HasSubstr("realism (held-out real samples only): " + held));
  RealismReport no_bar = RealismReport::FromReference(ref);
  no_bar.generated = report.generated;
  no_bar.heldout_note = "no held-out samples";
  EXPECT_TRUE(no_bar.ToJson()["heldout_score"].is_null());
  EXPECT_EQ(no_bar.ToJson()["heldout_note"], "no held-out samples");
  EXPECT_THAT(no_bar.ConsoleSummary(), HasSubstr("(no held-out bar)"));
}

TEST(RealismTest, SumsAddUpToComputeMetrics) {
  const std::vector<uint8_t> samples = Generate(ToyGenre{}, 20, 15);
  MetricSums total;
  for (int64_t i = 0; i < 20; ++i) {
    MetricSums one;
    ASSERT_TRUE(AccumulateMetricSums(samples.data() + i * kCells, 1, PianorollDims{}, MetricsOptions{}, &one).ok());
    total.Add(one);
  }
  const MetricsReport from_sums = ReportFromSums(total, MetricsOptions{});
  const MetricsReport direct = ComputeMetrics(samples.data(), 20, PianorollDims{}).value();
  EXPECT_EQ(from_sums.samples, 20);
  for (int t = 0; t < 5; ++t) {
    EXPECT_EQ(from_sums.tracks[t].empty_bars, direct.tracks[t].empty_bars);
    EXPECT_EQ(from_sums.tracks[t].used_pitch_classes, direct.tracks[t].used_pitch_classes);
    EXPECT_EQ(from_sums.tracks[t].qualified_notes_8th, direct.tracks[t].qualified_notes_8th);
  }
  for (const auto& [label, value] : direct.tonal_distance) {
    EXPECT_NEAR(from_sums.tonal_distance.at(label), value, 1e-12) << label;
  }
  MetricSums wrong;
  ASSERT_TRUE(AccumulateMetricSums(samples.data(), 1, PianorollDims{5, 64, 72}, MetricsOptions{}, &wrong).ok());
  EXPECT_FALSE(AccumulateMetricSums(samples.data(), 1, PianorollDims{4, 64, 90}, [] {
                 MetricsOptions o;
                 o.track_names.clear();
                 o.tonal_pairs = {{0, 1}};
                 o.tonal_pair_labels = {"A-B"};
                 return o;
               }(), &wrong).ok());
}

}  // namespace
}  // namespace tutti
