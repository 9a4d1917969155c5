// The engine-level call: weights packed once, then runs on caller-owned buffers with no allocation.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>

#include "halconv/config.h"
#include "halconv/decision.h"
#include "halconv/device.h"

namespace halconv {

namespace detail {
class PlanAccess;
}

// Thread-safety: a Plan is immutable once made; run() and run_device() may be called from any
// number of threads at once. Moving or destroying it while a call runs is the caller's race.
class Plan {
 public:
  // Decides how the problem runs on the device under the options (decide(), decision.h) and
  // packs the weights, given in Keras layout (kh, kw, in_channels / groups, filters). bias has
  // `filters` values; it may be null when the problem has use_bias false. On a GPU the packed
  // weights stay resident on the device across calls.
  Plan(const Problem& problem, const float* kernel, const float* bias,
       Device device = Device::automatic, const Options& options = {});
  ~Plan();
  Plan(Plan&&) noexcept;
  Plan& operator=(Plan&&) noexcept;

  // Floats of scratch that run() needs: nonzero only for the axis activations (softmax,
  // log_softmax, sparsemax, glu), which run as a second stage over the convolution's output.
  size_t workspace_floats() const;
  // input and output are dense C-order host tensors in the problem's data_format. On the CPU it
  // never allocates (large write-bound outputs are computed in bands into scratch made with the
  // plan, one per core, and streamed out; only more concurrent calls than cores add scratch,
  // once). On a GPU it copies the input in and the result back (device allocations are reused by
  // Halide's runtime). Throws Error when the generated code fails.
  // Any float alignment works; buffers aligned to 64 bytes run fastest (each AVX-512 access then
  // touches one cache line, where std::vector's 16-byte alignment splits it across two).
  void run(const float* input, float* output, float* workspace = nullptr) const;
  // Zero-copy call on caller device memory: CUdeviceptr values for CUDA, cl_mem handles for
  // OpenCL, on the device the plan runs on. Not for the axis activations, which run on the host.
  // stream (CUDA only): a CUstream of the plan's device context; the call enqueues its kernels
  // there and returns without synchronizing, so an engine orders it with its own work. 0: Halide's
  // stream, synchronized before the call returns. OpenCL calls use Halide's queue and synchronize.
  void run_device(uint64_t input, uint64_t output, uint64_t stream = 0) const;

  const Problem& problem() const;
  // How it runs: the variant, the object, the packing and the rest (Decision::to_text()).
  const Decision& decision() const;
  const std::string& variant() const;
  Device device() const;

 private:
  friend class detail::PlanAccess;
  struct Impl;
  explicit Plan(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace halconv
