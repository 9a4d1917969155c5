// A plain consumer: Keras-style Conv2D through the layer API, checked against a naive loop.
#include <halconv/halconv.h>

#include <cstdio>

#include "naive_conv.h"

int main() {
  halconv::Conv2D conv(/*filters=*/16, /*kernel_size=*/3, /*strides=*/1, "valid");
  const halconv::Shape shape = {2, 12, 10, 5};
  conv.build(shape);
  std::vector<float> values(2 * 12 * 10 * 5);
  for (size_t i = 0; i < values.size(); i++) values[i] = std::sin(0.37f * float(i)) + 0.1f;
  const halconv::Tensor y = conv(halconv::Tensor(shape, values));
  const auto weights = conv.get_weights();
  int bad = 0;
  for (int64_t n = 0; n < 2; n++)
    for (int64_t oy = 0; oy < 10; oy++)
      for (int64_t ox = 0; ox < 8; ox++)
        for (int64_t co = 0; co < 16; co++) {
          const double expected = naive_conv_nhwc(values, 12, 10, 5, weights[0].data, 3, 3, 16,
                                                  weights[1].data, 1, 0, 0, n, oy, ox, co);
          bad += !close_enough(y.data[((n * 10 + oy) * 8 + ox) * 16 + co], expected);
        }
  std::printf("plain: output %s, %d mismatches\n%s", halconv::shape_to_string(y.shape).c_str(), bad,
              conv.explain(shape).c_str());
  return bad == 0 ? 0 : 1;
}
