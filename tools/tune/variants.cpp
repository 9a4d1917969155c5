// The build's CPU variants as the tuner sees them: the table from variants.inc, the runtime's
// rules for which shapes each serves, and the host's CPU name.
#include "variants.h"

#include <fstream>
#include <nlohmann/json.hpp>

#include "register_tile.h"
#include "variant_rules.h"

namespace halconv::tune {

bool VariantInfo::tiles_rows() const {
  return halconv::generators::tiles_rows(layout == "nchw" && !nchw_by_channels,
                                         groups == "depthwise" || groups == "whole_groups", kernel);
}

halconv::VariantSpec VariantInfo::spec() const {
  halconv::VariantSpec s{};
  s.layout =
      layout == "nhwc" ? halconv::DataFormat::channels_last : halconv::DataFormat::channels_first;
  s.kernel = kernel;
  s.stride = stride;
  s.dilation = dilation;
  for (const auto& [mode_name, mode] : halconv::kGroupsModeNames) {
    if (groups == mode_name) s.groups = mode;
  }
  s.backend = halconv::Device::cpu;
  s.nchw_by_channels = nchw_by_channels;
  s.winograd = winograd;
  s.max_filters = max_filters;
  s.max_output_pixels = max_output_pixels;
  s.max_in_channels = max_in_channels;
  return s;
}

std::vector<VariantInfo> build_variants() {
  std::vector<halconv::VariantSpec> specs;
#define HALCONV_VARIANT(fn, isa_objects, ...) specs.push_back(halconv::VariantSpec __VA_ARGS__);
#include "variants.inc"
#undef HALCONV_VARIANT
  std::vector<VariantInfo> out;
  for (const halconv::VariantSpec& s : specs) {
    if (s.backend != halconv::Device::cpu) continue;
    std::string key = s.name;
    key = key.substr(7, key.size() - 7 - 4);  // strip conv2d_ and _cpu
    std::string groups;
    for (const auto& [mode_name, mode] : halconv::kGroupsModeNames) {
      if (s.groups == mode) groups = mode_name;
    }
    out.push_back({key, s.layout == halconv::DataFormat::channels_last ? "nhwc" : "nchw", groups,
                   s.kernel, s.stride, s.dilation, s.nchw_by_channels, s.winograd, s.max_filters,
                   s.max_output_pixels, s.max_in_channels});
  }
  return out;
}

VariantInfo record_variant(const std::string& key, const std::string& record_json) {
  const nlohmann::json r = nlohmann::json::parse(record_json);
  // "any" (a run-time value) is 0, as in VariantSpec.
  const auto number = [&](const char* field) {
    return r.contains(field) && r[field].is_number_integer() ? r[field].get<int>() : 0;
  };
  const nlohmann::json bounds = r.value("class", nlohmann::json::object());
  return {key,
          r.value("layout", "nhwc"),
          r.value("groups", "dense"),
          number("kernel"),
          number("stride"),
          number("dilation"),
          r.value("by_channels", false),
          r.value("algorithm", "direct") == "winograd",
          bounds.value("max_filters", 0),
          bounds.value("max_output_pixels", 0),
          bounds.value("max_in_channels", 0)};
}

std::optional<halconv::Problem> served_problem(const VariantInfo& v, const halconv::Problem& p) {
  if (halconv::detail::shape_decline_reason(v.spec(), p).empty()) {
    return halconv::detail::problem_as_run(v.spec(), p);
  }
  if (halconv::detail::runs_by_phases(v.spec(), p)) {
    return halconv::detail::dilation_phases(p).front().problem;
  }
  return std::nullopt;
}

std::string host_cpu_name() {
  // Virtual machines often report a bare "AMD EPYC" for several generations; the family and
  // model numbers tell them apart (25/1 Zen 3, 25/17 Zen 4, 26/x Zen 5).
  std::ifstream cpuinfo("/proc/cpuinfo");
  std::string name = "unknown", family, model;
  for (std::string line; std::getline(cpuinfo, line) && line != "";) {
    const size_t colon = line.find(':');
    if (colon == std::string::npos || colon + 2 > line.size()) continue;
    const std::string value = line.substr(colon + 2);
    if (line.rfind("model name", 0) == 0) name = value;
    if (line.rfind("cpu family", 0) == 0) family = value;
    if (line.rfind("model\t", 0) == 0) model = value;
  }
  return family.empty() ? name : name + " (family " + family + ", model " + model + ")";
}

}  // namespace halconv::tune
