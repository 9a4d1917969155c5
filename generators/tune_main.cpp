// halconv-tune: the autotuner. For each CPU variant of the build (variants.inc) it JIT-compiles
// the Conv2D generator with candidate schedule parameters (vectors_per_block, block_size,
// rows_per_task, reduction_chunk), times each on the suite's shapes that variant serves (its shape
// class), then times the default, the committed parameters and the three best against each other
// interleaved, and writes the winner to schedules/cpu.json, which the build reads. It reports the
// tuned-vs-default speedup per shape from that final head-to-head. Measurements are medians of
// repeated runs on this machine, at its core count, always alternating with the runs they are
// compared with (search: each candidate against the default), for the build's CPU object that
// this host runs (see tuning_target()). On an AVX-512 host it tunes the AVX-512
// object's own parameters instead (schedules/cpu-avx512.json), with the weight packing held at
// cpu.json's and the channel tile free to span several packed blocks (see that file's "about").
#include <CLI/CLI.hpp>
#include <algorithm>
#include <atomic>
#include <chrono>
#include <cmath>
#include <cstdlib>
#include <fstream>
#include <iostream>
#include <map>
#include <memory>
#include <nlohmann/json.hpp>
#include <optional>
#include <random>
#include <sstream>
#include <thread>

#include "Halide.h"
#include "aligned_floats.h"
#include "halconv/config.h"
#include "register_tile.h"
#include "streamed_band.h"
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
  int max_filters, max_output_pixels, max_in_channels;
  // Whether its tile's block is rows (register_tile.h), which the packing leaves free.
  bool tiles_rows() const {
    return halconv::generators::tiles_rows(layout == "nchw" && !nchw_by_channels,
                                           groups == "depthwise" || groups == "whole_groups",
                                           kernel);
  }
  // The runtime's description of this variant with these schedule parameters.
  halconv::VariantSpec spec(int vectors_per_block = 1, int block_size = 1,
                            int avx512_vectors_per_block = 0) const {
    halconv::VariantSpec s{};
    s.layout =
        layout == "nhwc" ? halconv::DataFormat::channels_last : halconv::DataFormat::channels_first;
    s.kernel = kernel;
    s.stride = stride;
    s.dilation = dilation;
    s.groups = groups == "dense"            ? halconv::GroupsMode::dense
               : groups == "depthwise"      ? halconv::GroupsMode::depthwise
               : groups == "narrow"         ? halconv::GroupsMode::narrow
               : groups == "block_diagonal" ? halconv::GroupsMode::block_diagonal
               : groups == "rotated"        ? halconv::GroupsMode::rotated
               : groups == "whole_groups"   ? halconv::GroupsMode::whole_groups
                                            : halconv::GroupsMode::grouped;
    s.backend = halconv::Device::cpu;
    s.vectors_per_block = vectors_per_block;
    s.block_size = block_size;
    s.nchw_by_channels = nchw_by_channels;
    s.winograd = winograd;
    s.max_filters = max_filters;
    s.max_output_pixels = max_output_pixels;
    s.avx512_vectors_per_block = avx512_vectors_per_block;
    s.max_in_channels = max_in_channels;
    return s;
  }
};

// The build's CPU variants, from the generated X-macro table.
std::vector<VariantInfo> build_variants() {
  std::vector<VariantInfo> out;
#define HALCONV_VARIANT(fn, layout, kernel, stride, dilation, groups, backend, vpb, block,  \
                        targets, by_channels, winograd, max_filters, max_output_pixels,     \
                        avx512_vpb, max_in_channels)                                        \
  if (std::string(#backend) == "CPU") {                                                     \
    std::string key = #fn;                                                                  \
    key = key.substr(7, key.size() - 7 - 4); /* strip conv2d_ and _cpu */                   \
    std::string l = #layout, g = #groups;                                                   \
    std::transform(l.begin(), l.end(), l.begin(), ::tolower);                               \
    std::transform(g.begin(), g.end(), g.begin(), ::tolower);                               \
    out.push_back({key, l, g, kernel, stride, dilation, by_channels, winograd, max_filters, \
                   max_output_pixels, max_in_channels});                                    \
  }
#include "variants.inc"
#undef HALCONV_VARIANT
  return out;
}

