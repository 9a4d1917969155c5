// The candidate space: one set of schedule parameters, and the candidates searched for a variant.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "variants.h"

namespace halconv::tune {

struct Candidate {
  int vectors_per_block, block_size, rows_per_task, reduction_chunk;
  bool shared_staging;
  int vector_lanes = 0;  // AVX-512 mode: floats per vector, 0 for the ISA's 16
  std::string text() const {
    return "vpb=" + std::to_string(vectors_per_block) + " block=" + std::to_string(block_size) +
           " rows=" + std::to_string(rows_per_task) + " chunk=" + std::to_string(reduction_chunk) +
           (shared_staging ? " shared" : "") +
           (vector_lanes > 0 ? " lanes=" + std::to_string(vector_lanes) : "");
  }
};

// The candidates for a variant. A channel-vector tile at the host's vector width is clamped to
// the register file (register_tile_columns, the generator's rule), so several block sizes can make
// the same code here; of those only the largest is timed (the widest ISA, with twice the
// registers, is the one where a larger block can differ).
// fixed_pack: the packing parameters the candidates keep (AVX-512 mode), else none.
// class_widths: the output widths of the variant's shape class.
std::vector<Candidate> candidates_for(const VariantInfo& v, int64_t max_in_channels,
                                      int host_vector, const std::optional<Candidate>& fixed_pack,
                                      const std::vector<int>& only_vectors,
                                      const std::vector<int64_t>& class_widths);

}  // namespace halconv::tune
