// An engine-style consumer: the weights are packed once into a Plan, then every call runs on
// buffers the engine owns and reuses, with no allocation inside halconv.
#include <halconv/halconv.h>

#include <cstdio>

#include "naive_conv.h"

int main() {
  halconv::Conv2DConfig config;
  config.filters = 32;
  config.kernel_size = 1;
  config.activation = "relu";
  const halconv::Problem problem = halconv::make_problem(config, {1, 14, 14, 24});
  std::vector<float> kernel(24 * 32), bias(32), input(14 * 14 * 24), output(14 * 14 * 32);
  for (size_t i = 0; i < kernel.size(); i++) kernel[i] = std::cos(0.11f * float(i)) * 0.2f;
  for (size_t i = 0; i < bias.size(); i++) bias[i] = 0.01f * float(i);
  const halconv::Plan plan(problem, kernel.data(), bias.data(), halconv::Device::cpu);
  int bad = 0;
  for (int step = 0; step < 3; step++) {  // e.g. three frames through the same layer
    for (size_t i = 0; i < input.size(); i++) input[i] = std::sin(0.05f * float(i * (step + 1)));
    plan.run(input.data(), output.data());
    for (int64_t p = 0; p < 14 * 14; p++)
      for (int64_t co = 0; co < 32; co++) {
        const double expected =
            std::max(0.0, naive_conv_nhwc(input, 14, 14, 24, kernel, 1, 1, 32, bias, 1, 0, 0, 0,
                                          p / 14, p % 14, co));
        bad += !close_enough(output[p * 32 + co], expected);
      }
  }
  std::printf("engine: variant %s, %d mismatches over 3 calls\n", plan.variant().c_str(), bad);
  return bad == 0 ? 0 : 1;
}
