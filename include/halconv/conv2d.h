// The Keras-style Conv2D layer (tf.keras.layers.Conv2D, forward pass).
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "halconv/config.h"
#include "halconv/decision.h"
#include "halconv/layer.h"
#include "halconv/plan.h"

namespace halconv {

// Thread-safety: every method may be called from any number of threads at once, set_weights and
// set_options included. A call in flight when the weights or options change finishes with the ones
// it started with; calls that start later see the new ones. Moving a Conv2D while another thread
// uses it is the caller's race, as for any object.
class Conv2D : public Layer {
 public:
  // Mirrors keras.layers.Conv2D(filters, kernel_size, strides, padding, data_format, dilation_rate,
  // groups, activation, use_bias, kernel_initializer, bias_initializer).
  Conv2D(int64_t filters, Pair kernel_size, Pair strides = 1, const std::string& padding = "valid",
         const std::string& data_format = "channels_last", Pair dilation_rate = 1,
         int64_t groups = 1, const std::string& activation = "linear", bool use_bias = true,
         Initializer kernel_initializer = "glorot_uniform", Initializer bias_initializer = "zeros");
  explicit Conv2D(Conv2DConfig config);
  ~Conv2D() override;
  Conv2D(Conv2D&&) noexcept;
  Conv2D& operator=(Conv2D&&) noexcept;

  // Creates the weights with the configured initializers for this input shape (batch ignored).
  void build(const Shape& input_shape) override;
  bool built() const override;
  // [kernel] or [kernel, bias], in Keras layout; shapes must match the config.
  void set_weights(const std::vector<Tensor>& weights) override;
  std::vector<Tensor> get_weights() const override;
  Shape compute_output_shape(const Shape& input_shape) const override;

  // The forward pass. Builds on first use if needed. Each input shape gets a plan (decide(), a
  // bounds query: microseconds); the weights are packed once per packing the plans read (one,
  // unless input sizes change which taps read only padding or which variant runs) and reused
  // across shapes. At most kCachedPlans plans and kCachedPackings packings are kept, the least
  // recently used dropped first.
  Tensor operator()(const Tensor& input) override;
  static constexpr size_t kCachedPlans = 16;
  static constexpr size_t kCachedPackings = 4;

  // How this input shape runs (Decision::to_text()), and the decision itself.
  std::string explain(const Shape& input_shape) const override;
  Decision decide(const Shape& input_shape) const;
  std::vector<Decision> decisions(const Shape& input_shape) const override;
  // Where calls run (default: the CPU). Weights stay on the device.
  void set_device(Device device) override;
  // The options calls run under (decision.h); the default is Options::from_environment(), read
  // when the layer is made.
  void set_options(const Options& options) override;
  Options options() const;

  // The JSON Keras 3 writes for Conv2D.get_config(), and its inverse (also accepts the
  // {"class_name": "Conv2D", "config": {...}} wrapper).
  std::string get_config() const override;
  static Conv2D from_config(const std::string& json);
  const Conv2DConfig& config() const;
  std::string class_name() const override { return "Conv2D"; }
  // "kernel", and "bias" when use_bias.
  std::vector<std::string> weight_names() const override;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace halconv
