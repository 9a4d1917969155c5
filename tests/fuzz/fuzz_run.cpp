// libFuzzer target: the whole run path on small shapes. The input is a config JSON, then a NUL,
// then bytes that fill the input, kernel and bias (so the data is fuzzed too), as multiples of
// 1/16 in [-8, 8).
#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <string>

#include "halconv/halconv.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const uint8_t* nul = static_cast<const uint8_t*>(std::memchr(data, 0, size));
  const size_t config_size = nul ? static_cast<size_t>(nul - data) : size;
  const uint8_t* payload = nul ? nul + 1 : data + size;
  const size_t payload_size = static_cast<size_t>(data + size - payload);
  auto fill = [&](std::vector<float>& v, size_t offset) {
    for (size_t i = 0; i < v.size(); i++) {
      v[i] =
          payload_size
              ? static_cast<float>(static_cast<int8_t>(payload[(offset + i) % payload_size])) / 16
              : 1.0f;
    }
  };
  try {
    halconv::Conv2DConfig config =
        halconv::parse_config_json(std::string(reinterpret_cast<const char*>(data), config_size));
    // Keep the work small: the fuzzer is after memory errors, not big convolutions.
    if (config.filters > 64 || config.kernel_size.h > 9 || config.kernel_size.w > 9) return 0;
    const int64_t channels = std::max<int64_t>(config.groups, 1) * 2;
    if (channels > 64) return 0;
    const bool last = config.data_format == halconv::DataFormat::channels_last;
    const halconv::Shape shape =
        last ? halconv::Shape{1, 7, 6, channels} : halconv::Shape{1, channels, 7, 6};
    const halconv::Problem p = halconv::make_problem(config, shape);
    std::vector<float> input(static_cast<size_t>(halconv::Tensor(shape).size()));
    std::vector<float> kernel(static_cast<size_t>(halconv::Tensor(p.kernel_shape()).size()));
    std::vector<float> bias(static_cast<size_t>(p.filters));
    fill(input, 0);
    fill(kernel, 7);
    fill(bias, 13);
    const halconv::Plan plan(p, kernel.data(), bias.data(), halconv::Device::cpu);
    std::vector<float> output(static_cast<size_t>(p.output_elements()));
    std::vector<float> workspace(plan.workspace_floats());
    plan.run(input.data(), output.data(), workspace.empty() ? nullptr : workspace.data());
  } catch (const halconv::Error&) {
  }
  return 0;
}
