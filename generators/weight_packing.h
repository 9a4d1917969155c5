// The packed weights' layout, the rule the generator tiles by (and the tuner packs its JIT
// candidates' weights by). The runtime asks each compiled object for it (a bounds query), except
// on the GPU, whose block is kGpuChannelSpan filters.
#pragma once

#include <algorithm>
#include <cstdint>

namespace halconv::packing {

constexpr int kWidestVectorFloats = 16;  // an AVX-512 register
// A GPU thread block spans block_size * gpu_threads_b channels; the build keeps that within this.
constexpr int kGpuChannelSpan = 64;

// Filters per packed weight block. Channel-vector CPU tiles (NHWC, NCHW by channels):
// vectors_per_block vectors of the widest ISA; width-vector CPU tiles: block_size filters.
constexpr int64_t filters_per_block(bool gpu, bool channel_vectors, int vectors_per_block,
                                    int block_size) {
  if (gpu) return kGpuChannelSpan;
  return channel_vectors ? int64_t{kWidestVectorFloats} * std::max(1, vectors_per_block)
                         : std::max(1, block_size);
}

// The packed filter count is a multiple of this: a whole number of blocks, and whole register
// tiles of an ISA object whose channel tile spans several blocks (its own vectors_per_block,
// tile_vectors: isa_schedule.h).
constexpr int64_t filter_padding(bool gpu, bool channel_vectors, int vectors_per_block,
                                 int block_size, int tile_vectors) {
  const int64_t block = filters_per_block(gpu, channel_vectors, vectors_per_block, block_size);
  if (gpu || !channel_vectors || tile_vectors == 0) return block;
  return std::max(block, int64_t{kWidestVectorFloats} * tile_vectors);
}

}  // namespace halconv::packing
