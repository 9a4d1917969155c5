// halconv tune: the autotuner. For each CPU variant of the build (variants.inc) it JIT-compiles
// the Conv2D generator with candidate schedule parameters (vectors_per_block, block_size,
// rows_per_task, reduction_chunk), times each on the suite's shapes that variant serves (its shape
// class), then builds the default, the committed parameters and the three best as the build does
// (ahead of time, every activation, the product's target and runtime; built.h), times them
// against each other interleaved through halconv::Plan, and writes the winner to
// schedules/cpu.json, which the build reads. The JIT only ranks the search; what ships decides. It
// reports the tuned-vs-default speedup per shape from that final head-to-head. Measurements are
// medians of repeated runs on this machine, at its core count, always alternating with the runs
// they are compared with (search: each candidate against the default), for the build's CPU object
// that this host runs (see tuning_target()). On an AVX-512 host it tunes the AVX-512 object's own
// parameters instead (schedules/cpu-avx512.json), with the weight packing held at cpu.json's and
// the channel tile free to span several packed blocks (see that file's "about").

// With --model, it tunes instead the variants halconv_add_keras_model generates for a Keras model
// (KerasModel::specialized_records(), keys <name>_<i>) on the model's own layers, starting from
// the entries of the built-in variants they specialize, and writes one parameter set per variant,
// for every ISA object, to a schedule file of their own (halconv_add_keras_model's SCHEDULE).

// This file holds the command line, the work list and the loop; the pieces are beside it
// (variants, candidates, timing, built, decision, writer).
#include <CLI/CLI.hpp>
#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <fstream>
#include <iostream>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "built.h"
#include "candidates.h"
#include "decision.h"
#include "halconv/config.h"
#include "halconv/model.h"
#include "suite.h"
#include "timing.h"
#include "variants.h"
#include "writer.h"

using Clock = std::chrono::steady_clock;
using halconv::bench::read_suite;
using halconv::bench::SuiteShape;
using halconv::tune::build_candidates;
using halconv::tune::build_variants;
using halconv::tune::BuiltCandidate;
using halconv::tune::Candidate;
using halconv::tune::candidates_for;
using halconv::tune::CompiledCandidate;
using halconv::tune::decide;
using halconv::tune::Decision;
using halconv::tune::json;
using halconv::tune::relative_time;
using halconv::tune::report_record;
using halconv::tune::schedule_entry;
using halconv::tune::served_problem;
using halconv::tune::time_built;
using halconv::tune::tuning_target;
using halconv::tune::VariantInfo;
using halconv::tune::write_schedules;

