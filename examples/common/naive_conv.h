// A naive NHWC Conv2D (valid or explicit padding, groups 1) the examples check halconv against.
#pragma once

#include <cmath>
#include <cstdint>
#include <vector>

inline double naive_conv_nhwc(const std::vector<float>& x, int64_t h, int64_t w, int64_t c,
                              const std::vector<float>& k, int64_t kh, int64_t kw, int64_t filters,
                              const std::vector<float>& bias, int64_t stride, int64_t pad_top,
                              int64_t pad_left, int64_t n, int64_t oy, int64_t ox, int64_t co) {
  double acc = bias.empty() ? 0.0 : bias[co];
  for (int64_t i = 0; i < kh; i++)
    for (int64_t j = 0; j < kw; j++)
      for (int64_t ci = 0; ci < c; ci++) {
        const int64_t y = oy * stride + i - pad_top, xx = ox * stride + j - pad_left;
        if (y < 0 || y >= h || xx < 0 || xx >= w) continue;
        acc +=
            double(x[((n * h + y) * w + xx) * c + ci]) * k[((i * kw + j) * c + ci) * filters + co];
      }
  return acc;
}

inline bool close_enough(double got, double expected) {
  return std::abs(got - expected) <= 1e-4 * std::max(1.0, std::abs(expected));
}
