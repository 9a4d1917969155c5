// halconv-tune: the autotuner. For each CPU variant of the build (variants.inc) it JIT-compiles
// the Conv2D generator with candidate schedule parameters (vectors_per_block, block_size,
// rows_per_task), times each on the suite's shapes that variant serves (its shape class), and
// writes the winners to schedules/cpu.json, which the build reads. It reports the tuned-vs-default
// speedup per shape. Measurements are medians of repeated runs on this machine, at its core count.
#include <CLI/CLI.hpp>
#include <algorithm>
#include <chrono>
#include <cmath>
#include <fstream>
#include <iostream>
#include <map>
#include <nlohmann/json.hpp>
#include <random>
#include <sstream>

#include "Halide.h"
#include "halconv/config.h"
#include "suite.h"
#include "variant_rules.h"

namespace {

using Clock = std::chrono::steady_clock;
using json = nlohmann::ordered_json;

struct VariantInfo {
  std::string key;  // e.g. nhwc_k3x3_s1_d1
  std::string layout, groups;
  int kernel, stride, dilation;
  bool nchw_by_channels, winograd;
  // The runtime's description of this variant with these schedule parameters.
  halconv::VariantSpec spec(int vectors_per_block = 1, int block_size = 1) const {
    halconv::VariantSpec s{};
    s.layout =
        layout == "nhwc" ? halconv::DataFormat::channels_last : halconv::DataFormat::channels_first;
    s.kernel = kernel;
    s.stride = stride;
    s.dilation = dilation;
    s.groups = groups == "dense"       ? halconv::GroupsMode::dense
               : groups == "depthwise" ? halconv::GroupsMode::depthwise
               : groups == "narrow"    ? halconv::GroupsMode::narrow
                                       : halconv::GroupsMode::grouped;
    s.backend = halconv::Device::cpu;
    s.vectors_per_block = vectors_per_block;
    s.block_size = block_size;
    s.nchw_by_channels = nchw_by_channels;
    s.winograd = winograd;
    return s;
  }
};

// The build's CPU variants, from the generated X-macro table.
std::vector<VariantInfo> build_variants() {
  std::vector<VariantInfo> out;
#define HALCONV_VARIANT(fn, layout, kernel, stride, dilation, groups, backend, vpb, block, \
                        targets, by_channels, winograd)                                    \
  if (std::string(#backend) == "CPU") {                                                    \
    std::string key = #fn;                                                                 \
    key = key.substr(7, key.size() - 7 - 4); /* strip conv2d_ and _cpu */                  \
    std::string l = #layout, g = #groups;                                                  \
    std::transform(l.begin(), l.end(), l.begin(), ::tolower);                              \
    std::transform(g.begin(), g.end(), g.begin(), ::tolower);                              \
    out.push_back({key, l, g, kernel, stride, dilation, by_channels, winograd});           \
  }
#include "variants.inc"
#undef HALCONV_VARIANT
  return out;
}

using halconv::bench::read_suite;
using halconv::bench::SuiteShape;

// Does the variant serve this problem? The runtime's own rule.
bool serves(const VariantInfo& v, const halconv::Problem& p) {
  return halconv::detail::shape_decline_reason(v.spec(), p).empty();
}

// Halide 14 keeps GeneratorBase::build_pipeline() protected, and it is the one way to get a JIT
// pipeline from a registered generator after set_inputs(); a using-declaration exposes it.
struct PipelineAccess : Halide::Internal::GeneratorBase {
  using GeneratorBase::build_pipeline;
  static auto build() { return &PipelineAccess::build_pipeline; }
};

struct Candidate {
  int vectors_per_block, block_size, rows_per_task;
  std::string text() const {
    return "vpb=" + std::to_string(vectors_per_block) + " block=" + std::to_string(block_size) +
           " rows=" + std::to_string(rows_per_task);
  }
};

// Median ms of the variant with these parameters on one problem (JIT, this machine).
double time_candidate(const VariantInfo& v, const Candidate& cand, const halconv::Problem& p,
                      const Halide::Target& target) {
  Halide::GeneratorContext context(target);
  auto gen = Halide::Internal::GeneratorRegistry::create("conv2d", context);
  gen->set_generator_param_values({{"layout", v.layout},
                                   {"kernel_size", std::to_string(v.kernel)},
                                   {"stride", std::to_string(v.stride)},
                                   {"dilation", std::to_string(v.dilation)},
                                   {"groups_mode", v.groups},
                                   {"nchw_by_channels", v.nchw_by_channels ? "true" : "false"},
                                   {"algorithm", v.winograd ? "winograd" : "direct"},
                                   {"vectors_per_block", std::to_string(cand.vectors_per_block)},
                                   {"block_size", std::to_string(cand.block_size)},
                                   {"rows_per_task", std::to_string(cand.rows_per_task)},
                                   {"linear_only", "true"}});
  const bool nhwc = v.layout == "nhwc";
  // The packed weight block: the runtime's rule (the generator's filter_pack() matches it).
  const int pack = static_cast<int>(
      halconv::detail::filter_tile(v.spec(cand.vectors_per_block, cand.block_size)));
  const int blocks = static_cast<int>((p.filters + pack - 1) / pack);
  const int cin_g = static_cast<int>(p.in_c / p.groups);
  Halide::Buffer<float> input = nhwc ? Halide::Buffer<float>(p.in_c, p.in_w, p.in_h, p.batch)
                                     : Halide::Buffer<float>(p.in_w, p.in_h, p.in_c, p.batch);
  // Winograd variants take transformed weights, a 4x4 kernel.
  const int kernel_w = v.winograd ? 4 : static_cast<int>(p.kernel_w);
  const int kernel_h = v.winograd ? 4 : static_cast<int>(p.kernel_h);
  Halide::Buffer<float> kernel(pack, cin_g, kernel_w, kernel_h, blocks);
  Halide::Buffer<float> bias(blocks * pack);
  Halide::Buffer<float> output = nhwc ? Halide::Buffer<float>(p.filters, p.out_w, p.out_h, p.batch)
                                      : Halide::Buffer<float>(p.out_w, p.out_h, p.filters, p.batch);
  std::mt19937 rng(1);
  std::uniform_real_distribution<float> uniform(-1, 1);
  for (auto* b : {&input, &kernel, &bias}) b->for_each_value([&](float& x) { x = uniform(rng); });
  // Scalars as Params, not constants: the AOT variants see run-time values, and constants would
  // let the JIT fold what they cannot (measured: up to 4x faster on few-channel shapes).
  std::vector<Halide::Param<int32_t>> scalars(9);
  const int64_t values[9] = {p.stride_w,   p.stride_h, p.dilation_w,
                             p.dilation_h, p.pad_top,  p.pad_left,
                             p.groups,     p.filters,  0};
  for (int i = 0; i < 9; i++) scalars[i].set(static_cast<int32_t>(values[i]));
  gen->set_inputs(input, kernel, bias, scalars[0], scalars[1], scalars[2], scalars[3], scalars[4],
                  scalars[5], scalars[6], scalars[7], scalars[8]);
  Halide::Pipeline pipeline = (gen.get()->*PipelineAccess::build())();
  pipeline.compile_jit(target);
  pipeline.realize(output, target);  // warm-up
  std::vector<double> ms;
  const auto start = Clock::now();
  while (ms.size() < 7 || std::chrono::duration<double>(Clock::now() - start).count() < 0.25) {
    const auto t0 = Clock::now();
    pipeline.realize(output, target);
    ms.push_back(std::chrono::duration<double, std::milli>(Clock::now() - t0).count());
    if (ms.size() >= 500) break;
  }
  std::sort(ms.begin(), ms.end());
  return ms[ms.size() / 2];
}

std::vector<Candidate> candidates_for(const VariantInfo& v) {
  std::vector<Candidate> out;
  const bool by_channels = v.layout == "nhwc" || v.nchw_by_channels;
  const std::vector<int> vpbs = by_channels ? std::vector<int>{1, 2, 3} : std::vector<int>{1, 2};
  const std::vector<int> blocks =
      by_channels ? std::vector<int>{3, 6, 8, 12} : std::vector<int>{2, 4, 6};
  for (int vpb : vpbs)
    for (int b : blocks)
      for (int rows : {2, 8}) out.push_back({vpb, b, rows});
  return out;
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"halconv-tune: autotune the CPU variants' schedule parameters"};
  std::string suite_path = "bench/anchors.txt", schedule_path = "schedules/cpu.json", only;
  bool dry_run = false;
  app.add_option("--suite", suite_path, "shapes to tune on")->capture_default_str();
  app.add_option("--schedules", schedule_path, "schedule file to update")->capture_default_str();
  app.add_option("--only", only, "tune only variants whose key contains this");
  app.add_flag("--dry-run", dry_run, "report, but do not write the schedule file");
  bool check = false;
  app.add_flag("--check", check,
               "search again without writing, and report whether the committed parameters are "
               "within noise (5%) of this run's winner; exit status 3 if not");
  CLI11_PARSE(app, argc, argv);
  try {
    const Halide::Target target = Halide::get_jit_target_from_environment();
    std::ifstream schedule_in(schedule_path);
    json schedules = json::parse(schedule_in);
    const json defaults = schedules["default"];
    const Candidate default_candidate{defaults["vectors_per_block"], defaults["block_size"],
                                      defaults["rows_per_task"]};
    const auto suite = read_suite(suite_path, halconv::DataFormat::channels_last);

    // Work list: each variant with its shape class, both layouts from the same suite.
    struct Job {
      VariantInfo v;
      std::vector<std::pair<std::string, halconv::Problem>> shapes;
    };
    std::vector<Job> jobs;
    size_t total_runs = 0;
    const std::vector<VariantInfo> table = build_variants();
    for (size_t index = 0; index < table.size(); index++) {
      const VariantInfo& v = table[index];
      if (!only.empty() && v.key.find(only) == std::string::npos) continue;
      Job job{v, {}};
      for (const SuiteShape& s : suite) {
        halconv::Conv2DConfig c = s.config;
        c.data_format = v.layout == "nhwc" ? halconv::DataFormat::channels_last
                                           : halconv::DataFormat::channels_first;
        const halconv::Shape shape =
            v.layout == "nhwc" ? s.input
                               : halconv::Shape{s.input[0], s.input[3], s.input[1], s.input[2]};
        const halconv::Problem p = halconv::make_problem(c, shape);
        // A variant is tuned on its shape class: the shapes selection gives it, which no variant
        // ahead of it in the table (best first) serves.
        bool taken = false;
        for (size_t before = 0; before < index; before++) taken = taken || serves(table[before], p);
        if (!taken && serves(v, p)) job.shapes.emplace_back(s.name, p);
      }
      if (job.shapes.empty()) continue;
      total_runs += (candidates_for(v).size() + 1) * job.shapes.size();
      jobs.push_back(job);
    }
    std::printf("tuning %zu variants, %zu candidate runs, on %s\n", jobs.size(), total_runs,
                target.to_string().c_str());
    if (check) dry_run = true;
    constexpr double kNoise = 1.05;
    int reproduced = 0;
    size_t done = 0;
    const auto start = Clock::now();
    json report = json::object();
    for (const Job& job : jobs) {
      std::map<std::string, double> default_ms;
      for (const auto& [name, p] : job.shapes) {
        default_ms[name] = time_candidate(job.v, default_candidate, p, target);
        done++;
      }
      Candidate best = default_candidate;
      double best_score = 1.0;  // geomean of time relative to the default
      std::map<std::string, double> best_ms = default_ms;
      std::map<std::string, double> scores = {{default_candidate.text(), 1.0}};
      for (const Candidate& cand : candidates_for(job.v)) {
        double log_sum = 0;
        std::map<std::string, double> ms;
        for (const auto& [name, p] : job.shapes) {
          ms[name] = time_candidate(job.v, cand, p, target);
          log_sum += std::log(ms[name] / default_ms[name]);
          done++;
        }
        const double score = std::exp(log_sum / job.shapes.size());
        scores[cand.text()] = score;
        // A candidate may not lose to the default on any shape of the class (beyond 3% noise):
        // the tuned schedule must be at least as fast everywhere, not just on average.
        bool no_regression = true;
        for (const auto& [name, t] : ms)
          no_regression = no_regression && t <= 1.03 * default_ms[name];
        const bool better = no_regression && score < best_score;
        const double elapsed = std::chrono::duration<double>(Clock::now() - start).count();
        std::printf("[%4zu/%zu, eta %4.0fs] %-18s %-24s relative time %.3f%s\n", done, total_runs,
                    elapsed / done * (total_runs - done), job.v.key.c_str(), cand.text().c_str(),
                    score,
                    better          ? "  (best so far)"
                    : no_regression ? ""
                                    : "  (slower on some shape)");
        std::fflush(stdout);
        if (better) {
          best_score = score;
          best = cand;
          best_ms = ms;
        }
      }
      json shapes = json::object();
      for (const auto& [name, p] : job.shapes) {
        shapes[name] = {{"default_ms", default_ms[name]},
                        {"tuned_ms", best_ms[name]},
                        {"speedup", default_ms[name] / best_ms[name]}};
        std::printf("  %-18s %-20s default %8.3f ms  tuned %8.3f ms  speedup %.2fx\n",
                    job.v.key.c_str(), name.c_str(), default_ms[name], best_ms[name],
                    default_ms[name] / best_ms[name]);
      }
      schedules["variants"][job.v.key] = {{"vectors_per_block", best.vectors_per_block},
                                          {"block_size", best.block_size},
                                          {"rows_per_task", best.rows_per_task}};
      report[job.v.key] = {{"winner", best.text()}, {"shapes", shapes}};
      if (check) {
        const json committed_json = schedules["tuned"]["variants"].value(job.v.key, json::object());
        const std::string committed = committed_json.value("winner", std::string("(none)"));
        const auto found = scores.find(committed);
        const bool same = found != scores.end() && found->second <= kNoise * best_score;
        reproduced += same;
        std::printf("  %-18s committed %s: %s (this run's winner %s)\n", job.v.key.c_str(),
                    committed.c_str(),
                    found == scores.end() ? "not among the candidates"
                    : same                ? "reproduced within noise"
                                          : "slower than this run's winner by more than 5%",
                    best.text().c_str());
      }
    }
    if (check) {
      std::printf("committed choice reproduced within noise for %d of %zu variants\n", reproduced,
                  jobs.size());
      return reproduced == static_cast<int>(jobs.size()) ? 0 : 3;
    }
    // Merge: a run with --only keeps the other variants' earlier reports.
    json& tuned = schedules["tuned"];
    tuned["target"] = target.to_string();
    tuned["suite"] = suite_path;
    tuned["note"] = "tuned-vs-default medians from halconv-tune on this machine";
    for (const auto& [key, value] : report.items()) tuned["variants"][key] = value;
    if (!dry_run) {
      std::ofstream(schedule_path) << schedules.dump(2) << "\n";
      std::printf("wrote %s\n", schedule_path.c_str());
    }
  } catch (const std::exception& e) {
    std::cerr << "halconv-tune: error: " << e.what() << "\n";
    return 1;
  }
  return 0;
}
