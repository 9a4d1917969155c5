// decide(): the one place that settles how a problem runs, and its text and JSON forms.
#include "halconv/decision.h"

#include <HalideRuntime.h>

#include <cstdlib>
#include <map>
#include <nlohmann/json.hpp>

#include "execution.h"
#include "halconv/version.h"

namespace halconv {

const char* error_kind_name(ErrorKind kind) {
  switch (kind) {
    case ErrorKind::invalid_config:
      return "invalid_config";
    case ErrorKind::invalid_input:
      return "invalid_input";
    case ErrorKind::unsupported:
      return "unsupported";
    case ErrorKind::device:
      return "device";
    case ErrorKind::internal:
      break;
  }
  return "internal";
}

const char* version() { return HALCONV_VERSION_STRING; }

namespace {

// Best first after auto; isa_rank orders the levels by this table.
constexpr std::pair<const char*, Isa> kIsaNames[] = {{"auto", Isa::automatic},
                                                     {"avx512_zen4", Isa::avx512_zen4},
                                                     {"avx512", Isa::avx512},
                                                     {"avx2", Isa::avx2},
                                                     {"sse41", Isa::sse41}};
constexpr int kIsaCount = sizeof(kIsaNames) / sizeof(kIsaNames[0]);

// The x86 features a CPU target string may name (HALCONV_CPU_TARGETS), as Halide's runtime numbers
// them; the other tokens name the architecture, OS and build, which every object here shares.
const std::map<std::string, halide_target_feature_t>& target_features() {
  static const std::map<std::string, halide_target_feature_t> features = {
      {"sse41", halide_target_feature_sse41},
      {"avx", halide_target_feature_avx},
      {"avx2", halide_target_feature_avx2},
      {"fma", halide_target_feature_fma},
      {"f16c", halide_target_feature_f16c},
      {"avx512", halide_target_feature_avx512},
      {"avx512_skylake", halide_target_feature_avx512_skylake},
      {"avx512_cannonlake", halide_target_feature_avx512_cannonlake},
      {"avx512_sapphirerapids", halide_target_feature_avx512_sapphirerapids},
      {"avx512_zen4", halide_target_feature_avx512_zen4}};
  return features;
}

// Halide's runtime tests avx512_zen4 only by CPU model (Zen 4 and Zen 5), so elsewhere it would
// pass on any AVX-512 Cannon Lake class CPU; the level's own instructions are tested here.
bool cpu_has_zen4_level() {
  static const bool has = [] {
    __builtin_cpu_init();
    return __builtin_cpu_supports("avx512bf16") && __builtin_cpu_supports("avx512vnni") &&
           __builtin_cpu_supports("avx512vbmi2") && __builtin_cpu_supports("avx512bitalg") &&
           __builtin_cpu_supports("avx512vpopcntdq") && __builtin_cpu_supports("avx512ifma") &&
           __builtin_cpu_supports("avx512vbmi");
  }();
  return has;
}

int isa_rank(const std::string& isa) {
  for (int i = 1; i < kIsaCount; i++) {
    if (isa == kIsaNames[i].first) return i;
  }
  return 0;
}

}  // namespace

Isa parse_isa(const std::string& name) {
  for (const auto& [text, isa] : kIsaNames) {
    if (name == text) return isa;
  }
  std::string names;
  for (const auto& entry : kIsaNames) names += std::string(names.empty() ? "" : ", ") + entry.first;
  throw Error(ErrorKind::invalid_config, "ISA '" + name + "' is not one of " + names);
}

std::string isa_name(Isa isa) {
  for (const auto& [text, value] : kIsaNames) {
    if (value == isa) return text;
  }
  return "auto";
}

Options Options::from_environment() {
  Options options;
  const auto value = [](const char* name) -> std::string {
    const char* text = std::getenv(name);
    return text == nullptr ? "" : text;
  };
  const auto count = [&](const char* name, int64_t minimum) -> int64_t {
    const std::string text = value(name);
    char* end = nullptr;
    const long long n = std::strtoll(text.c_str(), &end, 10);
    if (*end != '\0' || n < minimum) {
      throw Error(ErrorKind::invalid_config, std::string(name) + "='" + text +
                                                 "' is not a count of at least " +
                                                 std::to_string(minimum));
    }
    return n;
  };
  options.variant = value("HALCONV_VARIANT");
  if (!value("HALCONV_ISA").empty()) {
    try {
      options.isa = parse_isa(value("HALCONV_ISA"));
    } catch (const Error& e) {
      throw Error(e.kind(), std::string("HALCONV_ISA: ") + e.what());
    }
  }
  if (!value("HALCONV_THREADS").empty())
    options.threads = static_cast<int>(count("HALCONV_THREADS", 1));
  if (!value("HALCONV_STREAM_ROWS").empty()) options.stream_rows = count("HALCONV_STREAM_ROWS", 0);
  return options;
}

namespace detail {

// Halide's own test, the one its dispatch wrappers make.
bool cpu_runs(const std::string& target) {
  constexpr int kWords = (halide_target_feature_end + 63) / 64;
  uint64_t bits[kWords] = {};
  size_t start = 0;
  while (start <= target.size()) {
    size_t end = target.find('-', start);
    if (end == std::string::npos) end = target.size();
    const std::string token = target.substr(start, end - start);
    start = end + 1;
    const auto feature = target_features().find(token);
    if (token == "avx512_zen4" && !cpu_has_zen4_level()) return false;
    if (feature != target_features().end()) {
      bits[feature->second / 64] |= uint64_t{1} << (feature->second % 64);
    } else if (token != "x86" && token != "64" && token != "linux" && token != "no_runtime" &&
               token != "enable_llvm_loop_opt") {
      throw Error(ErrorKind::internal, "CPU target '" + target + "' names feature '" + token +
                                           "', which halconv cannot test the CPU for");
    }
  }
  return halide_default_can_use_target_features(kWords, bits) != 0;
}

std::pair<std::string, GeneratedConv2D> cpu_object(const Variant& v, Isa cap) {
  if (v.isa_objects == nullptr) return {"dispatch", v.function};
  const int cap_rank = cap == Isa::automatic ? 0 : isa_rank(isa_name(cap));
  for (const IsaObject* o = v.isa_objects; o->isa != nullptr; o++) {
    if (isa_rank(o->isa) >= cap_rank && cpu_runs(o->target)) return {o->isa, o->function};
  }
  throw Error(ErrorKind::unsupported, std::string(v.name) + " has no object this CPU runs at " +
                                          isa_name(cap) + " or below");
}

Execution decide_execution(const Problem& problem, Device device, const Options& options) {
  Execution e;
  Decision& d = e.decision;
  if (options.stream_rows < -1 || options.threads < 0) {
    throw Error(ErrorKind::invalid_config,
                "Options: stream_rows " + std::to_string(options.stream_rows) + " or threads " +
                    std::to_string(options.threads) + " is negative");
  }
  const Selection selection = select_variant(problem, device, options);
  d.problem = problem;
  d.device = selection.device;
  d.variant = selection.chosen;
  d.forced = selection.forced;
  d.declined = selection.declined;
  e.variant = &find_variant(selection.chosen);
  const Variant& v = *e.variant;
  const KernelWindow window = run_window(v, problem);
  d.window = window.problem;
  d.first_row_tap = window.first_row_tap;
  d.first_col_tap = window.first_col_tap;
  d.run = problem_as_run(v, window.problem);
  if (runs_by_phases(v, d.run)) e.phases = dilation_phases(d.run);
  d.dilation_phases = static_cast<int64_t>(e.phases.size());
  d.band_rows = streamed_band_rows(v, d.run, options.stream_rows);
  if (d.device == Device::cpu) {
    std::tie(d.isa, e.function) = cpu_object(v, options.isa);
  } else {
    d.isa = device_name(d.device);
    e.function = v.function;
  }
  std::tie(d.pack, d.blocks) = packed_layout(e.function, v.name, d.device,
                                             e.phases.empty() ? d.run : e.phases.front().problem);
  d.winograd = v.winograd;
  d.threads = options.threads;
  return e;
}

}  // namespace detail

Decision decide(const Problem& problem, Device device, const Options& options) {
  return detail::decide_execution(problem, device, options).decision;
}

std::string Decision::to_text() const {
  std::string text = "problem: " + problem.to_string() + "\ndevice: " + device_name(device) +
                     "\nchosen: " + variant + (forced ? " (forced)" : "");
  if (dilation_phases > 0) {
    text += " (as " + std::to_string(dilation_phases) + " undilated dilation phases)";
  }
  text += "\n";
  const bool taps_dropped =
      window.kernel_h != problem.kernel_h || window.kernel_w != problem.kernel_w;
  const bool stride_unused =
      window.stride_h != problem.stride_h || window.stride_w != problem.stride_w;
  if (taps_dropped || stride_unused) {
    text += "runs as: " + window.to_string() + " (" +
            (taps_dropped ? "the taps that read only padding dropped" : "") +
            (taps_dropped && stride_unused ? "; " : "") +
            (stride_unused ? "stride 1 on each axis with one output" : "") + ")\n";
  }
  if (run.in_w != window.in_w) {
    text += "pixel rows: each image plane as " + std::to_string(run.in_h) + " rows of " +
            std::to_string(run.in_w) + " pixels\n";
  }
  text += "object: " + isa + (threads > 0 ? ", " + std::to_string(threads) + " threads" : "") +
          "\nweights: " + std::to_string(blocks) + " blocks of " + std::to_string(pack) +
          " filters" + (winograd ? ", Winograd-transformed" : "") + "\n";
  if (band_rows > 0)
    text += "output: streamed in bands of " + std::to_string(band_rows) + " rows\n";
  for (const auto& [name, reason] : declined) {
    text += "declined: " + name + ": " + reason + "\n";
  }
  return text;
}

std::string Decision::to_json() const {
  nlohmann::ordered_json j;
  j["problem"] = problem.to_string();
  j["device"] = device_name(device);
  j["variant"] = variant;
  j["forced"] = forced;
  j["window"] = {{"problem", window.to_string()},
                 {"first_row_tap", first_row_tap},
                 {"first_col_tap", first_col_tap}};
  j["run"] = run.to_string();
  j["dilation_phases"] = dilation_phases;
  j["band_rows"] = band_rows;
  j["object"] = isa;
  j["threads"] = threads;
  j["weights"] = {{"pack", pack}, {"blocks", blocks}, {"winograd", winograd}};
  nlohmann::ordered_json declined_list = nlohmann::ordered_json::array();
  for (const auto& [name, reason] : declined) {
    declined_list.push_back({{"variant", name}, {"reason", reason}});
  }
  j["declined"] = declined_list;
  return j.dump(2);
}

}  // namespace halconv