using halconv::bench::read_suite;
using halconv::bench::SuiteShape;

// The problem the variant runs for p, if it serves p (the runtime's own rules): p as run
// (problem_as_run), or for a variant that runs p as dilation phases, the first phase (the largest).
std::optional<halconv::Problem> served_problem(const VariantInfo& v, const halconv::Problem& p) {
  if (halconv::detail::shape_decline_reason(v.spec(), p).empty()) {
    return halconv::detail::problem_as_run(v.spec(), p);
  }
  if (halconv::detail::runs_by_phases(v.spec(), p)) {
    return halconv::detail::dilation_phases(p).front().problem;
  }
  return std::nullopt;
}

// The CPU this run measures on (/proc/cpuinfo's model name): the records name it, since the
// winners differ between machines of one ISA.
std::string host_cpu_name() {
  std::ifstream cpuinfo("/proc/cpuinfo");
  for (std::string line; std::getline(cpuinfo, line);) {
    if (line.rfind("model name", 0) == 0) return line.substr(line.find(':') + 2);
  }
  return "unknown";
}

// Halide 14 keeps GeneratorBase::build_pipeline() protected, and it is the one way to get a JIT
// pipeline from a registered generator after set_inputs(); a using-declaration exposes it.
struct PipelineAccess : Halide::Internal::GeneratorBase {
  using GeneratorBase::build_pipeline;
  static auto build() { return &PipelineAccess::build_pipeline; }
};

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

// A Halide task's nested parallel loops, run in the calling thread: what they amount to in the
// runtime's streamed calls, whose bands keep every thread busy.
int run_tasks_serially(Halide::JITUserContext* context,
                       int (*task)(Halide::JITUserContext*, int, uint8_t*), int min, int extent,
                       uint8_t* closure) {
  for (int i = min; i < min + extent; i++) {
    if (const int status = task(context, i, closure)) return status;
  }
  return 0;
}

// The threads Halide's runtime runs tasks on: HL_NUM_THREADS, else one per core.
int task_threads() {
  const char* forced = std::getenv("HL_NUM_THREADS");
  const int threads = forced && *forced ? std::atoi(forced) : 0;
  return threads > 0 ? threads : std::max(1u, std::thread::hardware_concurrency());
}

// The variant with these parameters, JIT-compiled for one problem, with its buffers, timed as the
// runtime runs it. A problem the runtime streams (halconv::detail::streamed_band_rows) runs as its
// bands of rows, as parallel tasks, each computed into a scratch band and copied out with
// non-temporal stores; measured 2026-12-04, timing such a problem whole picked a tile 1.8x slower
// as built. Each task thread then has its own compiled pipeline: a JIT pipeline's realize is not
// reentrant, and each band sets its own top padding.
// fixed_pack: the packing the candidate keeps (AVX-512 mode: the common file's; a wider channel
// tile spans several packed blocks, a row tile takes its own rows), else none: its own.
class CompiledCandidate {
 public:
  CompiledCandidate(const VariantInfo& v, const Candidate& cand,
                    const std::optional<Candidate>& fixed_pack, const halconv::Problem& p,
                    const Halide::Target& target);
  double run_ms();

 private:
  struct Instance {
    std::unique_ptr<Halide::Internal::GeneratorBase> generator;
    // stride_w, stride_h, dilation_w, dilation_h, pad_top, pad_left, groups, filters, activation:
    // Params, not constants: the AOT variants see run-time values, and constants would let the
    // JIT fold what they cannot (measured: up to 4x faster on few-channel shapes).
    std::vector<Halide::Param<int32_t>> scalars;
    Halide::Pipeline pipeline;
    // Streamed: the input it is compiled with, a view of one image that each band points at its
    // image (the generator takes whole images from 0), and the band's scratch.
    Halide::Buffer<float> image_view;
    halconv::detail::AlignedFloats band;
  };
  static constexpr int kPadTop = 4;  // its scalar's index
  Instance compile(const Halide::Internal::GeneratorParamsMap& params,
                   const Halide::Buffer<float>& input) const;
  void run_band(Instance& instance, int64_t index) const;

