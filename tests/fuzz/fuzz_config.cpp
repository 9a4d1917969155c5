// libFuzzer target: the Keras config readers (through the layer factory, which dispatches on
// class_name to Conv2D, DepthwiseConv2D and SeparableConv2D) and shape validation on arbitrary
// text.
#include <cstddef>
#include <cstdint>
#include <string>

#include "halconv/halconv.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  try {
    const std::string text(reinterpret_cast<const char*>(data), size);
    const std::unique_ptr<halconv::Layer> layer = halconv::layer_from_config(text);
    layer->compute_output_shape({1, 9, 7, 4});
    layer->get_config();
  } catch (const halconv::Error&) {
  }
  return 0;
}
