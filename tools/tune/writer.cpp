// The schedule file's side: the winner's entry, the per-variant report record, and the merge
// and write.
#include "writer.h"

#include <cstdio>
#include <fstream>

namespace halconv::tune {

json schedule_entry(const VariantInfo& v, const Candidate& winner, bool avx512_mode,
                    int pack_vectors) {
  json entry = json::object();
  // AVX-512 mode: vectors_per_block is the object's own tile, where wider than the packing.
  if (!avx512_mode || winner.vectors_per_block != pack_vectors) {
    entry["vectors_per_block"] = winner.vectors_per_block;
  }
  if (!avx512_mode || !v.block_is_pack() || v.tiles_rows()) {
    entry["block_size"] = winner.block_size;
  }
  entry["rows_per_task"] = winner.rows_per_task;
  entry["reduction_chunk"] = winner.reduction_chunk;
  entry["shared_staging"] = winner.shared_staging;
  if (winner.vector_lanes > 0) entry["vector_lanes"] = winner.vector_lanes;
  return entry;
}

json report_record(const Candidate& winner, const std::string& suite_path,
                   const std::vector<std::pair<std::string, halconv::Problem>>& shapes,
                   const std::map<std::string, double>& default_ms,
                   const std::map<std::string, double>& tuned_ms) {
  json by_shape = json::object();
  for (const auto& [name, p] : shapes) {
    const double d = default_ms.at(name), t = tuned_ms.at(name);
    by_shape[name] = {{"default_ms", d}, {"tuned_ms", t}, {"speedup", d / t}};
  }
  return {{"winner", winner.text()},
          {"suite", suite_path},
          {"host", host_cpu_name()},
          {"shapes", by_shape}};
}

void write_schedules(json& schedules, const json& report, const std::string& target_name,
                     const std::string& path, bool dry_run) {
  json& tuned = schedules["tuned"];
  tuned["target"] = target_name;
  tuned["note"] =
      "tuned-vs-default medians from halconv tune; host: the CPU a record was measured on "
      "(records without one: an Intel Xeon VM, 2026-11 and 2026-12)";
  for (const auto& [key, value] : report.items()) tuned["variants"][key] = value;
  if (!dry_run) {
    std::ofstream(path) << schedules.dump(2) << "\n";
    std::printf("wrote %s\n", path.c_str());
  }
}

}  // namespace halconv::tune
