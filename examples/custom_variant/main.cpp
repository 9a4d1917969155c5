// A consumer that generated its own variant with halconv_add_conv2d: selection picks it for the
// problem it was generated for, explain says so, and its results match a naive loop.
#include <halconv/halconv.h>

#include <cstdio>

#include "naive_conv.h"

int main() {
  halconv::Conv2DConfig config;
  config.filters = 20;
  config.kernel_size = 5;
  config.strides = 2;
  config.padding = halconv::Padding::same;
  const halconv::Shape shape = {1, 19, 18, 6};
  const halconv::Problem problem = halconv::make_problem(config, shape);
  const std::string why = halconv::explain(problem, halconv::Device::cpu);
  std::printf("%s", why.c_str());
  if (why.find("chosen: my_conv5x5_s2") == std::string::npos) {
    std::printf("custom_variant: the generated variant was not chosen\n");
    return 1;
  }
  std::vector<float> kernel(5 * 5 * 6 * 20), bias(20), input(19 * 18 * 6);
  for (size_t i = 0; i < kernel.size(); i++) kernel[i] = std::cos(0.3f * float(i)) * 0.1f;
  for (size_t i = 0; i < bias.size(); i++) bias[i] = -0.02f * float(i);
  for (size_t i = 0; i < input.size(); i++) input[i] = std::sin(0.07f * float(i));
  const halconv::Plan plan(problem, kernel.data(), bias.data(), halconv::Device::cpu);
  std::vector<float> output(static_cast<size_t>(problem.output_elements()));
  plan.run(input.data(), output.data());
  int bad = 0;
  for (int64_t oy = 0; oy < problem.out_h; oy++)
    for (int64_t ox = 0; ox < problem.out_w; ox++)
      for (int64_t co = 0; co < 20; co++) {
        const double expected = naive_conv_nhwc(input, 19, 18, 6, kernel, 5, 5, 20, bias, 2,
                                                problem.pad_top, problem.pad_left, 0, oy, ox, co);
        bad += !close_enough(output[(oy * problem.out_w + ox) * 20 + co], expected);
      }
  std::printf("custom_variant: variant %s, %d mismatches\n", plan.variant().c_str(), bad);
  return bad == 0 && plan.variant() == "my_conv5x5_s2" ? 0 : 1;
}
