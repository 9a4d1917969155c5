// CPU schedule rules shared by the generator (which applies them) and the tuner (which skips
// candidates they make identical): the register tile's size, and which variants read in place.
#pragma once

#include <algorithm>

#include "halconv/groups_mode.h"
#include "variant_domain.h"

namespace halconv::generators {

// Vector registers of an x86 ISA: 32 with AVX-512 (whatever the vector width), else 16.
inline int vector_registers(bool avx512) { return avx512 ? 32 : 16; }

// Accumulators per output vector of the tile: groups_mode=rotated keeps one per lane rotation.
inline int accumulators_per_vector(bool rotated) {
  return rotated ? halconv::kRotatedGroupChannels : 1;
}

// Whether a variant reads its zero-filled input in place, each task spanning every channel block
// (the generator's reads_zero_filled_input_in_place()): NHWC depthwise and rotated ones, whose
// tile loads whole channel vectors of the input. Such a variant has no shared_staging choice.
inline bool reads_input_vectors_in_place(bool nhwc, bool depthwise, bool rotated) {
  return nhwc && (depthwise || rotated);
}

// Whether a width-vectorized NCHW CPU variant reads its input planes in place, each task spanning
// every channel block (the generator's reads_planes_in_place()): 1x1, constant stride 1, a bound
// on the filters. Such a variant has no shared_staging choice either.
inline bool reads_planes_in_place(bool nchw_width_vectors, int kernel, int stride,
                                  int max_filters) {
  return nchw_width_vectors && kernel == 1 && stride == 1 && max_filters > 0;
}

// Whether a width-vectorized NCHW CPU variant tiles a channel's rows (the generator's
// rows_tile()): depthwise or whole-groups with a constant kernel size. Its tile's block is rows,
// not the packed filter block, so the AVX-512 object may take its own (isa_schedules).
inline bool tiles_rows(bool nchw_width_vectors, bool depthwise_or_whole_groups, int kernel) {
  return nchw_width_vectors && depthwise_or_whole_groups && kernel > 0;
}

// Columns of a channel-vector tile of `tile_vectors` vectors that fit a file of `registers`
// vector registers (32 with AVX-512, else 16): the accumulators, one weight vector per tile vector
// and one broadcast. `columns` is the tile asked for; at least one column remains.
inline int register_tile_columns(int columns, int tile_vectors, int registers) {
  return std::max(1, std::min(columns, (registers - tile_vectors - 1) / tile_vectors));
}

}  // namespace halconv::generators