  Halide::Target target_;
  halconv::Problem problem_;
  int64_t band_rows_ = 0;  // 0: not streamed
  Halide::Buffer<float> input_, kernel_, bias_, output_;
  std::vector<Instance> instances_;  // one, or one per task thread when streamed
};

CompiledCandidate::CompiledCandidate(const VariantInfo& v, const Candidate& cand,
                                     const std::optional<Candidate>& fixed_pack,
                                     const halconv::Problem& p, const Halide::Target& target)
    : target_(target), problem_(p) {
  const int pack_vectors = fixed_pack ? fixed_pack->vectors_per_block : cand.vectors_per_block;
  const int avx512_vectors = cand.vectors_per_block != pack_vectors ? cand.vectors_per_block : 0;
  const int pack_block = fixed_pack && v.tiles_rows() ? fixed_pack->block_size : cand.block_size;
  const int avx512_block = cand.block_size != pack_block ? cand.block_size : 0;
  const Halide::Internal::GeneratorParamsMap params = {
      {"layout", v.layout},
      {"kernel_size", std::to_string(v.kernel)},
      {"stride", std::to_string(v.stride)},
      {"dilation", std::to_string(v.dilation)},
      {"groups_mode", v.groups},
      {"nchw_by_channels", v.nchw_by_channels ? "true" : "false"},
      {"algorithm", v.winograd ? "winograd" : "direct"},
      {"vectors_per_block", std::to_string(pack_vectors)},
      {"avx512_vectors_per_block", std::to_string(avx512_vectors)},
      {"block_size", std::to_string(pack_block)},
      {"avx512_block_size", std::to_string(avx512_block)},
      {"rows_per_task", std::to_string(cand.rows_per_task)},
      {"reduction_chunk", std::to_string(cand.reduction_chunk)},
      {"shared_staging", cand.shared_staging ? "true" : "false"},
      {"avx512_vector_lanes", std::to_string(cand.vector_lanes)},
      {"max_filters", std::to_string(v.max_filters)},
      {"linear_only", "true"}};
  const bool nhwc = v.layout == "nhwc";
  // The packed weight block and the padding to whole tiles: the runtime's rules (the
  // generator's filter_pack() and tile_filters() match them).
  const halconv::VariantSpec spec = v.spec(pack_vectors, pack_block, avx512_vectors);
  const int pack = static_cast<int>(halconv::detail::filter_tile(spec));
  const int padding = static_cast<int>(halconv::detail::filter_padding(spec));
  const int blocks = static_cast<int>((p.filters + padding - 1) / padding * (padding / pack));
  const int cin_g = static_cast<int>(p.in_c / p.groups);
  input_ = nhwc ? Halide::Buffer<float>(p.in_c, p.in_w, p.in_h, p.batch)
                : Halide::Buffer<float>(p.in_w, p.in_h, p.in_c, p.batch);
  // Winograd variants take transformed weights, a 4x4 kernel.
  const int kernel_w = v.winograd ? 4 : static_cast<int>(p.kernel_w);
  const int kernel_h = v.winograd ? 4 : static_cast<int>(p.kernel_h);
  kernel_ = Halide::Buffer<float>(pack, cin_g, kernel_w, kernel_h, blocks);
  bias_ = Halide::Buffer<float>(blocks * pack);
  output_ = nhwc ? Halide::Buffer<float>(p.filters, p.out_w, p.out_h, p.batch)
                 : Halide::Buffer<float>(p.out_w, p.out_h, p.filters, p.batch);
  std::mt19937 rng(1);
  std::uniform_real_distribution<float> uniform(-1, 1);
  for (auto* b : {&input_, &kernel_, &bias_}) {
    b->for_each_value([&](float& x) { x = uniform(rng); });
  }
  band_rows_ = halconv::detail::streamed_band_rows(spec, p);
  if (band_rows_ == 0) {
    instances_.push_back(compile(params, input_));
  } else {
    for (int i = 0; i < task_threads(); i++) {
      Halide::Buffer<float> image_view = input_.sliced(3, 0).embedded(3, 0);
      instances_.push_back(compile(params, image_view));
      Instance& instance = instances_.back();
      instance.image_view = image_view;
      instance.pipeline.jit_handlers().custom_do_par_for = run_tasks_serially;
      instance.band.resize(static_cast<size_t>(band_rows_ * p.out_w * p.filters));
    }
  }
  run_ms();  // warm-up
}

