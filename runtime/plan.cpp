// Plan: the variant chosen and the weights packed once; run() wraps caller memory and, on the CPU,
// allocates nothing.
#include "halconv/plan.h"

#include <HalideRuntime.h>
#include <HalideRuntimeCuda.h>
#include <HalideRuntimeOpenCL.h>

#include <algorithm>
#include <atomic>
#include <cstring>
#include <exception>
#include <mutex>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "aligned_floats.h"
#include "halconv_axis_activation_cpu.h"
#include "packed_weights.h"
#include "registry.h"
#include "streamed_band.h"
#include "weight_packing.h"
#include "winograd.h"

namespace halconv {
namespace {

// Dimensions, innermost first, of a dense C-order NHWC (c, w, h, n) or NCHW (w, h, c, n) tensor.
// Dimension 0 is Keras' last axis in both layouts, which is what the axis activations reduce over.
struct Dims4 {
  halide_dimension_t dim[4];
};

Dims4 dense_dims(const Shape& c_order_shape) {
  Dims4 d{};
  int32_t stride = 1;
  for (int i = 0; i < 4; i++) {
    const int32_t extent = static_cast<int32_t>(c_order_shape[3 - i]);
    d.dim[i] = halide_dimension_t(0, extent, stride);
    stride *= extent;
  }
  return d;
}

halide_buffer_t wrap(const float* data, halide_dimension_t* dims, int dimensions) {
  halide_buffer_t b{};
  b.host = reinterpret_cast<uint8_t*>(const_cast<float*>(data));
  b.type = halide_type_t(halide_type_float, 32);
  b.dimensions = dimensions;
  b.dim = dims;
  return b;
}

void mark_host_dirty(halide_buffer_t& b) { b.flags |= halide_buffer_flag_host_dirty; }

// The view of one dilation phase's pixels in a dense tensor of p's layout: rows row,
// row + dilation_h, ... and columns likewise, `dims` holding its dimensions.
halide_buffer_t phase_view(const float* data, const Dims4& dense, int64_t row, int64_t col,
                           int64_t rows, int64_t cols, const Problem& p, Dims4& dims) {
  dims = dense;
  const bool nhwc = p.data_format == DataFormat::channels_last;
  halide_dimension_t& x = dims.dim[nhwc ? 1 : 0];
  halide_dimension_t& y = dims.dim[nhwc ? 2 : 1];
  const float* first = data + row * y.stride + col * x.stride;
  x.extent = static_cast<int32_t>(cols);
  x.stride *= static_cast<int32_t>(p.dilation_w);
  y.extent = static_cast<int32_t>(rows);
  y.stride *= static_cast<int32_t>(p.dilation_h);
  return wrap(first, dims.dim, 4);
}

}  // namespace

namespace detail {

std::pair<int64_t, int64_t> packed_layout(GeneratedConv2D function, const char* name, Device device,
                                          const Problem& p) {
  if (device != Device::cpu) {
    const int64_t pack = packing::kGpuChannelSpan;
    return {pack, (p.filters + pack - 1) / pack};
  }
  alignas(64) static const float no_data[16] = {};
  Dims4 in_dims = dense_dims(p.input_shape());
  Dims4 out_dims = dense_dims(p.conv_shape());
  halide_dimension_t bias_dim(0, static_cast<int32_t>(p.filters), 1);
  halide_buffer_t in = wrap(no_data, in_dims.dim, 4), out = wrap(no_data, out_dims.dim, 4);
  halide_buffer_t bias = wrap(no_data, &bias_dim, 1);
  halide_dimension_t query[5] = {};
  halide_buffer_t kernel = wrap(nullptr, query, 5);
  check_halide_status(function(&in, &kernel, &bias, static_cast<int32_t>(p.stride_w),
                               static_cast<int32_t>(p.stride_h), static_cast<int32_t>(p.dilation_w),
                               static_cast<int32_t>(p.dilation_h), static_cast<int32_t>(p.pad_top),
                               static_cast<int32_t>(p.pad_left), static_cast<int32_t>(p.groups),
                               static_cast<int32_t>(p.filters), 0, &out),
                      name);
  const int64_t pack = query[0].extent, blocks = query[4].extent;
  if (query[0].min != 0 || query[4].min != 0 || pack < 1 || blocks * pack < p.filters) {
    throw Error(ErrorKind::internal, std::string(name) + " asked for packed weights of " +
                                         std::to_string(blocks) + " blocks of " +
                                         std::to_string(pack) + " filters, which do not hold " +
                                         std::to_string(p.filters));
  }
  return {pack, blocks};
}

namespace {
std::atomic<int64_t> packs_made{0};
}  // namespace

// Packed weights: blocks of `pack` filters, each contiguous as (ky, kx, ci, filter % pack), zero
// past the last filter up to whole register tiles. On a GPU their device copies stay between
// calls; the mutex serializes the calls that share them (and the first copy to the device).
struct PackedWeights {
  Device device = Device::cpu;
  AlignedFloats kernel, bias;
  halide_dimension_t kernel_dims[5];
  halide_dimension_t bias_dims[1];
  mutable halide_buffer_t kernel_buf{};
  mutable halide_buffer_t bias_buf{};
  mutable std::mutex device_mutex;

