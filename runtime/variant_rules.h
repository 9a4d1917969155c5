// Which problems a variant's generate-time constants allow (internal). Shared by the registry and
// halconv-tune, which picks each variant's shape class with the same rule.
#pragma once

#include <string>

#include "halconv/config.h"
#include "halconv/extension.h"

namespace halconv::detail {

// Empty when the variant's layout, kernel, stride, dilation and groups mode fit the problem,
// otherwise why not. The backend is not considered here.
std::string shape_decline_reason(const VariantSpec& v, const Problem& p);

// Whether the variant's bound on output pixels per image (max_output_pixels; 0: none) admits p.
// The variant tests skip sizes past the bound with this same rule.
bool serves_output_pixels(const VariantSpec& v, const Problem& p);

// The packed weights' filter count is padded to a multiple of this: one whole register tile at
// the widest ISA (the generator's filter_pack() is the same rule).
int64_t filter_tile(const VariantSpec& v);

}  // namespace halconv::detail
