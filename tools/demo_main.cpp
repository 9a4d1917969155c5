// The seed's examples: a (4, 600, 600, 3) input through Conv2D with 64 filters in six settings.
// Prints each output shape, the variant chosen, the median time and a spot check of 2000 random
// output elements against the float64 reference.
#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <random>

#include "halconv/halconv.h"
#include "reference.h"

int main() {
  using halconv::Conv2D;
  struct Seed {
    const char* label;
    int64_t kernel, stride;
    const char* padding;
  };
  const Seed seeds[] = {{"1x1", 1, 1, "valid"},
                        {"2x2", 2, 1, "valid"},
                        {"1x1 strides 2", 1, 2, "valid"},
                        {"3x3 strides 2 same", 3, 2, "same"},
                        {"3x3 strides 1 same", 3, 1, "same"},
                        {"3x3 valid", 3, 1, "valid"}};
  const halconv::Shape input_shape = {4, 600, 600, 3};
  const halconv::Tensor input(input_shape, halconv::testing::random_values(4 * 600 * 600 * 3, 1));
  bool all_ok = true;
  std::printf("%-20s %-20s %-30s %9s %8s %10s\n", "conv", "output shape", "variant", "median ms",
              "GFLOP/s", "spot err");
  for (const Seed& s : seeds) {
    halconv::Initializer init("glorot_uniform");
    init.seed = 7;
    Conv2D layer(64, s.kernel, s.stride, s.padding, "channels_last", 1, 1, "linear", true, init,
                 "random_uniform");
    layer.build(input_shape);
    const halconv::Problem p = halconv::make_problem(layer.config(), input_shape);
    const auto weights = layer.get_weights();
    // The layer call allocates its result; time the engine-level call into a reused buffer.
    const halconv::Plan plan(p, weights[0].data.data(), weights[1].data.data());
    halconv::Tensor out = layer(input);
    std::vector<double> ms;
    for (int i = 0; i < 5; i++) {
      const auto t0 = std::chrono::steady_clock::now();
      plan.run(input.data.data(), out.data.data());
      ms.push_back(
          std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count());
    }
    std::sort(ms.begin(), ms.end());
    const double flops =
        2.0 * p.batch * p.out_h * p.out_w * p.filters * p.in_c * p.kernel_h * p.kernel_w;

    std::mt19937 rng(3);
    double max_err = 0, max_ref = 0;
    for (int i = 0; i < 2000; i++) {
      const int64_t n = rng() % p.batch, y = rng() % p.out_h, x = rng() % p.out_w,
                    c = rng() % p.filters;
      const double ref = halconv::testing::reference_conv_point(p, input.data, weights[0].data,
                                                                weights[1].data, n, y, x, c);
      const double got = out.data[((n * p.out_h + y) * p.out_w + x) * p.filters + c];
      max_err = std::max(max_err, std::abs(got - ref));
      max_ref = std::max(max_ref, std::abs(ref));
    }
    const double rel = max_err / max_ref;
    all_ok = all_ok && rel <= 1e-4;
    std::printf("%-20s %-20s %-30s %9.2f %8.1f %10.1e %s\n", s.label,
                halconv::shape_to_string(out.shape).c_str(),
                halconv::select_variant(p).chosen.c_str(), ms[2], flops / ms[2] / 1e6, rel,
                rel <= 1e-4 ? "ok" : "MISMATCH");
  }
  return all_ok ? 0 : 1;
}