CompiledCandidate::Instance CompiledCandidate::compile(
    const Halide::Internal::GeneratorParamsMap& params, const Halide::Buffer<float>& input) const {
  const halconv::Problem& p = problem_;
  Instance instance;
  instance.scalars.resize(9);
  const int64_t values[9] = {p.stride_w,   p.stride_h, p.dilation_w,
                             p.dilation_h, p.pad_top,  p.pad_left,
                             p.groups,     p.filters,  0};
  for (int i = 0; i < 9; i++) instance.scalars[i].set(static_cast<int32_t>(values[i]));
  auto gen =
      Halide::Internal::GeneratorRegistry::create("conv2d", Halide::GeneratorContext(target_));
  gen->set_generator_param_values(params);
  const auto& s = instance.scalars;
  gen->set_inputs(input, kernel_, bias_, s[0], s[1], s[2], s[3], s[4], s[5], s[6], s[7], s[8]);
  instance.pipeline = (gen.get()->*PipelineAccess::build())();
  instance.pipeline.compile_jit(target_);
  instance.generator = std::move(gen);
  return instance;
}

// Band `index` of the streamed call, as Plan's streamed calls run it (one image's rows).
void CompiledCandidate::run_band(Instance& instance, int64_t index) const {
  const halconv::Problem& p = problem_;
  const auto [image, first_row, rows] = halconv::detail::band_span(p, band_rows_, index);
  const halconv::Problem band = halconv::detail::band_problem(p, first_row, rows);
  instance.scalars[kPadTop].set(static_cast<int32_t>(band.pad_top));
  instance.image_view.raw_buffer()->host =
      reinterpret_cast<uint8_t*>(input_.data() + image * p.in_c * p.in_h * p.in_w);
  const int w = static_cast<int>(p.out_w), h = static_cast<int>(rows);
  const int c = static_cast<int>(p.filters);
  float* scratch = instance.band.data();
  Halide::Buffer<float> out = p.data_format == halconv::DataFormat::channels_last
                                  ? Halide::Buffer<float>(scratch, c, w, h, 1)
                                  : Halide::Buffer<float>(scratch, w, h, c, 1);
  instance.pipeline.realize(out, target_);
  halconv::detail::stream_band_out(p, first_row, rows, scratch,
                                   output_.data() + image * p.filters * p.out_h * p.out_w);
}

double CompiledCandidate::run_ms() {
  const auto t0 = Clock::now();
  if (band_rows_ == 0) {
    instances_[0].pipeline.realize(output_, target_);
  } else {
    const int64_t bands = problem_.batch * halconv::detail::bands_per_image(problem_, band_rows_);
    std::atomic<int64_t> next_band{0};
    std::vector<std::exception_ptr> failures(instances_.size());
    auto work = [&](size_t thread) {
      try {
        for (int64_t band; (band = next_band++) < bands;) run_band(instances_[thread], band);
      } catch (...) {
        failures[thread] = std::current_exception();
      }
    };
    std::vector<std::thread> helpers;
    for (size_t t = 1; t < instances_.size(); t++) helpers.emplace_back(work, t);
    work(0);
    for (std::thread& helper : helpers) helper.join();
    for (const std::exception_ptr& failure : failures) {
      if (failure) std::rethrow_exception(failure);
    }
  }
  return std::chrono::duration<double, std::milli>(Clock::now() - t0).count();
}

double median(std::vector<double> ms) {
  std::sort(ms.begin(), ms.end());
  return ms[ms.size() / 2];
}

