// libFuzzer target: the .npy parser on arbitrary bytes. Errors are fine; crashes and leaks are not.
#include <cstddef>
#include <cstdint>
#include <string>

#include "halconv/io.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  try {
    halconv::parse_npy(std::string(reinterpret_cast<const char*>(data), size), "fuzz");
  } catch (const halconv::Error&) {
  }
  return 0;
}
