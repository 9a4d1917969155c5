#include "winograd.h"

namespace halconv::detail {

std::vector<float> winograd_weights(const float* kernel, int64_t in_channels, int64_t filters) {
  // G of F(2x2, 3x3); the generator holds the matching B^T and A^T.
  constexpr double g[4][3] = {{1, 0, 0}, {0.5, 0.5, 0.5}, {0.5, -0.5, 0.5}, {0, 0, 1}};
  const int64_t plane = in_channels * filters;  // one (ky, kx) slice of either layout
  std::vector<float> out(16 * plane);
  for (int64_t i = 0; i < plane; i++) {
    for (int ey = 0; ey < 4; ey++) {
      for (int ex = 0; ex < 4; ex++) {
        double sum = 0;
        for (int ky = 0; ky < 3; ky++) {
          for (int kx = 0; kx < 3; kx++) {
            sum += g[ey][ky] * g[ex][kx] * kernel[(ky * 3 + kx) * plane + i];
          }
        }
        out[(ey * 4 + ex) * plane + i] = static_cast<float>(sum);
      }
    }
  }
  return out;
}

}  // namespace halconv::detail