int main(int argc, char** argv) {
  CLI::App app{"halconv tune: autotune the CPU variants' schedule parameters"};
  const Halide::Target target = tuning_target();
  // The AVX-512 object has its own file (see the header comment).
  bool avx512_mode = target.has_feature(Halide::Target::AVX512);
  std::string suite_path = "bench/anchors.txt", common_path = "schedules/cpu.json", only;
  std::string schedule_path = avx512_mode ? "schedules/cpu-avx512.json" : common_path;
  std::string model_path, model_name;
  bool dry_run = false;
  app.add_option("--suite", suite_path, "shapes to tune on")->capture_default_str();
  auto* model_opt = app.add_option(
      "--model", model_path,
      "tune the variants halconv_add_keras_model generates for this Keras model, on its layers");
  app.add_option("--name", model_name, "with --model: halconv_add_keras_model's NAME")
      ->needs(model_opt);
  app.add_option("--schedules", schedule_path,
                 "schedule file to update (default by this host's ISA: cpu-avx512.json on "
                 "AVX-512, else cpu.json)");
  app.add_option("--common", common_path,
                 "the common schedule file, whose packing an AVX-512 run keeps")
      ->capture_default_str();
  app.add_option("--only", only, "tune only variants whose key contains this");
  app.add_flag("--dry-run", dry_run, "report, but do not write the schedule file");
  std::vector<int> only_vectors;
  app.add_option("--vectors", only_vectors,
                 "search only these channel tile widths, in vectors (the default and the "
                 "committed parameters still compete in the final round)")
      ->delimiter(',');
  bool check = false;
  app.add_flag("--check", check,
               "search again without writing, and report whether the committed parameters are "
               "within noise (5%) of this run's winner; exit status 3 if not");
  CLI11_PARSE(app, argc, argv);
  if (!model_path.empty()) {
    if (model_name.empty()) {
      std::cerr << "halconv tune: --model needs --name (halconv_add_keras_model's NAME)\n";
      return 2;
    }
    // One parameter set per model variant serves every ISA object (halconv_add_conv2d reads one
    // file for a consumer's variant).
    avx512_mode = false;
    if (app.count("--schedules") == 0) schedule_path = model_name + ".schedule.json";
  }
  try {
    const int host_vector = target.natural_vector_size<float>();
    const auto read_json = [](const std::string& path) {
      std::ifstream in(path);
      if (!in) throw std::runtime_error("cannot read " + path);
      return json::parse(in);
    };
    json schedules;
    if (!model_path.empty()) {
      // A model's file starts as the common file's default with no entries.
      const std::ifstream exists(schedule_path);
      schedules = exists ? read_json(schedule_path) : json::object();
      if (!exists) {
        schedules["about"] = "halconv tune --model " + model_path + " --name " + model_name +
                             ": the schedule of halconv_add_keras_model(NAME " + model_name + ")";
        schedules["default"] = read_json(common_path)["default"];
        schedules["variants"] = json::object();
      }
    } else {
      schedules = read_json(schedule_path);
    }
    const json common = avx512_mode || !model_path.empty() ? read_json(common_path) : schedules;
    const json defaults = common["default"];
    const Candidate default_candidate{defaults["vectors_per_block"], defaults["block_size"],
                                      defaults["rows_per_task"], defaults["reduction_chunk"],
                                      defaults["shared_staging"]};
    // The shapes: the suite's in both layouts, or the model's convolutions as its layers call them.
    std::vector<std::pair<std::string, halconv::Problem>> caller_shapes;
    std::vector<VariantInfo> table;
    std::map<std::string, std::string> specializes;  // a model variant's key -> built-in key
    if (model_path.empty()) {
      table = build_variants();
      for (const SuiteShape& s : read_suite(suite_path, halconv::DataFormat::channels_last)) {
        for (const char* layout : {"nhwc", "nchw"}) {
          halconv::Conv2DConfig c = s.config;
          const bool nhwc = std::string(layout) == "nhwc";
          c.data_format =
              nhwc ? halconv::DataFormat::channels_last : halconv::DataFormat::channels_first;
          const halconv::Shape shape =
              nhwc ? s.input : halconv::Shape{s.input[0], s.input[3], s.input[1], s.input[2]};
          caller_shapes.emplace_back(s.name, halconv::make_problem(c, shape));
        }
      }
    } else {
      const halconv::KerasModel model = halconv::KerasModel::load(model_path);
      const std::vector<std::string> records = model.specialized_records();
      for (size_t i = 0; i < records.size(); i++) {
        table.push_back(
            halconv::tune::record_variant(model_name + "_" + std::to_string(i), records[i]));
        specializes[table.back().key] = json::parse(records[i])["specializes"];
      }
      for (const halconv::ModelLayer& layer : model.layers()) {
        const halconv::Shape shape = layer.input_shape_with_batch(1);
        if (shape.empty()) continue;
        const std::vector<halconv::Decision> steps = model.layer(layer.name)->decisions(shape);
        for (size_t step = 0; step < steps.size(); step++) {
          caller_shapes.emplace_back(
              layer.name + (steps.size() > 1 ? "#" + std::to_string(step) : ""),
              steps[step].problem);
        }
      }
      suite_path = model_path;
    }

    // Work list: each variant with its shape class, both layouts from the same suite.
    struct Job {
      VariantInfo v;
      std::vector<std::pair<std::string, halconv::Problem>> shapes;  // each as the variant runs it
      std::vector<halconv::Problem> callers;  // the same shapes as the caller gives them
      int64_t in_channels = 0;                // the most input channels per group among the shapes
      std::vector<int64_t> widths;            // the shapes' output widths
      Candidate defaults;                   // the default parameters, with the variant's fixed ones
      std::optional<Candidate> fixed_pack;  // AVX-512 mode: the packing the candidates keep
    };
    // A parameter's value in a schedule file's entry for the variant, else `fallback`.
    // A model variant without an entry of its own reads the built-in one it specializes.
    const auto entry_value = [&](const json& file, const VariantInfo& v, const char* name,
                                 auto fallback) {
      const auto from = specializes.find(v.key);
      const std::string key =
          from != specializes.end() && !file["variants"].contains(v.key) ? from->second : v.key;
      return file["variants"].value(key, json::object()).value(name, fallback);
    };
    std::vector<Job> jobs;
    size_t total_runs = 0;
    for (size_t index = 0; index < table.size(); index++) {
      const VariantInfo& v = table[index];
      if (!only.empty() && v.key.find(only) == std::string::npos) continue;
      Job job{v, {}, {}, 0, {}, default_candidate, std::nullopt};
      // A few-filters variant's tile is its bound.
      if (v.max_filters > 0) job.defaults.vectors_per_block = v.max_filters / 16;
      if (avx512_mode) {
        // The AVX-512 object packs as the others: the common file's packing, for the default too.
        job.defaults.vectors_per_block =
            entry_value(common, v, "vectors_per_block", job.defaults.vectors_per_block);
        if (v.block_is_pack()) {
          job.defaults.block_size = entry_value(common, v, "block_size", job.defaults.block_size);
        }
        job.fixed_pack = job.defaults;
      }
      for (const auto& [shape_name, p] : caller_shapes) {
        // A variant is tuned on its shape class: the shapes selection gives it, which no variant
        // ahead of it in the table (best first) serves.
        bool taken = false;
        for (size_t before = 0; before < index; before++) {
          taken = taken || served_problem(table[before], p).has_value();
        }
        const std::optional<halconv::Problem> served = served_problem(v, p);
        if (!taken && served) {
          job.shapes.emplace_back(shape_name, *served);
          job.callers.push_back(p);
        }
      }
      if (job.shapes.empty()) continue;
      for (const auto& shape : job.shapes) {
        job.in_channels = std::max(job.in_channels, shape.second.in_c / shape.second.groups);
        job.widths.push_back(shape.second.out_w);
      }
      total_runs +=
          (candidates_for(v, job.in_channels, host_vector, job.fixed_pack, only_vectors, job.widths)
               .size() +
           1) *
          job.shapes.size();
      jobs.push_back(job);
    }
    std::printf("tuning %zu variants, %zu candidate runs, on %s, for %s\n", jobs.size(), total_runs,
                target.to_string().c_str(), schedule_path.c_str());
    if (check) dry_run = true;
    int reproduced = 0;
    size_t done = 0;
    const auto start = Clock::now();
    json report = json::object();
    for (const Job& job : jobs) {
      const Candidate& job_default = job.defaults;
      // What the build compiles now: the common entry, under the AVX-512 one in AVX-512 mode.
      const auto committed_value = [&](const char* name, auto fallback) {
        const auto in_common = entry_value(common, job.v, name, fallback);
        if (!model_path.empty()) return entry_value(schedules, job.v, name, in_common);
        return avx512_mode ? entry_value(schedules, job.v, name, in_common) : in_common;
      };
      const Candidate committed{committed_value("vectors_per_block", job_default.vectors_per_block),
                                committed_value("block_size", job_default.block_size),
                                committed_value("rows_per_task", job_default.rows_per_task),
                                committed_value("reduction_chunk", job_default.reduction_chunk),
                                committed_value("shared_staging", job_default.shared_staging),
                                avx512_mode ? entry_value(schedules, job.v, "vector_lanes", 0) : 0};
      // Search: each candidate timed against the default, compiled once per shape.
      std::map<std::string, std::unique_ptr<CompiledCandidate>> default_compiled;
      for (const auto& [name, p] : job.shapes) {
        default_compiled[name] =
            std::make_unique<CompiledCandidate>(job.v, job_default, job.fixed_pack, p, target);
        done++;
      }
      std::vector<std::pair<double, Candidate>> ranked;  // geomean relative time, candidate
      for (const Candidate& cand : candidates_for(job.v, job.in_channels, host_vector,
                                                  job.fixed_pack, only_vectors, job.widths)) {
        double log_sum = 0;
        for (const auto& [name, p] : job.shapes) {
          log_sum += std::log(
              relative_time(*default_compiled[name], job.v, cand, job.fixed_pack, p, target));
          done++;
        }
        ranked.emplace_back(std::exp(log_sum / job.shapes.size()), cand);
        const double elapsed = std::chrono::duration<double>(Clock::now() - start).count();
        std::printf("[%4zu/%zu, eta %4.0fs] %-18s %-32s relative time %.3f\n", done, total_runs,
                    elapsed / done * (total_runs - done), job.v.key.c_str(), cand.text().c_str(),
                    ranked.back().first);
        std::fflush(stdout);
      }
      std::stable_sort(ranked.begin(), ranked.end(),
                       [](const auto& a, const auto& b) { return a.first < b.first; });

      // Final: the default, the committed parameters and the search's best three, timed
      // interleaved on every shape; this decides, and gives the report.
      std::vector<Candidate> finalists = {job_default, committed};
      for (size_t i = 0; i < ranked.size() && i < 3; i++) finalists.push_back(ranked[i].second);
      std::vector<Candidate> unique;
      for (const Candidate& c : finalists) {
        bool seen = false;
        for (const Candidate& u : unique) seen = seen || u.text() == c.text();
        if (!seen) unique.push_back(c);
      }
      // The finalists are timed as the build makes and runs them (built.h): the JIT ranks the
      // search, what ships decides.
      const std::vector<BuiltCandidate> built =
          build_candidates(job.v, unique, job.fixed_pack, target);
      std::vector<std::map<std::string, double>> final_ms(unique.size());
      for (size_t s = 0; s < job.shapes.size(); s++) {
        const std::vector<double> ms = time_built(built, job.callers[s]);
        for (size_t i = 0; i < unique.size(); i++) final_ms[i][job.shapes[s].first] = ms[i];
      }
      // The winner: the best of those no slower than the default on any shape beyond noise
      // (decide()); --check compares the committed finalist with it.
      size_t committed_index = 0;
      for (size_t i = 0; i < unique.size(); i++) {
        if (unique[i].text() == committed.text()) committed_index = i;
      }
      const Decision decision = decide(final_ms, job.shapes.size(), committed_index);
      const size_t best = decision.best;
      for (size_t i = 0; i < unique.size(); i++) {
        std::string per_shape;
        for (const auto& [name, t] : final_ms[i]) {
          per_shape += " " + name + " " + std::to_string(t).substr(0, 6);
        }
        std::printf("  %-18s final %-32s relative time %.3f%s; ms:%s\n", job.v.key.c_str(),
                    unique[i].text().c_str(), decision.scores[i],
                    decision.regresses[i] ? "  (slower than the default on some shape)" : "",
                    per_shape.c_str());
      }
      for (const auto& [name, p] : job.shapes) {
        const double d = final_ms[0][name], t = final_ms[best][name];
        std::printf("  %-18s %-20s default %8.3f ms  tuned %8.3f ms  speedup %.2fx\n",
                    job.v.key.c_str(), name.c_str(), d, t, d / t);
      }
      const Candidate& winner = unique[best];
      schedules["variants"][job.v.key] = schedule_entry(
          job.v, winner, avx512_mode, job.fixed_pack ? job.fixed_pack->vectors_per_block : 0);
      report[job.v.key] =
          report_record(winner, suite_path, job.shapes, final_ms[0], final_ms[best]);
      if (check) {
        const bool same = decision.committed_within_noise;
        reproduced += same;
        std::printf(
            "  %-18s committed %s: %s (this run's winner %s)\n", job.v.key.c_str(),
            committed.text().c_str(),
            same ? "reproduced within noise" : "slower than this run's winner by more than 5%",
            winner.text().c_str());
      }
    }
    if (check) {
      std::printf("committed choice reproduced within noise for %d of %zu variants\n", reproduced,
                  jobs.size());
      return reproduced == static_cast<int>(jobs.size()) ? 0 : 3;
    }
    // Merge: a run with --only keeps the other variants' earlier reports.
    write_schedules(schedules, report, target.to_string(), schedule_path, dry_run);
  } catch (const std::exception& e) {
    std::cerr << "halconv tune: error: " << e.what() << "\n";
    return 1;
  }
  return 0;
}
