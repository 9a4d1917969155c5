// Layer shapes that fit a variant's groups mode, shared by the suites that force every variant.
#pragma once

#include <algorithm>
#include <cstdint>

#include "halconv/extension.h"
#include "variant_domain.h"
#include "variant_rules.h"

namespace halconv::testing {

struct GroupedLayer {
  int64_t groups;
  int64_t filters;
  int64_t in_c;  // the input channels asked for, or the next count the variant's groups take
};

// Variants only for groups > 1: each declines a dense layer.
inline bool needs_groups(const VariantSpec& v) {
  return v.groups == GroupsMode::depthwise || v.groups == GroupsMode::narrow ||
         v.groups == GroupsMode::block_diagonal || v.groups == GroupsMode::rotated ||
         v.groups == GroupsMode::whole_groups;
}

// One input channel per group where the variant is for groups: depthwise takes one filter per
// group, narrow two (a channel multiplier), block-diagonal kBlockDiagonalMinFilters + 1 (neither
// a divisor nor a multiple of a vector); rotated and whole-groups take kRotatedGroupChannels
// channels and filters per group, in_c rounded up to whole groups; other variants get
// `dense_filters` in one group, and in_c up to their bound on input channels.
inline GroupedLayer grouped_layer_for(const VariantSpec& v, int64_t in_c, int64_t dense_filters) {
  switch (v.groups) {
    case GroupsMode::depthwise:
      return {in_c, in_c, in_c};
    case GroupsMode::narrow:
      return {in_c, 2 * in_c, in_c};
    case GroupsMode::block_diagonal:
      return {in_c, (kBlockDiagonalMinFilters + 1) * in_c, in_c};
    case GroupsMode::rotated:
    case GroupsMode::whole_groups: {
      const int64_t groups = (in_c + kRotatedGroupChannels - 1) / kRotatedGroupChannels;
      return {groups, groups * kRotatedGroupChannels, groups * kRotatedGroupChannels};
    }
    case GroupsMode::dense:
    case GroupsMode::grouped:
      break;
  }
  return {1, dense_filters,
          v.max_in_channels > 0 ? std::min<int64_t>(in_c, v.max_in_channels) : in_c};
}

// A SAME layer in the variant's layout with its fixed kernel, stride and dilation, and where they
// are run-time values a 3x3 kernel, `stride` and no dilation.
inline Conv2DConfig same_layer_for(const VariantSpec& v, int64_t stride) {
  Conv2DConfig c;
  c.data_format = v.layout;
  c.padding = Padding::same;
  c.kernel_size = v.kernel ? v.kernel : 3;
  c.strides = v.stride ? v.stride : stride;
  c.dilation_rate = v.dilation ? v.dilation : 1;
  return c;
}

// The direct deep-layer variants take only odd output widths: `shape` gets one column more where
// its width alone keeps v from serving it (those variants have stride 1, so the output widens
// with the input). Returns whether c can run on the result: channels_first glu halves the width,
// which a widened shape leaves odd.
inline bool widen_to_served_width(const VariantSpec& v, const Conv2DConfig& c, Shape& shape) {
  Shape wider = shape;
  wider[c.data_format == DataFormat::channels_last ? 2 : 3]++;
  Conv2DConfig linear = c;
  linear.activation = "linear";  // glu's own rule must not reject the wider shape here
  if (detail::serves_output_pixels(v, make_problem(linear, shape)) ||
      !detail::serves_output_pixels(v, make_problem(linear, wider))) {
    return true;
  }
  shape = wider;
  return !(c.data_format == DataFormat::channels_first && c.activation == "glu");
}

// A 3x3 SAME stride-1 layer over one side x side image of `channels`, in either layout.
inline Problem square_3x3_problem(DataFormat format, int64_t side, int64_t channels,
                                  int64_t filters) {
  Conv2DConfig c;
  c.data_format = format;
  c.filters = filters;
  c.kernel_size = 3;
  c.padding = Padding::same;
  const Shape shape = format == DataFormat::channels_last ? Shape{1, side, side, channels}
                                                          : Shape{1, channels, side, side};
  return make_problem(c, shape);
}

}  // namespace halconv::testing
