// The build's CPU variants as the tuner sees them (from variants.inc), the shapes each serves, and
// the host's CPU name.
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "halconv/config.h"
#include "halconv/extension.h"

namespace halconv::tune {

struct VariantInfo {
  std::string key;  // e.g. nhwc_k3x3_s1_d1
  std::string layout, groups;
  int kernel, stride, dilation;
  bool nchw_by_channels, winograd;
  int max_filters, max_output_pixels, max_in_channels;
  // Whether its tile's block is rows (register_tile.h), which the packing leaves free.
  bool tiles_rows() const;
  // Whether its block_size is part of its weight packing (width-vectorized NCHW): the AVX-512
  // object keeps the common file's.
  bool block_is_pack() const { return layout == "nchw" && !nchw_by_channels; }
  // The runtime's description of this variant (name, function and targets left empty).
  halconv::VariantSpec spec() const;
};

// The build's CPU variants, from the generated table (generators/manifest.json).
std::vector<VariantInfo> build_variants();

// A variant record (the manifest's form, e.g. KerasModel::specialized_records()) as variant `key`.
VariantInfo record_variant(const std::string& key, const std::string& record_json);

// The problem the variant runs for p, if it serves p (the runtime's own rules): p as run
// (problem_as_run), or for a variant that runs p as dilation phases, the first phase (the largest).
std::optional<halconv::Problem> served_problem(const VariantInfo& v, const halconv::Problem& p);

// The CPU this run measures on (/proc/cpuinfo's model name): the records name it, since the
// winners differ between machines of one ISA.
std::string host_cpu_name();

}  // namespace halconv::tune
