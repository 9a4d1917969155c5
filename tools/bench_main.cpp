// halconv_bench (also `halconv bench`): times halconv on a shape suite (bench/*.txt) at 1 and 2
// threads, side by side with oneDNN on the same problem in the same user layout, and reports
// median/min ms, GFLOP/s, % of the machine's FMA peak (measured here) and oneDNN/halconv.
//
// Rigour: the contenders of a shape (halconv, oneDNN's fastest algorithm and, for channels_first,
// halconv on the same problem in channels_last) are timed in alternating rounds, so that the
// machine's speed drift (20-50% over seconds on shared VMs) hits all of them alike; each round
// runs each contender twice back to back and times the second call (its own data warm in cache,
// as in repeated inference). Rounds repeat until both 15 rounds and 0.3 s per contender are done;
// medians are the figures. oneDNN gets plain NHWC/NCHW tensors in and out: it picks its own
// layouts (format "any") and the per-call reorders of input and output are inside its timing; the
// weights' one-time reorder is not. It runs direct, Winograd and auto; the fastest of a first
// timing goes into the rounds.
#include <immintrin.h>
#include <sys/resource.h>

#include <CLI/CLI.hpp>
#include <algorithm>
#include <chrono>
#include <cmath>
#include <dnnl.hpp>
#include <filesystem>
#include <fstream>
#include <functional>
#include <iostream>
#include <nlohmann/json.hpp>
#include <sstream>
#include <thread>

#include "halconv/halconv.h"
#include "reference.h"
#include "suite.h"

namespace {

using Clock = std::chrono::steady_clock;

using halconv::bench::read_suite;
using halconv::bench::SuiteShape;

struct Timing {
  double median_ms, min_ms;
};

// Tensors as inference engines allocate them, on cache-line (64-byte) boundaries; a plain
// std::vector of a large size sits 16 bytes past a page, where every other vector store splits a
// cache line. Both libraries get the same buffers.
class AlignedTensor {
 public:
  explicit AlignedTensor(size_t count)
      : count_(count),
        data_(static_cast<float*>(std::aligned_alloc(64, (count * sizeof(float) + 63) / 64 * 64))) {
    if (data_ == nullptr) throw std::bad_alloc();
    std::fill(data_.get(), data_.get() + count, 0.0f);
  }
  explicit AlignedTensor(const std::vector<float>& values) : AlignedTensor(values.size()) {
    std::copy(values.begin(), values.end(), data_.get());
  }
  float* data() const { return data_.get(); }
  size_t size() const { return count_; }

