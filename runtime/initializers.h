// Keras' initializers for Conv2D weights (internal).
#pragma once

#include <vector>

#include "halconv/config.h"

namespace halconv::detail {

// Values for a weight of `shape`; for a conv kernel (kh, kw, in, out) Keras takes
// fan_in = kh*kw*in and fan_out = kh*kw*out. Throws Error for an unknown initializer.
std::vector<float> initialize(const Initializer& init, const Shape& shape);

}  // namespace halconv::detail
