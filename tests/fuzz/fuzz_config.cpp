// libFuzzer target: the Keras config reader and Problem validation on arbitrary text.
#include <cstddef>
#include <cstdint>
#include <string>

#include "halconv/io.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  try {
    const halconv::Conv2DConfig config =
        halconv::parse_config_json(std::string(reinterpret_cast<const char*>(data), size));
    halconv::make_problem(config, {1, 9, 7, 4});
    halconv::config_to_json(config);
  } catch (const halconv::Error&) {
  }
  return 0;
}