// Median ms of each compiled candidate, timed in rounds of one run each, for at least
// min_rounds rounds and min_seconds (at most 1,000 rounds): this VM's speed drifts by 20-50% over
// seconds, and interleaving makes a drift hit every candidate alike.
std::vector<double> median_ms_interleaved(const std::vector<CompiledCandidate*>& compiled,
                                          size_t min_rounds, double min_seconds) {
  std::vector<std::vector<double>> ms(compiled.size());
  const auto start = Clock::now();
  while (ms[0].size() < min_rounds ||
         std::chrono::duration<double>(Clock::now() - start).count() < min_seconds) {
    for (size_t i = 0; i < compiled.size(); i++) ms[i].push_back(compiled[i]->run_ms());
    if (ms[0].size() >= 1000) break;
  }
  std::vector<double> medians;
  for (const auto& m : ms) medians.push_back(median(m));
  return medians;
}

// The search's measure: the candidate's median time relative to the reference's (the default's),
// the two interleaved for at least 0.25 s.
double relative_time(CompiledCandidate& reference, const VariantInfo& v, const Candidate& cand,
                     const std::optional<Candidate>& fixed_pack, const halconv::Problem& p,
                     const Halide::Target& target) {
  CompiledCandidate compiled(v, cand, fixed_pack, p, target);
  const std::vector<double> ms = median_ms_interleaved({&compiled, &reference}, 7, 0.25);
  return ms[0] / ms[1];
}

// The final round's measure: every finalist's median ms, interleaved for at least 1.5 s.
std::vector<double> time_interleaved(const VariantInfo& v, const std::vector<Candidate>& cands,
                                     const std::optional<Candidate>& fixed_pack,
                                     const halconv::Problem& p, const Halide::Target& target) {
  std::vector<std::unique_ptr<CompiledCandidate>> owned;
  std::vector<CompiledCandidate*> compiled;
  for (const Candidate& cand : cands) {
    owned.push_back(std::make_unique<CompiledCandidate>(v, cand, fixed_pack, p, target));
    compiled.push_back(owned.back().get());
  }
  return median_ms_interleaved(compiled, 15, 1.5);
}

// The candidates for a variant. A channel-vector tile at the host's vector width is clamped to
// the register file (register_tile_columns, the generator's rule), so several block sizes can make
// the same code here; of those only the largest is timed (the widest ISA, with twice the
// registers, is the one where a larger block can differ).
// fixed_pack: the packing parameters the candidates keep (AVX-512 mode), else none.
// class_widths: the output widths of the variant's shape class.
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
  // AVX-512 grouped variants may also run 8-float vectors (the generator's avx512_vector_lanes):
  // block-diagonal ones then span fewer groups (fewer zero-weight multiplies), rotated ones hold
  // twice the columns in registers, whole-groups ones waste fewer lanes past a row's end.
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

}  // namespace

// The JIT target: the build's CPU object that Halide's dispatch runs on this host (the first of
// the build's CPU targets, best first, whose features the host has), so candidates compile as
// that object does (the host's own target may add features, e.g. avx512_sapphirerapids).
// HL_JIT_TARGET overrides.
Halide::Target tuning_target() {
  if (std::getenv("HL_JIT_TARGET")) return Halide::get_jit_target_from_environment();
  const Halide::Target host = Halide::get_host_target();
  std::stringstream targets(HALCONV_CPU_TARGETS);
  std::string name;
  while (std::getline(targets, name, ',')) {
    const Halide::Target candidate(name);
    bool host_has_all = true;
    for (int f = 0; f < Halide::Target::FeatureEnd; f++) {
      const auto feature = static_cast<Halide::Target::Feature>(f);
      host_has_all = host_has_all && (!candidate.has_feature(feature) || host.has_feature(feature));
    }
    if (host_has_all) return candidate.with_feature(Halide::Target::JIT);
  }
  return Halide::get_jit_target_from_environment();
}

