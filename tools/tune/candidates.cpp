// The candidate space: which schedule parameters are searched for each variant, and why.
#include "candidates.h"

#include <algorithm>

#include "register_tile.h"

namespace halconv::tune {

std::vector<Candidate> candidates_for(const VariantInfo& v, int64_t max_in_channels,
                                      int host_vector, const std::optional<Candidate>& fixed_pack,
                                      const std::vector<int>& only_vectors,
                                      const std::vector<int64_t>& class_widths) {
  // Reduction chunks only where the reduction has more input channels than a chunk (the
  // generator chunks channel-vector direct and Winograd variants, not depthwise or rotated ones,
  // which reduce over taps only).
  constexpr int kChunk = 64;
  std::vector<int> chunks = {0};
  const bool by_channels = v.layout == "nhwc" || v.nchw_by_channels;
  if (max_in_channels > kChunk && by_channels && v.groups != "depthwise" && v.groups != "rotated") {
    chunks.push_back(kChunk);
  }
  std::vector<int> vpbs = by_channels ? std::vector<int>{1, 2, 3} : std::vector<int>{1, 2};
  // A few-filters variant's tile is its filter bound (the build checks it).
  if (v.max_filters > 0) vpbs = {v.max_filters / 16};
  std::vector<int> blocks_descending =
      by_channels ? std::vector<int>{12, 8, 6, 3} : std::vector<int>{6, 4, 2};
  if (by_channels) {
    // A tile as wide as the class's images computes no column past their edge: ResNet's 7x7
    // layer, direct, 2 threads, JIT: 1.0-1.2 ms at 7 columns against 2.0-2.3 at 8.
    for (int64_t width : class_widths) {
      const int block = static_cast<int>(width);
      if (width > 1 && width < blocks_descending.front() &&
          std::find(blocks_descending.begin(), blocks_descending.end(), block) ==
              blocks_descending.end()) {
        blocks_descending.push_back(block);
      }
    }
    std::sort(blocks_descending.rbegin(), blocks_descending.rend());
  }
  if (fixed_pack) {
    // The AVX-512 tile spans whole packed blocks, up to 4 vectors (24 accumulators at 6
    // columns), where the generator allows it (dense or grouped, no filter bound); dense
    // width-vectorized tiles widen along width, which packs nothing.
    vpbs = {fixed_pack->vectors_per_block};
    const bool wider_tiles =
        (by_channels && v.max_filters == 0 && (v.groups == "dense" || v.groups == "grouped")) ||
        (!by_channels && v.groups == "dense");
    for (int vpb = 2 * vpbs[0]; wider_tiles && vpb <= 4; vpb *= 2) vpbs.push_back(vpb);
    if (!by_channels) blocks_descending = {fixed_pack->block_size};
    if (v.tiles_rows()) {
      // Its tile's block is rows and its width pads nothing: both free of the packing. A whole
      // group's tile holds 4 accumulators per row and vector, so 8 rows would not fit.
      vpbs = {1, 2};
      blocks_descending =
          v.groups == "whole_groups" ? std::vector<int>{6, 4, 2} : std::vector<int>{8, 6, 4, 2};
    }
  }
  // Rows per task (the band). Depthwise does little work per row: long bands amortize a task's
  // staging and dispatch; whole-groups tasks stage a group's channels alike. 28 cuts MobileNet's
  // 112- and 56-row maps into even task counts (with 32, 112 rows made 4 tasks of unequal size:
  // 0.052 against 0.045 ms, 2 threads, in one A/B; a later one, after in-place reading, found 8, 28
  // and 32 rows within noise, 0.050-0.055 ms).
  const std::vector<int> rows_options = v.groups == "depthwise" || v.groups == "whole_groups"
                                            ? std::vector<int>{8, 28, 128}
                                            : std::vector<int>{2, 8};
  // AVX-512 grouped variants may also run 8-float vectors (the AVX-512 object's vector_lanes,
  // generators/isa_schedule.h): block-diagonal ones then span fewer groups (fewer zero-weight
  // multiplies), rotated ones hold twice the columns in registers, whole-groups ones waste fewer
  // lanes past a row's end.
  std::vector<int> lanes_options = {0};
  if (fixed_pack &&
      (v.groups == "block_diagonal" || v.groups == "rotated" || v.groups == "whole_groups")) {
    lanes_options.push_back(8);
  }
  const int accumulators_per_vector =
      halconv::generators::accumulators_per_vector(v.groups == "rotated");
  const int registers = halconv::generators::vector_registers(host_vector == 16);
  const bool reads_in_place =
      halconv::generators::reads_input_vectors_in_place(v.layout == "nhwc", v.groups == "depthwise",
                                                        v.groups == "rotated") ||
      halconv::generators::reads_planes_in_place(v.layout == "nchw" && !v.nchw_by_channels,
                                                 v.kernel, v.stride, v.max_filters);
  const std::vector<bool> shared_options =
      reads_in_place ? std::vector<bool>{true} : std::vector<bool>{false, true};
  std::vector<Candidate> out;
  for (int lanes : lanes_options) {
    const int vector_floats = lanes > 0 ? lanes : host_vector;
    for (int vpb : vpbs) {
      if (!only_vectors.empty() &&
          std::find(only_vectors.begin(), only_vectors.end(), vpb) == only_vectors.end()) {
        continue;
      }
      std::vector<int> host_blocks;  // the blocks the host's code gets, to skip repeats
      for (int b : blocks_descending) {
        const int host_block =
            by_channels
                ? halconv::generators::register_tile_columns(
                      b, accumulators_per_vector * std::max(1, 16 * vpb / vector_floats), registers)
                : b;
        if (std::find(host_blocks.begin(), host_blocks.end(), host_block) != host_blocks.end()) {
          continue;
        }
        host_blocks.push_back(host_block);
        for (int rows : rows_options)
          for (int chunk : chunks)
            for (bool shared : shared_options) {
              out.push_back({vpb, b, rows, chunk, shared, lanes});
            }
      }
    }
  }
  return out;
}

}  // namespace halconv::tune
