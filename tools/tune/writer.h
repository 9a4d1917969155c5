// The schedule file's side: a winner's entry, a variant's report record, and merging the
// records into the file and writing it.
#pragma once

#include <map>
#include <nlohmann/json.hpp>
#include <string>
#include <utility>
#include <vector>

#include "candidates.h"
#include "halconv/config.h"
#include "variants.h"

namespace halconv::tune {

using json = nlohmann::ordered_json;

// The schedule file's entry for variant v from its winner. AVX-512 mode: vectors_per_block is the
// object's own tile, written where wider than the packing (pack_vectors), and block_size only
// where it is not the packing's (or is rows).
json schedule_entry(const VariantInfo& v, const Candidate& winner, bool avx512_mode,
                    int pack_vectors);

// The variant's record under the file's "tuned": the winner, the suite and host it was measured
// on, and each shape's final-round medians, the default's (default_ms) and the winner's (tuned_ms).
json report_record(const Candidate& winner, const std::string& suite_path,
                   const std::vector<std::pair<std::string, halconv::Problem>>& shapes,
                   const std::map<std::string, double>& default_ms,
                   const std::map<std::string, double>& tuned_ms);

// Merges this run's records (by variant key) into the file's "tuned", keeping the other variants'
// earlier ones (a run with --only), and writes the file to path unless dry_run.
void write_schedules(json& schedules, const json& report, const std::string& target_name,
                     const std::string& path, bool dry_run);

}  // namespace halconv::tune
