// Weights for the Winograd F(2x2, 3x3) variants (internal).
#pragma once

#include <cstdint>
#include <vector>

namespace halconv::detail {

// Keras 3x3 weights (3, 3, in_channels, filters) transformed to G g G^T per (channel, filter),
// laid out as (4, 4, in_channels, filters): the generator's algorithm=winograd reads them packed
// like a 4x4 kernel.
std::vector<float> winograd_weights(const float* kernel, int64_t in_channels, int64_t filters);

}  // namespace halconv::detail
