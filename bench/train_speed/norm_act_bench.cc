// LayerNorm + LeakyReLU of the discriminator, fused node (core/model/norm_act.h) vs LibTorch's composed ops,
// at the shapes one WGAN-GP step runs them (batch B): forward; forward + backward; and the gradient
// penalty's pattern (forward, backward with create_graph, then the backward of a loss on that gradient).
// Prints one line per shape and pass with milliseconds of each and the ratio composed / fused.
//
// Usage: tutti-bench-norm-act [--batch 64] [--threads 1] [--repeats 10]

#include <chrono>
#include <cstdio>
#include <functional>
#include <string>
#include <vector>

#include <CLI/CLI.hpp>
#include <ATen/Parallel.h>
#include <torch/torch.h>

#include "core/model/norm_act.h"

namespace {

using Fn = std::function<torch::Tensor(const torch::Tensor&, const torch::Tensor&, const torch::Tensor&,
                                       const tutti::NormActLayout&, double, double)>;

double TimeMs(int repeats, const std::function<void()>& body) {
  body();  // warm-up: allocator, lazy init
  const auto start = std::chrono::steady_clock::now();
  for (int i = 0; i < repeats; ++i) body();
  return std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - start).count() / repeats;
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"Times the fused LayerNorm + LeakyReLU node against LibTorch's composed ops"};
  int64_t batch = 64;
  int threads = 1, repeats = 10;
  app.add_option("--batch", batch, "samples")->check(CLI::PositiveNumber);
  app.add_option("--threads", threads, "intra-op threads")->check(CLI::PositiveNumber);
  app.add_option("--repeats", repeats, "timed repetitions")->check(CLI::PositiveNumber);
  CLI11_PARSE(app, argc, argv);
  at::set_num_threads(threads);

  struct Shape {
    std::string name;
    int64_t rows, n;
    tutti::NormActLayout layout;
  };
  // The tutorial discriminator (5 tracks, 4 x 16 x 72): conv0/conv1 channels-last per track, conv2..conv6
  // channels-first over all channels.
  auto per_track = [&](int64_t positions) {
    tutti::NormActLayout l;
    l.row_div = batch;
    l.groups = 5;
    l.channels_per_group = 16;
    return Shape{"", 5 * batch, positions * 16, l};
  };
  auto shared = [&](int64_t channels, int64_t spatial) {
    tutti::NormActLayout l;
    l.channels_per_group = channels;
    l.inner = spatial;
    return Shape{"", batch, channels * spatial, l};
  };
  std::vector<Shape> shapes = {per_track(4 * 16 * 6), per_track(4 * 4 * 6), shared(64, 4 * 4 * 4),
                               shared(64, 4 * 4 * 1), shared(128, 4 * 1 * 1), shared(128, 3), shared(256, 1)};
  const char* names[] = {"conv0 (T*B, 384*16)", "conv1 (T*B, 96*16)", "conv2 (B, 64*64)", "conv3 (B, 64*16)",
                         "conv4 (B, 128*4)", "conv5 (B, 128*3)", "conv6 (B, 256*1)"};
  std::printf("batch %lld, %d thread(s), %d repeats; ms per call, ratio = composed / fused\n",
              static_cast<long long>(batch), at::get_num_threads(), repeats);
  std::printf("%-22s %-22s %10s %10s %7s\n", "layer", "pass", "fused", "composed", "ratio");
  double total_fused = 0, total_composed = 0;
  for (size_t k = 0; k < shapes.size(); ++k) {
    const Shape& s = shapes[k];
    torch::manual_seed(1);
    const int64_t channels = s.layout.groups * s.layout.channels_per_group;
    const auto x = torch::randn({s.rows, s.n}).requires_grad_(true);
    const auto gamma = torch::rand({channels}).requires_grad_(true);
    const auto beta = torch::zeros({channels}).requires_grad_(true);
    const auto w = torch::randn({s.rows, s.n});
    const Fn fused = tutti::LayerNormLeakyRelu, composed = tutti::LayerNormLeakyReluComposed;
    for (int pass = 0; pass < 3; ++pass) {
      double ms[2];
      int i = 0;
      for (const Fn& fn : {fused, composed}) {
        ms[i++] = TimeMs(repeats, [&] {
          if (pass == 0) {
            torch::NoGradGuard no_grad;
            fn(x, gamma, beta, s.layout, 1e-5, 0.01);
          } else if (pass == 1) {
            auto g = torch::autograd::grad({(fn(x, gamma, beta, s.layout, 1e-5, 0.01) * w).sum()}, {x, gamma, beta});
          } else {
            auto gx = torch::autograd::grad({(fn(x, gamma, beta, s.layout, 1e-5, 0.01) * w).sum()}, {x}, {}, true,
                                            true)[0];
            auto g2 = torch::autograd::grad({gx.pow(2).sum()}, {x, gamma, beta}, {}, false, false, true);
          }
        });
      }
      const char* pass_name[] = {"forward", "forward+backward", "gradient penalty"};
      std::printf("%-22s %-22s %10.3f %10.3f %6.2fx\n", names[k], pass_name[pass], ms[0], ms[1], ms[1] / ms[0]);
      if (pass > 0) {
        total_fused += ms[0];
        total_composed += ms[1];
      }
    }
  }
  std::printf("\nall layers, backward passes: fused %.2f ms, composed %.2f ms, ratio %.2fx\n", total_fused,
              total_composed, total_composed / total_fused);
  return 0;
}