 private:
  struct Free {
    void operator()(float* p) const { std::free(p); }
  };
  size_t count_;
  std::unique_ptr<float, Free> data_;
};

Timing median_and_min(std::vector<double> ms) {
  std::sort(ms.begin(), ms.end());
  return {ms[ms.size() / 2], ms.front()};
}

double time_ms(const std::function<void()>& call) {
  const auto t0 = Clock::now();
  call();
  return std::chrono::duration<double, std::milli>(Clock::now() - t0).count();
}

// Times the calls in alternating rounds (see the top of this file); one Timing per call.
std::vector<Timing> time_side_by_side(const std::vector<std::function<void()>>& calls) {
  std::vector<std::vector<double>> ms(calls.size());
  double total_ms = 0;
  const double budget_ms = 300.0 * static_cast<double>(calls.size());
  for (size_t round = 0; round < 15 || (total_ms < budget_ms && round < 2000); round++) {
    for (size_t i = 0; i < calls.size(); i++) {
      calls[i]();  // re-warm after the other contenders' rounds
      ms[i].push_back(time_ms(calls[i]));
      total_ms += ms[i].back();
    }
  }
  std::vector<Timing> timings;
  for (auto& m : ms) timings.push_back(median_and_min(m));
  return timings;
}

// The FMA peak: independent accumulator chains, as many as hide the FMA latency, per thread.
__attribute__((target("avx512f"))) double fma_loop_avx512(int64_t iterations) {
  __m512 acc[12];
  for (auto& a : acc) a = _mm512_set1_ps(1.0f);
  const __m512 m = _mm512_set1_ps(0.999999f), b = _mm512_set1_ps(1e-7f);
  for (int64_t i = 0; i < iterations; i++) {
    for (auto& a : acc) a = _mm512_fmadd_ps(a, m, b);
  }
  // Every chain feeds the result: a chain whose value is unused is dead code to the compiler, which
  // then kept one latency-bound chain and the measured "peak" came out 12/8 of the real one.
  __m512 sum = acc[0];
  for (int i = 1; i < 12; i++) sum = _mm512_add_ps(sum, acc[i]);
  float out[16];
  _mm512_storeu_ps(out, sum);
  return out[0];
}

__attribute__((target("avx2,fma"))) double fma_loop_avx2(int64_t iterations) {
  __m256 acc[12];
  for (auto& a : acc) a = _mm256_set1_ps(1.0f);
  const __m256 m = _mm256_set1_ps(0.999999f), b = _mm256_set1_ps(1e-7f);
  for (int64_t i = 0; i < iterations; i++) {
    for (auto& a : acc) a = _mm256_fmadd_ps(a, m, b);
  }
  __m256 sum = acc[0];  // every chain live, as above
  for (int i = 1; i < 12; i++) sum = _mm256_add_ps(sum, acc[i]);
  float out[8];
  _mm256_storeu_ps(out, sum);
  return out[0];
}

double measure_peak_gflops(int threads) {
  const bool avx512 = __builtin_cpu_supports("avx512f");
  const int64_t iterations = 20'000'000;
  const double flops_per_iteration = 12.0 * (avx512 ? 16 : 8) * 2;
  double best = 0;
  for (int attempt = 0; attempt < 3; attempt++) {
    std::vector<std::thread> pool;
    std::vector<double> sink(threads);
    const auto t0 = Clock::now();
    for (int t = 0; t < threads; t++) {
      pool.emplace_back(
          [&, t] { sink[t] = avx512 ? fma_loop_avx512(iterations) : fma_loop_avx2(iterations); });
    }
    for (auto& p : pool) p.join();
    const double seconds = std::chrono::duration<double>(Clock::now() - t0).count();
    best = std::max(best, threads * iterations * flops_per_iteration / seconds / 1e9);
  }
  return best;
}

// oneDNN on the same problem: plain user tensors in and out, its own layouts inside.
class OneDnn {
 public:
  OneDnn(const halconv::Problem& p, const float* input, float* output)
      : engine_(dnnl::engine::kind::cpu, 0), stream_(engine_) {
    using dnnl::memory;
    using tag = memory::format_tag;
    const bool nhwc = p.data_format == halconv::DataFormat::channels_last;
    const memory::dims src_dims = {p.batch, p.in_c, p.in_h, p.in_w};
    const memory::dims dst_dims = {p.batch, p.filters, p.out_h, p.out_w};
    const memory::dims weight_dims = p.groups > 1
                                         ? memory::dims{p.groups, p.filters / p.groups,
                                                        p.in_c / p.groups, p.kernel_h, p.kernel_w}
                                         : memory::dims{p.filters, p.in_c, p.kernel_h, p.kernel_w};
    const auto f32 = memory::data_type::f32;
    user_src_ =
        memory({src_dims, f32, nhwc ? tag::nhwc : tag::nchw}, engine_, const_cast<float*>(input));
    user_dst_ = memory({dst_dims, f32, nhwc ? tag::nhwc : tag::nchw}, engine_, output);
    const memory::desc bias_md({p.filters}, f32, tag::x);
    bias_ = memory(bias_md, engine_);
    std::fill_n(static_cast<float*>(bias_.get_data_handle()), p.filters, 0.1f);
    double best = INFINITY;
    for (auto algorithm :
         {dnnl::algorithm::convolution_direct, dnnl::algorithm::convolution_winograd,
          dnnl::algorithm::convolution_auto}) {
      try {
        dnnl::convolution_forward::desc desc(
            dnnl::prop_kind::forward_inference, algorithm, memory::desc(src_dims, f32, tag::any),
            memory::desc(weight_dims, f32, tag::any), bias_md,
            memory::desc(dst_dims, f32, tag::any), {p.stride_h, p.stride_w},
            {p.dilation_h - 1, p.dilation_w - 1}, {p.pad_top, p.pad_left},
            {p.pad_bottom, p.pad_right});
        Candidate c;
        c.pd = dnnl::convolution_forward::primitive_desc(desc, engine_);
        c.name = algorithm == dnnl::algorithm::convolution_direct     ? "direct"
                 : algorithm == dnnl::algorithm::convolution_winograd ? "winograd"
                                                                      : "auto";
        c.name += std::string(":") + c.pd.impl_info_str();
        candidates_.push_back(std::move(c));
      } catch (const dnnl::error&) {
        // This algorithm has no implementation for the problem here.
      }
    }
    (void)best;
    if (candidates_.empty())
      throw halconv::Error(halconv::ErrorKind::unsupported,
                           "oneDNN has no convolution for " + p.to_string());
  }

