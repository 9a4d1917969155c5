// The shapes each groups mode and algorithm serves: bounds the generator's code relies on and the
// runtime's selection enforces (runtime/variant_rules.cpp). Internal: not installed, not public.
#pragma once

namespace halconv {

// narrow: groups > 1 with at most this many input channels per group.
constexpr int kNarrowGroupChannels = 16;
// rotated and whole_groups: this many input channels and as many filters per group (ResNeXt
// 32x4d's first stage).
constexpr int kRotatedGroupChannels = 4;
// block_diagonal: groups > 1 with at least this many filters per group (the variant multiplies
// zeros across the groups a channel vector spans: 8 / filters per group times the work with AVX2,
// when that is above 1).
constexpr int kBlockDiagonalMinFilters = 4;
// Winograd variants: at least this many input channels.
constexpr int kWinogradMinChannels = 16;
// NCHW variants vectorized along channels, unless narrow-grouped: at least this many input
// channels per group.
constexpr int kNchwByChannelsMinChannels = 16;

}  // namespace halconv
