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

}  // namespace halconv::detail
