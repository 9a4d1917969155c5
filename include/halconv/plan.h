// The engine-level call: weights packed once, then runs on caller-owned buffers with no allocation.
#pragma once

#include <cstddef>
#include <memory>
#include <string>

#include "halconv/config.h"

namespace halconv {

class Plan {
 public:
  // Selects the variant (HALCONV_VARIANT honoured) and packs the weights, given in Keras layout
  // (kh, kw, in_channels / groups, filters). bias has `filters` values; it may be null when the
  // problem has use_bias false.
  Plan(const Problem& problem, const float* kernel, const float* bias);
  ~Plan();
  Plan(Plan&&) noexcept;
  Plan& operator=(Plan&&) noexcept;

  // Floats of scratch that run() needs: nonzero only for the axis activations (softmax,
  // log_softmax, sparsemax, glu), which run as a second stage over the convolution's output.
  size_t workspace_floats() const;

  // input and output are dense C-order tensors in the problem's data_format. Thread-safe; never
  // allocates. Throws Error when the generated code reports a failure.
  void run(const float* input, float* output, float* workspace = nullptr) const;

  const Problem& problem() const;
  const std::string& variant() const;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace halconv