  ~PackedWeights() {
    if (device != Device::cpu) {
      halide_device_free(nullptr, &kernel_buf);
      halide_device_free(nullptr, &bias_buf);
    }
  }
};

std::string packing_key(const Decision& d) {
  const Problem& w = d.window;
  std::string key = device_name(d.device);
  for (int64_t v : {d.pack, d.blocks, w.kernel_h, w.kernel_w, d.first_row_tap, d.first_col_tap,
                    w.in_c / w.groups, w.filters, int64_t{d.winograd}, int64_t{w.use_bias}}) {
    key += "/" + std::to_string(v);
  }
  return key;
}

int64_t weight_packs() { return packs_made.load(); }

std::shared_ptr<const PackedWeights> pack_weights(const Decision& d, const float* kernel,
                                                  const float* bias) {
  const Problem& problem = d.problem;
  if (kernel == nullptr) throw Error(ErrorKind::invalid_input, "Plan: the kernel pointer is null");
  if (problem.use_bias && bias == nullptr) {
    throw Error(ErrorKind::invalid_input, "Plan: use_bias is true but bias is null");
  }
  auto packed = std::make_shared<PackedWeights>();
  PackedWeights& w = *packed;
  w.device = d.device;
  const int64_t pack = d.pack, blocks = d.blocks;
  const int64_t filters = problem.filters;
  const int64_t cin_per_group = problem.in_c / problem.groups;
  int64_t kernel_h = d.window.kernel_h, kernel_w = d.window.kernel_w;
  std::vector<float> window_taps;
  if (kernel_h != problem.kernel_h || kernel_w != problem.kernel_w) {
    // Keras' layout, (kh, kw, ci, filter): each kept row of taps is a contiguous run.
    const int64_t tap_floats = cin_per_group * filters;
    for (int64_t ky = 0; ky < kernel_h; ky++) {
      const float* row =
          kernel + ((d.first_row_tap + ky) * problem.kernel_w + d.first_col_tap) * tap_floats;
      window_taps.insert(window_taps.end(), row, row + kernel_w * tap_floats);
    }
    kernel = window_taps.data();
  }
  // Winograd variants take the transformed weights, packed the same way as a 4x4 kernel.
  std::vector<float> transformed;
  if (d.winograd) {
    transformed = winograd_weights(kernel, cin_per_group, filters);
    kernel = transformed.data();
    kernel_h = kernel_w = 4;
  }
  const int64_t rows = kernel_h * kernel_w * cin_per_group;
  w.kernel.assign(rows * blocks * pack, 0.0f);
  for (int64_t b = 0; b * pack < filters; b++) {
    const int64_t count = std::min(pack, filters - b * pack);
    for (int64_t r = 0; r < rows; r++) {
      std::memcpy(&w.kernel[(b * rows + r) * pack], kernel + r * filters + b * pack,
                  count * sizeof(float));
    }
  }
  w.bias.assign(blocks * pack, 0.0f);
  if (problem.use_bias) std::memcpy(w.bias.data(), bias, filters * sizeof(float));

  const auto extent = [](int64_t v) { return static_cast<int32_t>(v); };
  w.kernel_dims[0] = {0, extent(pack), 1};
  w.kernel_dims[1] = {0, extent(cin_per_group), extent(pack)};
  w.kernel_dims[2] = {0, extent(kernel_w), extent(pack * cin_per_group)};
  w.kernel_dims[3] = {0, extent(kernel_h), extent(pack * cin_per_group * kernel_w)};
  w.kernel_dims[4] = {0, extent(blocks), extent(pack * rows)};
  w.bias_dims[0] = {0, extent(blocks * pack), 1};
  w.kernel_buf = wrap(w.kernel.data(), w.kernel_dims, 5);
  w.bias_buf = wrap(w.bias.data(), w.bias_dims, 1);
  if (w.device != Device::cpu) {
    mark_host_dirty(w.kernel_buf);  // copied to the device on the first call, then kept there
    mark_host_dirty(w.bias_buf);
    halide_reuse_device_allocations(nullptr, true);
  }
  packs_made++;
  return packed;
}

}  // namespace detail

struct Plan::Impl {
  detail::Execution exec;
  std::shared_ptr<const detail::PackedWeights> weights;
  // Shorthands for exec's.
  const Problem& problem = exec.decision.problem;
  const Problem& run_problem = exec.decision.run;  // problem, or its pixel rows (problem_as_run)
  const Device& device = exec.decision.device;
  const std::vector<detail::DilationPhase>& phases = exec.phases;
  const int64_t& band_rows = exec.decision.band_rows;

