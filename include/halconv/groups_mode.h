// How a variant's code treats groups, and each mode's name. The generators include this alone of
// the public headers, so that the runtime's headers can change without regenerating any object.
#pragma once

#include <utility>

namespace halconv {

// How a variant's code treats groups. dense: groups 1. grouped: any groups. depthwise: groups ==
// input channels == filters. narrow: few input channels per group. block_diagonal: several filters
// per group, spanned by one channel vector. rotated: ResNeXt-like groups of a few channels and as
// many filters, every multiply useful (NHWC). whole_groups: the same layers in NCHW, vectorized
// along width. docs/variants.md gives each mode's bounds.
enum class GroupsMode { dense, grouped, depthwise, narrow, block_diagonal, rotated, whole_groups };
// Each mode's name, as variant records, the generator's groups_mode and variant names spell it.
inline constexpr std::pair<const char*, GroupsMode> kGroupsModeNames[] = {
    {"dense", GroupsMode::dense},
    {"grouped", GroupsMode::grouped},
    {"depthwise", GroupsMode::depthwise},
    {"narrow", GroupsMode::narrow},
    {"block_diagonal", GroupsMode::block_diagonal},
    {"rotated", GroupsMode::rotated},
    {"whole_groups", GroupsMode::whole_groups}};

}  // namespace halconv
