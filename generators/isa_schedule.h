// Per-ISA schedule values: one GeneratorParam, isa_schedules, carries every ISA's own values of
// the schedule parameters, so that a multi-target build (one generator run, one set of
// GeneratorParams, an object per ISA) can give each object its own tile, band and staging. The
// build writes it from schedules/cpu-<isa>.json; the tuner from its candidate.
//
// Grammar: entries `<isa>.<parameter>.<value>` joined by commas (GeneratorParam values hold no
// `=`), e.g. `avx512.block_size.3,avx512.vector_lanes.8`. Booleans are 0 or 1.
#pragma once

#include <cstdlib>
#include <map>
#include <stdexcept>
#include <string>
#include <utility>

namespace halconv::generators {

// The ISAs with schedule data of their own, as the Halide target names their feature.
inline constexpr const char* kScheduleIsas[] = {"avx512"};

// The parameters an ISA may set. vectors_per_block is the ISA's register tile along channels (in
// packed blocks' vectors) or along width; the packing itself is common to every ISA.
inline constexpr const char* kIsaScheduleParams[] = {"vectors_per_block", "block_size",
                                                     "rows_per_task",     "reduction_chunk",
                                                     "shared_staging",    "vector_lanes"};

// One ISA's values, by parameter name.
using IsaValues = std::map<std::string, int>;

// Parses an isa_schedules value into each ISA's values; throws std::invalid_argument naming the
// entry that breaks the grammar or names an unknown ISA or parameter.
inline std::map<std::string, IsaValues> parse_isa_schedules(const std::string& text) {
  std::map<std::string, IsaValues> out;
  size_t start = 0;
  while (start < text.size()) {
    size_t end = text.find(',', start);
    if (end == std::string::npos) end = text.size();
    const std::string entry = text.substr(start, end - start);
    start = end + 1;
    const size_t a = entry.find('.');
    const size_t b = a == std::string::npos ? a : entry.find('.', a + 1);
    if (b == std::string::npos) {
      throw std::invalid_argument("isa_schedules entry '" + entry +
                                  "' is not <isa>.<parameter>.<value>");
    }
    const std::string isa = entry.substr(0, a), param = entry.substr(a + 1, b - a - 1),
                      value = entry.substr(b + 1);
    bool known_isa = false, known_param = false;
    for (const char* i : kScheduleIsas) known_isa = known_isa || isa == i;
    for (const char* p : kIsaScheduleParams) known_param = known_param || param == p;
    char* rest = nullptr;
    const long number = std::strtol(value.c_str(), &rest, 10);
    if (!known_isa || !known_param || value.empty() || *rest != '\0' || number < 0 ||
        number > 1024) {
      throw std::invalid_argument("isa_schedules entry '" + entry +
                                  "': unknown ISA or parameter, or a value outside 0-1024");
    }
    out[isa][param] = static_cast<int>(number);
  }
  return out;
}

}  // namespace halconv::generators