  Impl(detail::Execution e, std::shared_ptr<const detail::PackedWeights> w)
      : exec(std::move(e)), weights(std::move(w)) {
    if (band_rows > 0) {
      band_floats = static_cast<size_t>(band_rows * run_problem.out_w * run_problem.filters);
      // Touched now (zeroed): a fresh page's first touch costs about 10 us here.
      free_scratch.assign(std::max(1u, std::thread::hardware_concurrency()),
                          detail::AlignedFloats(band_floats));
    }
  }
  Impl(const Impl&) = delete;

  // Streamed output (detail::streamed_band_rows; 0: not streamed): rows per band, and the bands'
  // scratch buffers, one per concurrent task, made with the plan (calls from more threads than
  // the machine has cores add buffers on their first call).
  size_t band_floats = 0;
  mutable std::mutex scratch_mutex;
  mutable std::vector<detail::AlignedFloats> free_scratch;

  // One streamed call (band_rows > 0): its bands, (image, band of rows), run as Halide's parallel
  // tasks (run_band, a halide_task_t), each convolve_band.
  struct StreamedCall {
    const Impl* plan;
    const float* input;
    float* output;
    int32_t activation;
    std::mutex error_mutex;
    std::string error;  // the first failure's message
  };
  void convolve_streamed(const float* input, float* output, int32_t activation) const;
  static int run_band(void* user_context, int index, uint8_t* closure);
  void convolve_band(const StreamedCall& call, int index) const;