  // Picks the fastest algorithm at the current thread count (a first timing of each); the
  // returned call runs it.
  std::pair<std::function<void()>, std::string> fastest() {
    Candidate* best = nullptr;
    double best_ms = INFINITY;
    for (Candidate& c : candidates_) {
      prepare(c);
      const double ms = time_side_by_side({[&] { run(c); }})[0].median_ms;
      if (ms < best_ms) {
        best_ms = ms;
        best = &c;
      }
    }
    return {[this, best] { run(*best); }, best->name};
  }

 private:
  struct Candidate {
    dnnl::convolution_forward::primitive_desc pd;
    std::string name;
    bool prepared = false;
    dnnl::convolution_forward conv;
    dnnl::memory src, weights, dst;
    bool reorder_src = false, reorder_dst = false;
    dnnl::reorder to_src, from_dst;
  };

  void prepare(Candidate& c) {
    if (c.prepared) return;
    c.conv = dnnl::convolution_forward(c.pd);
    // Weights already in the primitive's layout: their one-time reorder is excluded by design.
    c.weights = dnnl::memory(c.pd.weights_desc(), engine_);
    float* w = static_cast<float*>(c.weights.get_data_handle());
    const auto values =
        halconv::testing::random_values(c.pd.weights_desc().get_size() / sizeof(float), 4);
    std::copy(values.begin(), values.end(), w);
    c.reorder_src = c.pd.src_desc() != user_src_.get_desc();
    c.reorder_dst = c.pd.dst_desc() != user_dst_.get_desc();
    c.src = c.reorder_src ? dnnl::memory(c.pd.src_desc(), engine_) : user_src_;
    c.dst = c.reorder_dst ? dnnl::memory(c.pd.dst_desc(), engine_) : user_dst_;
    if (c.reorder_src) c.to_src = dnnl::reorder(user_src_, c.src);
    if (c.reorder_dst) c.from_dst = dnnl::reorder(c.dst, user_dst_);
    c.prepared = true;
  }

  void run(Candidate& c) {
    if (c.reorder_src) c.to_src.execute(stream_, user_src_, c.src);
    c.conv.execute(stream_, {{DNNL_ARG_SRC, c.src},
                             {DNNL_ARG_WEIGHTS, c.weights},
                             {DNNL_ARG_BIAS, bias_},
                             {DNNL_ARG_DST, c.dst}});
    if (c.reorder_dst) c.from_dst.execute(stream_, c.dst, user_dst_);
    stream_.wait();
  }

  dnnl::engine engine_;
  dnnl::stream stream_;
  dnnl::memory user_src_, user_dst_, bias_;
  std::vector<Candidate> candidates_;
};

// One suite shape for halconv, ready to run: random input, weights and bias, and its plan.
struct HalconvCase {
  HalconvCase(const SuiteShape& s, halconv::Device device)
      : problem(halconv::make_problem(s.config, s.input)),
        input(halconv::testing::random_values(halconv::Tensor(s.input).data.size(), 1)),
        output(static_cast<size_t>(problem.output_elements())),
        plan(problem,
             halconv::testing::random_values(halconv::Tensor(problem.kernel_shape()).data.size(), 2)
                 .data(),
             halconv::testing::random_values(static_cast<size_t>(problem.filters), 3).data(),
             device, halconv::Options::from_environment()) {}
  void run() const { plan.run(input.data(), output.data()); }

