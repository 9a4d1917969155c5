// The timing: compiling and running a candidate as the runtime runs it, interleaved medians, and
// the JIT target.
#include "timing.h"

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdlib>
#include <exception>
#include <random>
#include <sstream>
#include <string>
#include <thread>

#include "execution.h"
#include "streamed_band.h"
#include "variant_rules.h"
#include "weight_packing.h"

namespace halconv::tune {

namespace {

using Clock = std::chrono::steady_clock;

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

double median(std::vector<double> ms) {
  std::sort(ms.begin(), ms.end());
  return ms[ms.size() / 2];
}

}  // namespace

std::vector<double> median_ms_interleaved(const std::vector<std::function<double()>>& runs,
                                          size_t min_rounds, double min_seconds) {
  std::vector<std::vector<double>> ms(runs.size());
  const auto start = Clock::now();
  while (ms[0].size() < min_rounds ||
         std::chrono::duration<double>(Clock::now() - start).count() < min_seconds) {
    for (size_t i = 0; i < runs.size(); i++) ms[i].push_back(runs[i]());
    if (ms[0].size() >= 1000) break;
  }
  std::vector<double> medians;
  for (const auto& m : ms) medians.push_back(median(m));
  return medians;
}

CandidateParams candidate_params(const VariantInfo& v, const Candidate& cand,
                                 const std::optional<Candidate>& fixed_pack) {
  const int pack_vectors = fixed_pack ? fixed_pack->vectors_per_block : cand.vectors_per_block;
  const int avx512_vectors = cand.vectors_per_block != pack_vectors ? cand.vectors_per_block : 0;
  const int pack_block = fixed_pack && v.tiles_rows() ? fixed_pack->block_size : cand.block_size;
  const int avx512_block = cand.block_size != pack_block ? cand.block_size : 0;
  // The AVX-512 object's own values where they differ from the packing (generators/isa_schedule.h).
  std::string isa;
  const auto add_isa = [&](const char* name, int value) {
    if (value == 0) return;
    isa += (isa.empty() ? "avx512." : ",avx512.") + std::string(name) + "." + std::to_string(value);
  };
  add_isa("vectors_per_block", avx512_vectors);
  add_isa("block_size", avx512_block);
  add_isa("vector_lanes", cand.vector_lanes);
  CandidateParams params;
  params.generator = {{"layout", v.layout},
                      {"kernel_size", std::to_string(v.kernel)},
                      {"stride", std::to_string(v.stride)},
                      {"dilation", std::to_string(v.dilation)},
                      {"groups_mode", v.groups},
                      {"nchw_by_channels", v.nchw_by_channels ? "true" : "false"},
                      {"algorithm", v.winograd ? "winograd" : "direct"},
                      {"vectors_per_block", std::to_string(pack_vectors)},
                      {"block_size", std::to_string(pack_block)},
                      {"rows_per_task", std::to_string(cand.rows_per_task)},
                      {"reduction_chunk", std::to_string(cand.reduction_chunk)},
                      {"shared_staging", cand.shared_staging ? "true" : "false"},
                      {"max_filters", std::to_string(v.max_filters)}};
  if (!isa.empty()) params.generator["isa_schedules"] = isa;
  // The packed weight block and the padding to whole tiles follow from these (the runtime's
  // rules, generators/weight_packing.h).
  params.spec = v.spec();
  const bool channel_vectors = v.layout == "nhwc" || v.nchw_by_channels;
  params.pack =
      halconv::packing::filters_per_block(false, channel_vectors, pack_vectors, pack_block);
  params.padding = halconv::packing::filter_padding(false, channel_vectors, pack_vectors,
                                                    pack_block, avx512_vectors);
  return params;
}

CompiledCandidate::CompiledCandidate(const VariantInfo& v, const Candidate& cand,
                                     const std::optional<Candidate>& fixed_pack,
                                     const halconv::Problem& p, const Halide::Target& target)
    : target_(target), problem_(p) {
  CandidateParams params = candidate_params(v, cand, fixed_pack);
  params.generator["linear_only"] = "true";  // one activation compiles faster
  const bool nhwc = v.layout == "nhwc";
  const halconv::VariantSpec& spec = params.spec;
  const int pack = static_cast<int>(params.pack);
  const int padding = static_cast<int>(params.padding);
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
    instances_.push_back(compile(params.generator, input_));
  } else {
    for (int i = 0; i < task_threads(); i++) {
      Halide::Buffer<float> image_view = input_.sliced(3, 0).embedded(3, 0);
      instances_.push_back(compile(params.generator, image_view));
      Instance& instance = instances_.back();
      instance.image_view = image_view;
      instance.pipeline.jit_handlers().custom_do_par_for = run_tasks_serially;
      instance.band.resize(static_cast<size_t>(band_rows_ * p.out_w * p.filters));
    }
  }
  run_ms();  // warm-up
}

CompiledCandidate::Instance CompiledCandidate::compile(const Halide::GeneratorParamsMap& params,
                                                       const Halide::Buffer<float>& input) const {
  const halconv::Problem& p = problem_;
  Instance instance;
  instance.scalars.resize(9);
  const int64_t values[9] = {p.stride_w,   p.stride_h, p.dilation_w,
                             p.dilation_h, p.pad_top,  p.pad_left,
                             p.groups,     p.filters,  0};
  for (int i = 0; i < 9; i++) instance.scalars[i].set(static_cast<int32_t>(values[i]));
  auto gen =
      Halide::Internal::GeneratorRegistry::create("conv2d", Halide::GeneratorContext(target_));
  for (const auto& [name, value] : params) gen->set_generatorparam_value(name, value);
  // Inputs bound to JIT buffers and Params: GeneratorBase's typed binding (every registered
  // generator is one).
  auto& base = dynamic_cast<Halide::Internal::GeneratorBase&>(*gen);
  const auto& s = instance.scalars;
  base.set_inputs(input, kernel_, bias_, s[0], s[1], s[2], s[3], s[4], s[5], s[6], s[7], s[8]);
  instance.pipeline = gen->build_pipeline();
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

double relative_time(CompiledCandidate& reference, const VariantInfo& v, const Candidate& cand,
                     const std::optional<Candidate>& fixed_pack, const halconv::Problem& p,
                     const Halide::Target& target) {
  CompiledCandidate compiled(v, cand, fixed_pack, p, target);
  const std::vector<double> ms = median_ms_interleaved(
      {[&] { return compiled.run_ms(); }, [&] { return reference.run_ms(); }}, 7, 0.25);
  return ms[0] / ms[1];
}

Halide::Target tuning_target() {
  if (std::getenv("HL_JIT_TARGET")) return Halide::get_jit_target_from_environment();
  // The runtime's own choice among the build's targets, so the JIT compiles what ships (a feature
  // comparison with the host target would reject enable_llvm_loop_opt, which no CPU reports).
  std::stringstream targets(HALCONV_CPU_TARGETS);
  std::string name;
  while (std::getline(targets, name, ',')) {
    if (halconv::detail::cpu_runs(name))
      return Halide::Target(name).with_feature(Halide::Target::JIT);
  }
  return Halide::get_jit_target_from_environment();
}

}  // namespace halconv::tune