  // p: the plan's problem, or one of its dilation phases.
  void convolve(const Problem& p, halide_buffer_t* in, halide_buffer_t* out,
                int32_t activation) const {
    if (exec.decision.threads > 0) halide_set_num_threads(exec.decision.threads);
    detail::check_halide_status(
        exec.function(in, &weights->kernel_buf, &weights->bias_buf,
                      static_cast<int32_t>(p.stride_w), static_cast<int32_t>(p.stride_h),
                      static_cast<int32_t>(p.dilation_w), static_cast<int32_t>(p.dilation_h),
                      static_cast<int32_t>(p.pad_top), static_cast<int32_t>(p.pad_left),
                      static_cast<int32_t>(p.groups), static_cast<int32_t>(p.filters), activation,
                      out),
        exec.variant->name, device == Device::cpu ? ErrorKind::internal : ErrorKind::device);
  }
};

int Plan::Impl::run_band(void* /*user_context*/, int index, uint8_t* closure) {
  StreamedCall& call = *reinterpret_cast<StreamedCall*>(closure);
  try {
    call.plan->convolve_band(call, index);
    return 0;
  } catch (const std::exception& e) {  // no exception may cross Halide's C runtime
    const std::lock_guard<std::mutex> lock(call.error_mutex);
    if (call.error.empty()) call.error = e.what();
    return -1;
  }
}

void Plan::Impl::convolve_streamed(const float* input, float* output, int32_t activation) const {
  StreamedCall call{this, input, output, activation, {}, {}};
  const int bands =
      static_cast<int>(run_problem.batch * detail::bands_per_image(run_problem, band_rows));
  if (halide_do_par_for(nullptr, run_band, 0, bands, reinterpret_cast<uint8_t*>(&call)) != 0) {
    throw Error(ErrorKind::internal, call.error.empty()
                                         ? exec.decision.variant + ": a streamed band failed"
                                         : call.error);
  }
}

void Plan::Impl::convolve_band(const StreamedCall& call, int index) const {
  const Problem& p = run_problem;
  const auto [image, first_row, rows] = detail::band_span(p, band_rows, index);
  detail::AlignedFloats scratch;
  {
    const std::lock_guard<std::mutex> lock(scratch_mutex);
    if (free_scratch.empty()) {
      scratch.resize(band_floats);
    } else {
      scratch = std::move(free_scratch.back());
      free_scratch.pop_back();
    }
  }
  const Problem band = detail::band_problem(p, first_row, rows);
  Dims4 in_dims = dense_dims(p.input_shape());
  in_dims.dim[3].extent = 1;
  Dims4 band_dims = dense_dims(band.conv_shape());
  const int64_t image_floats = p.in_c * p.in_h * p.in_w;
  halide_buffer_t in_view = wrap(call.input + image * image_floats, in_dims.dim, 4);
  halide_buffer_t band_buf = wrap(scratch.data(), band_dims.dim, 4);
  std::exception_ptr failure;
  try {
    convolve(band, &in_view, &band_buf, call.activation);
    detail::stream_band_out(p, first_row, rows, scratch.data(),
                            call.output + image * p.filters * p.out_h * p.out_w);
  } catch (...) {
    failure = std::current_exception();
  }
  {
    const std::lock_guard<std::mutex> lock(scratch_mutex);
    free_scratch.push_back(std::move(scratch));
  }
  if (failure) std::rethrow_exception(failure);
}

Plan::Plan(const Problem& problem, const float* kernel, const float* bias, Device device,
           const Options& options) {
  detail::Execution e = detail::decide_execution(problem, device, options);
  std::shared_ptr<const detail::PackedWeights> weights =
      detail::pack_weights(e.decision, kernel, bias);
  impl_ = std::make_unique<Impl>(std::move(e), std::move(weights));
}

Plan::Plan(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}

Plan detail::PlanAccess::make(Execution e, std::shared_ptr<const PackedWeights> weights) {
  return Plan(std::make_unique<Plan::Impl>(std::move(e), std::move(weights)));
}

Plan::~Plan() = default;
Plan::Plan(Plan&&) noexcept = default;
Plan& Plan::operator=(Plan&&) noexcept = default;

size_t Plan::workspace_floats() const {
  const Problem& p = impl_->problem;
  if (!is_axis_activation(p.activation)) return 0;
  size_t count = 1;
  for (int64_t d : p.conv_shape()) count *= static_cast<size_t>(d);
  return count;
}

const Problem& Plan::problem() const { return impl_->problem; }
const Decision& Plan::decision() const { return impl_->exec.decision; }
const std::string& Plan::variant() const { return impl_->exec.decision.variant; }
Device Plan::device() const { return impl_->device; }

void Plan::run(const float* input, float* output, float* workspace) const {
  const Impl& im = *impl_;
  const Problem& p = im.problem;
  const bool axis_stage = is_axis_activation(p.activation);
  if (input == nullptr || output == nullptr) {
    throw Error(ErrorKind::invalid_input, "Plan::run: a null input or output");
  }
  if (axis_stage && workspace == nullptr) {
    throw Error(ErrorKind::invalid_input, "Plan::run: activation " + activation_name(p.activation) +
                                              " needs a workspace of workspace_floats() floats");
  }
  const Problem& run = im.run_problem;
  Dims4 in_dims = dense_dims(run.input_shape());
  Dims4 conv_dims = dense_dims(run.conv_shape());
  halide_buffer_t in_buf = wrap(input, in_dims.dim, 4);
  halide_buffer_t conv_buf = wrap(axis_stage ? workspace : output, conv_dims.dim, 4);
  const int32_t conv_activation =
      axis_stage ? static_cast<int32_t>(Activation::linear) : static_cast<int32_t>(p.activation);

  if (!im.phases.empty()) {
    for (const detail::DilationPhase& phase : im.phases) {
      const Problem& q = phase.problem;
      Dims4 in_phase, conv_phase;
      halide_buffer_t in_view =
          phase_view(input, in_dims, phase.in_row, phase.in_col, q.in_h, q.in_w, run, in_phase);
      halide_buffer_t conv_view =
          phase_view(axis_stage ? workspace : output, conv_dims, phase.out_row, phase.out_col,
                     q.out_h, q.out_w, run, conv_phase);
      im.convolve(q, &in_view, &conv_view, conv_activation);
    }
  } else if (im.band_rows > 0) {
    im.convolve_streamed(input, output, conv_activation);
  } else if (im.device == Device::cpu) {
    im.convolve(run, &in_buf, &conv_buf, conv_activation);
  } else {
    // Wrapped host memory must be marked dirty or Halide never copies it to the device.
    mark_host_dirty(in_buf);
    std::lock_guard<std::mutex> lock(im.weights->device_mutex);
    struct ReleaseDevice {  // the wrappers die here; their device copies go back to Halide's cache
      halide_buffer_t* a;
      halide_buffer_t* b;
      ~ReleaseDevice() {
        halide_device_free(nullptr, a);
        halide_device_free(nullptr, b);
      }
    } release{&in_buf, &conv_buf};
    im.convolve(run, &in_buf, &conv_buf, conv_activation);
    detail::check_halide_status(halide_copy_to_host(nullptr, &conv_buf), "copy to host",
                                ErrorKind::device);
  }
  if (axis_stage) {
    // The axis activation reduces over the caller's last axis: the caller's shapes, not the run's.
    Dims4 workspace_dims = dense_dims(p.conv_shape());
    Dims4 out_dims = dense_dims(p.output_shape());
    halide_buffer_t workspace_buf = wrap(workspace, workspace_dims.dim, 4);
    halide_buffer_t out_buf = wrap(output, out_dims.dim, 4);
    detail::check_halide_status(
        halconv_axis_activation_cpu(&workspace_buf, static_cast<int32_t>(p.activation), &out_buf),
        "axis activation");
  }
}

namespace {

// The CUDA stream run_device was given on this thread (null: Halide's own). Halide's CUDA runtime
// asks for the stream to launch on through a process-wide hook; this one answers with it.
thread_local void* caller_stream = nullptr;
halide_cuda_get_stream_t halide_stream = nullptr;

int caller_or_halide_stream(void* user_context, void* context, void** stream) {
  if (caller_stream != nullptr) {
    *stream = caller_stream;
    return 0;
  }
  return halide_stream(user_context, context, stream);
}

void install_stream_hook() {
  static const bool installed = [] {
    halide_stream = halide_set_cuda_get_stream(&caller_or_halide_stream);
    return true;
  }();
  (void)installed;
}

}  // namespace

void Plan::run_device(uint64_t input, uint64_t output, uint64_t stream) const {
  const Impl& im = *impl_;
  const Problem& p = im.problem;
  if (im.device == Device::cpu) {
    throw Error(ErrorKind::invalid_input, "Plan::run_device: this plan runs on the CPU");
  }
  if (is_axis_activation(p.activation)) {
    throw Error(ErrorKind::invalid_input, "Plan::run_device: activation " +
                                              activation_name(p.activation) +
                                              " runs on the host; use run()");
  }
  Dims4 in_dims = dense_dims(p.input_shape());
  Dims4 out_dims = dense_dims(p.output_shape());
  halide_buffer_t in_buf = wrap(nullptr, in_dims.dim, 4);
  halide_buffer_t out_buf = wrap(nullptr, out_dims.dim, 4);
  const bool cuda = im.device == Device::cuda;
  if (stream != 0 && !cuda) {
    throw Error(ErrorKind::invalid_input,
                "Plan::run_device: a stream is for CUDA plans; this one "
                "runs on " +
                    device_name(im.device));
  }
  if (stream != 0) install_stream_hook();
  struct StreamScope {  // the caller's stream for this call's launches on this thread only
    explicit StreamScope(uint64_t s) { caller_stream = reinterpret_cast<void*>(s); }
    ~StreamScope() { caller_stream = nullptr; }
  } stream_scope(stream);
  auto attach = [&](halide_buffer_t* b, uint64_t handle) {
    detail::check_halide_status(cuda ? halide_cuda_wrap_device_ptr(nullptr, b, handle)
                                     : halide_opencl_wrap_cl_mem(nullptr, b, handle),
                                "wrapping a device buffer", ErrorKind::device);
  };
  std::lock_guard<std::mutex> lock(im.weights->device_mutex);
  attach(&in_buf, input);
  struct Detach {
    bool cuda;
    halide_buffer_t* a;
    halide_buffer_t* b;
    ~Detach() {
      for (halide_buffer_t* buf : {a, b}) {
        if (buf->device) {
          cuda ? halide_cuda_detach_device_ptr(nullptr, buf)
               : halide_opencl_detach_cl_mem(nullptr, buf);
        }
      }
    }
  } detach{cuda, &in_buf, &out_buf};
  attach(&out_buf, output);
  im.convolve(im.run_problem, &in_buf, &out_buf, static_cast<int32_t>(p.activation));
  if (stream == 0) {
    detail::check_halide_status(halide_device_sync(nullptr, &out_buf), "device sync",
                                ErrorKind::device);
  }
}

}  // namespace halconv