int main(int argc, char** argv) {
  CLI::App app{"halconv-tune: autotune the CPU variants' schedule parameters"};
  const Halide::Target target = tuning_target();
  // The AVX-512 object has its own file (see the header comment).
  const bool avx512_mode = target.has_feature(Halide::Target::AVX512);
  std::string suite_path = "bench/anchors.txt", common_path = "schedules/cpu.json", only;
  std::string schedule_path = avx512_mode ? "schedules/cpu-avx512.json" : common_path;
  bool dry_run = false;
  app.add_option("--suite", suite_path, "shapes to tune on")->capture_default_str();
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
  bool force = false;
  app.add_flag("--force", force,
               "tune variants whose entry was kept by hand too (their record's \"override\" "
               "says why), replacing the entry and its reason");
  bool check = false;
  app.add_flag("--check", check,
               "search again without writing, and report whether the committed parameters are "
               "within noise (5%) of this run's winner; exit status 3 if not");
  CLI11_PARSE(app, argc, argv);
  try {
    const int host_vector = target.natural_vector_size<float>();
    const auto read_json = [](const std::string& path) {
      std::ifstream in(path);
      if (!in) throw std::runtime_error("cannot read " + path);
      return json::parse(in);
    };
    json schedules = read_json(schedule_path);
    const json common = avx512_mode ? read_json(common_path) : schedules;
    const json defaults = common["default"];
    const Candidate default_candidate{defaults["vectors_per_block"], defaults["block_size"],
                                      defaults["rows_per_task"], defaults["reduction_chunk"],
                                      defaults["shared_staging"]};
    const auto suite = read_suite(suite_path, halconv::DataFormat::channels_last);

    // Work list: each variant with its shape class, both layouts from the same suite.
    struct Job {
      VariantInfo v;
      std::vector<std::pair<std::string, halconv::Problem>> shapes;
      int64_t in_channels = 0;              // the most input channels per group among the shapes
      std::vector<int64_t> widths;          // the shapes' output widths
      Candidate defaults;                   // the default parameters, with the variant's fixed ones
      std::optional<Candidate> fixed_pack;  // AVX-512 mode: the packing the candidates keep
    };
    // A parameter's value in a schedule file's entry for the variant, else `fallback`.
    const auto entry_value = [](const json& file, const VariantInfo& v, const char* name,
                                auto fallback) {
      return file["variants"].value(v.key, json::object()).value(name, fallback);
    };
    const auto block_is_pack = [](const VariantInfo& v) {
      return v.layout == "nchw" && !v.nchw_by_channels;
    };
    std::vector<Job> jobs;
    size_t total_runs = 0;
    const std::vector<VariantInfo> table = build_variants();
    for (size_t index = 0; index < table.size(); index++) {
      const VariantInfo& v = table[index];
      if (!only.empty() && v.key.find(only) == std::string::npos) continue;
      // An entry kept by hand over the tuner's pick records why; a new pick would drop it.
      const json record =
          schedules.contains("tuned")
              ? schedules["tuned"].value("variants", json::object()).value(v.key, json::object())
              : json::object();
      if (record.contains("override") && !force) {
        std::printf("skipping %s, kept by hand (--force tunes it): %s\n", v.key.c_str(),
                    record["override"].get<std::string>().c_str());
        continue;
      }
      Job job{v, {}, 0, {}, default_candidate, std::nullopt};
      // A few-filters variant's tile is its bound.
      if (v.max_filters > 0) job.defaults.vectors_per_block = v.max_filters / 16;
      if (avx512_mode) {
        // The AVX-512 object packs as the others: the common file's packing, for the default too.
        job.defaults.vectors_per_block =
            entry_value(common, v, "vectors_per_block", job.defaults.vectors_per_block);
        if (block_is_pack(v)) {
          job.defaults.block_size = entry_value(common, v, "block_size", job.defaults.block_size);
        }
        job.fixed_pack = job.defaults;
      }
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
        for (size_t before = 0; before < index; before++) {
          taken = taken || served_problem(table[before], p).has_value();
        }
        const std::optional<halconv::Problem> served = served_problem(v, p);
        if (!taken && served) job.shapes.emplace_back(s.name, *served);
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
    constexpr double kNoise = 1.05;
    int reproduced = 0;
    size_t done = 0;
    const auto start = Clock::now();
    json report = json::object();
    for (const Job& job : jobs) {
      const Candidate& job_default = job.defaults;
      // What the build compiles now: the common entry, under the AVX-512 one in AVX-512 mode.
      const auto committed_value = [&](const char* name, auto fallback) {
        const auto in_common = entry_value(common, job.v, name, fallback);
        return avx512_mode ? entry_value(schedules, job.v, name, in_common) : in_common;
      };
      const Candidate committed{committed_value("vectors_per_block", job_default.vectors_per_block),
                                committed_value("block_size", job_default.block_size),
                                committed_value("rows_per_task", job_default.rows_per_task),
                                committed_value("reduction_chunk", job_default.reduction_chunk),
                                committed_value("shared_staging", job_default.shared_staging),
                                avx512_mode ? entry_value(schedules, job.v, "vector_lanes", 0) : 0};
      const int pack_vectors = job.fixed_pack ? job.fixed_pack->vectors_per_block : 0;
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
      std::vector<std::map<std::string, double>> final_ms(unique.size());
      for (const auto& [name, p] : job.shapes) {
        const std::vector<double> ms = time_interleaved(job.v, unique, job.fixed_pack, p, target);
        for (size_t i = 0; i < unique.size(); i++) final_ms[i][name] = ms[i];
      }
      // A candidate may not lose to the default on any shape of the class beyond noise (the 5%
      // that --check allows): the tuned schedule must be at least as fast everywhere, not just on
      // average. A 3% bound let the seed's 12 ms write-bound layer, whose final-round medians
      // move 4% between runs, veto a tile 18% faster on ResNet's strided 1x1 layer.
      size_t best = 0, committed_index = 0;
      std::vector<double> scores(unique.size());
      for (size_t i = 0; i < unique.size(); i++) {
        double log_sum = 0;
        bool no_regression = true;
        for (const auto& [name, t] : final_ms[i]) {
          log_sum += std::log(t / final_ms[0][name]);
          no_regression = no_regression && t <= kNoise * final_ms[0][name];
        }
        scores[i] = std::exp(log_sum / job.shapes.size());
        if (no_regression && scores[i] < scores[best]) best = i;
        if (unique[i].text() == committed.text()) committed_index = i;
        std::string per_shape;
        for (const auto& [name, t] : final_ms[i]) {
          per_shape += " " + name + " " + std::to_string(t).substr(0, 6);
        }
        std::printf("  %-18s final %-32s relative time %.3f%s; ms:%s\n", job.v.key.c_str(),
                    unique[i].text().c_str(), scores[i],
                    no_regression ? "" : "  (slower than the default on some shape)",
                    per_shape.c_str());
      }
      json shapes = json::object();
      for (const auto& [name, p] : job.shapes) {
        const double d = final_ms[0][name], t = final_ms[best][name];
        shapes[name] = {{"default_ms", d}, {"tuned_ms", t}, {"speedup", d / t}};
        std::printf("  %-18s %-20s default %8.3f ms  tuned %8.3f ms  speedup %.2fx\n",
                    job.v.key.c_str(), name.c_str(), d, t, d / t);
      }
      const Candidate& winner = unique[best];
      json entry = json::object();
      // AVX-512 mode: vectors_per_block is the object's own tile, where wider than the packing.
      if (!avx512_mode || winner.vectors_per_block != pack_vectors) {
        entry["vectors_per_block"] = winner.vectors_per_block;
      }
      if (!avx512_mode || !block_is_pack(job.v) || job.v.tiles_rows()) {
        entry["block_size"] = winner.block_size;
      }
      entry["rows_per_task"] = winner.rows_per_task;
      entry["reduction_chunk"] = winner.reduction_chunk;
      entry["shared_staging"] = winner.shared_staging;
      if (winner.vector_lanes > 0) entry["vector_lanes"] = winner.vector_lanes;
      schedules["variants"][job.v.key] = entry;
      report[job.v.key] = {{"winner", winner.text()},
                           {"suite", suite_path},
                           {"host", host_cpu_name()},
                           {"shapes", shapes}};
      if (check) {
        const bool same = scores[committed_index] <= kNoise * scores[best];
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
    json& tuned = schedules["tuned"];
    tuned["target"] = target.to_string();
    tuned["note"] =
        "tuned-vs-default medians from halconv-tune; host: the CPU a record was measured on "
        "(records without one: an Intel Xeon VM, 2026-11 and 2026-12)";
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