  halconv::Problem problem;
  AlignedTensor input, output;
  halconv::Plan plan;
};

double peak_rss_mb() {
  rusage usage{};
  getrusage(RUSAGE_SELF, &usage);
  return usage.ru_maxrss / 1024.0;
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"halconv_bench: halconv vs oneDNN on a shape suite"};
  std::string suite_path = "bench/anchors.txt", device_name = "cpu", format = "channels_last";
  std::string json_path, only;
  std::vector<int> thread_counts = {1, 2};
  bool skip_onednn = false;
  app.add_option("--suite", suite_path, "shape suite file")->capture_default_str();
  app.add_option("--device", device_name, "cpu, cuda or opencl (oneDNN only on cpu)")
      ->capture_default_str();
  app.add_option("--data-format", format, "channels_last or channels_first")->capture_default_str();
  app.add_option("--threads", thread_counts, "thread counts")
      ->delimiter(',')
      ->capture_default_str();
  app.add_option("--json", json_path, "write one record per shape and thread count");
  app.add_option("--only", only, "run only shapes whose name contains this");
  app.add_flag("--no-onednn", skip_onednn, "time halconv alone");
  CLI11_PARSE(app, argc, argv);
  // From an installed prefix, a suite named as in the source tree (bench/anchors.txt) is the
  // installed copy under share/halconv/.
  if (!std::filesystem::exists(suite_path)) {
    const std::filesystem::path self = std::filesystem::canonical("/proc/self/exe");
    const std::filesystem::path installed =
        self.parent_path().parent_path() / "share" / "halconv" / suite_path;
    if (std::filesystem::exists(installed)) suite_path = installed.string();
  }
  // Halide and OpenMP size their thread pools once per process, from the environment, so each
  // thread count runs in a fresh process with HL_NUM_THREADS / OMP_NUM_THREADS set. OpenMP
  // threads also spin-wait after each call by default: in the alternating rounds they would take
  // the cores from halconv's next call (measured: halconv 2x slower on small layers), so they
  // wait passively (OMP_WAIT_POLICY; oneDNN measured no slower with it).
  if (std::getenv("HALCONV_BENCH_CHILD") == nullptr) {
    nlohmann::ordered_json merged = nlohmann::ordered_json::array();
    for (int threads : thread_counts) {
      std::vector<std::string> args(argv, argv + argc);
      std::string part = json_path.empty() ? "" : json_path + ".part" + std::to_string(threads);
      std::string command = "HALCONV_BENCH_CHILD=1 OMP_WAIT_POLICY=passive HL_NUM_THREADS=" +
                            std::to_string(threads) +
                            " OMP_NUM_THREADS=" + std::to_string(threads) + " '" +
                            std::filesystem::canonical("/proc/self/exe").string() + "'";
      for (size_t i = 1; i < args.size(); i++) {
        if (args[i] == "--threads" || args[i] == "--json") {
          i++;
          continue;
        }
        if (args[i].rfind("--threads=", 0) == 0 || args[i].rfind("--json=", 0) == 0) continue;
        command += " '" + args[i] + "'";
      }
      command += " --threads " + std::to_string(threads);
      if (!part.empty()) command += " --json '" + part + "'";
      if (std::system(command.c_str()) != 0) return 1;
      if (!part.empty()) {
        std::ifstream in(part);
        for (auto& record : nlohmann::ordered_json::parse(in)) merged.push_back(record);
        std::filesystem::remove(part);
      }
    }
    if (!json_path.empty()) std::ofstream(json_path) << merged.dump(2) << "\n";
    return 0;
  }
  try {
    const halconv::Device device = halconv::parse_device(device_name);
    const bool onednn = !skip_onednn && halconv::resolve_device(device) == halconv::Device::cpu;
    // A child process: one thread count (the parent passes it).
    const int threads = thread_counts.front();
    const double peak = measure_peak_gflops(threads);
    std::printf("# measured fp32 FMA peak, %d thread(s): %.1f GFLOP/s\n", threads, peak);
    std::printf("%-20s %2s %-30s %9s %9s %8s %6s %9s %6s  %s\n", "shape", "th", "variant", "med_ms",
                "min_ms", "GFLOP/s", "%peak", "onednn_ms", "ratio", "onednn_impl");
    nlohmann::ordered_json records = nlohmann::ordered_json::array();
    std::vector<double> ratios;
    const halconv::DataFormat data_format = halconv::parse_data_format(format);
    const std::vector<SuiteShape> suite = read_suite(suite_path, data_format);
    // channels_first runs also time the channels_last form of each shape in the same rounds: the
    // NCHW/NHWC speed is then a same-run comparison.
    const std::vector<SuiteShape> nhwc_suite =
        read_suite(suite_path, halconv::DataFormat::channels_last);
    for (size_t shape = 0; shape < suite.size(); shape++) {
      const SuiteShape& s = suite[shape];
      if (!only.empty() && s.name.find(only) == std::string::npos) continue;
      const HalconvCase ours(s, device);
      const halconv::Problem& p = ours.problem;
      std::unique_ptr<HalconvCase> nhwc_twin;
      if (data_format == halconv::DataFormat::channels_first) {
        nhwc_twin = std::make_unique<HalconvCase>(nhwc_suite[shape], device);
      }
      AlignedTensor onednn_output(ours.output.size());
      std::unique_ptr<OneDnn> peer;
      if (onednn) peer = std::make_unique<OneDnn>(p, ours.input.data(), onednn_output.data());
      const double gflop = 2.0 * p.batch * p.out_h * p.out_w * p.filters * (p.in_c / p.groups) *
                           p.kernel_h * p.kernel_w / 1e9;
      std::vector<std::function<void()>> calls = {[&] { ours.run(); }};
      std::string impl = "-";
      if (peer) {
        auto [call, name] = peer->fastest();
        calls.push_back(call);
        impl = name;
      }
      if (nhwc_twin) calls.push_back([&] { nhwc_twin->run(); });
      const std::vector<Timing> timings = time_side_by_side(calls);
      const Timing halconv_timing = timings[0];
      const Timing onednn_timing = peer ? timings[1] : Timing{NAN, NAN};
      const double gflops = gflop / halconv_timing.median_ms * 1e3;
      const double ratio = onednn_timing.median_ms / halconv_timing.median_ms;
      if (std::isfinite(ratio)) ratios.push_back(ratio);
      std::printf("%-20s %2d %-30s %9.3f %9.3f %8.1f %5.1f%% %9.3f %6.2f  %s\n", s.name.c_str(),
                  threads, ours.plan.variant().c_str(), halconv_timing.median_ms,
                  halconv_timing.min_ms, gflops, 100 * gflops / peak, onednn_timing.median_ms,
                  ratio, impl.c_str());
      std::fflush(stdout);
      nlohmann::ordered_json record = {
          {"name", s.name},
          {"threads", threads},
          {"data_format", format},
          {"variant", ours.plan.variant()},
          {"halconv_ms", halconv_timing.median_ms},
          {"halconv_min_ms", halconv_timing.min_ms},
          {"onednn_ms", peer ? nlohmann::ordered_json(onednn_timing.median_ms) : nullptr},
          {"onednn_min_ms", peer ? nlohmann::ordered_json(onednn_timing.min_ms) : nullptr},
          {"onednn_impl", impl},
          {"ratio", peer ? nlohmann::ordered_json(ratio) : nullptr},
          {"gflop", gflop},
          {"gflops", gflops},
          {"peak_gflops", peak},
          {"pct_peak", 100 * gflops / peak},
          {"peak_rss_mb", peak_rss_mb()}};
      if (nhwc_twin) {
        record["nhwc_variant"] = nhwc_twin->plan.variant();
        record["nhwc_halconv_ms"] = timings.back().median_ms;
      }
      records.push_back(record);
    }
    if (!ratios.empty()) {
      double log_sum = 0;
      for (double r : ratios) log_sum += std::log(r);
      std::printf("# geomean oneDNN/halconv at %d threads: %.3f over %zu shapes\n", threads,
                  std::exp(log_sum / ratios.size()), ratios.size());
    }
    std::printf("# peak RSS: %.0f MB\n", peak_rss_mb());
    // Measured again after the shapes: this VM's speed drifts by the hour, and % peak is relative
    // to the first measurement; the second shows how far the machine moved during the run.
    const double peak_after = measure_peak_gflops(threads);
    std::printf("# measured fp32 FMA peak after the shapes: %.1f GFLOP/s (%.0f%% of the first)\n",
                peak_after, 100 * peak_after / peak);
    for (auto& record : records) record["peak_gflops_after"] = peak_after;
    if (!json_path.empty()) {
      std::ofstream(json_path) << records.dump(2) << "\n";
    }
  } catch (const std::exception& e) {
    std::cerr << "halconv_bench: error: " << e.what() << "\n";
    return 1;
  }
  return 0;
}
