// The CPU register tile's size rule, shared by the generator (which applies it) and the tuner
// (which skips candidates it makes identical).
#pragma once

#include <algorithm>

#include "halconv/extension.h"

namespace halconv::generators {

// Vector registers of an x86 ISA: 32 with AVX-512 (whatever the vector width), else 16.
inline int vector_registers(bool avx512) { return avx512 ? 32 : 16; }

// Accumulators per output vector of the tile: groups_mode=rotated keeps one per lane rotation.
inline int accumulators_per_vector(bool rotated) {
  return rotated ? halconv::kRotatedGroupChannels : 1;
}

// Columns of a channel-vector tile of `tile_vectors` vectors that fit a file of `registers`
// vector registers (32 with AVX-512, else 16): the accumulators, one weight vector per tile vector
// and one broadcast. `columns` is the tile asked for; at least one column remains.
inline int register_tile_columns(int columns, int tile_vectors, int registers) {
  return std::max(1, std::min(columns, (registers - tile_vectors - 1) / tile_vectors));
}

}  // namespace halconv::generators
