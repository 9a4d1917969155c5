// The Keras-style Conv2D layer (tf.keras.layers.Conv2D, forward pass).
#pragma once

#include <atomic>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "halconv/config.h"
#include "halconv/plan.h"

namespace halconv {

// A dense float32 tensor in C order.
struct Tensor {
  Shape shape;
  std::vector<float> data;

  Tensor() = default;
  Tensor(Shape tensor_shape, std::vector<float> values);
  explicit Tensor(Shape tensor_shape);  // zero-filled
  int64_t size() const;
};

class Conv2D {
 public:
  // Mirrors keras.layers.Conv2D(filters, kernel_size, strides, padding, data_format, dilation_rate,
  // groups, activation, use_bias, kernel_initializer, bias_initializer).
  Conv2D(int64_t filters, Pair kernel_size, Pair strides = 1, const std::string& padding = "valid",
         const std::string& data_format = "channels_last", Pair dilation_rate = 1,
         int64_t groups = 1, const std::string& activation = "linear", bool use_bias = true,
         Initializer kernel_initializer = "glorot_uniform", Initializer bias_initializer = "zeros");
  explicit Conv2D(Conv2DConfig config);

  // Creates the weights with the configured initializers for this input shape (batch ignored).
  void build(const Shape& input_shape);
  bool built() const { return built_; }

  // [kernel] or [kernel, bias], in Keras layout; shapes must match the config.
  void set_weights(const std::vector<Tensor>& weights);
  std::vector<Tensor> get_weights() const;

  Shape compute_output_shape(const Shape& input_shape) const;
  // The forward pass. Builds on first use if needed.
  Tensor operator()(const Tensor& input);
  Tensor call(const Tensor& input) { return (*this)(input); }
  // Which compiled variant runs this input shape, and why better ones declined.
  std::string explain(const Shape& input_shape) const;
  // Where calls run (default: CUDA when present, else the CPU). Weights stay on the device.
  void set_device(Device device);

  // The JSON Keras 3 writes for Conv2D.get_config(), and its inverse (also accepts the
  // {"class_name": "Conv2D", "config": {...}} wrapper).
  std::string get_config() const;
  static Conv2D from_config(const std::string& json);
  const Conv2DConfig& config() const { return config_; }

 private:
  std::shared_ptr<const Plan> plan_for(const Shape& input_shape);

  Conv2DConfig config_;
  Device device_ = Device::automatic;
  std::atomic<bool> built_{false};
  int64_t built_in_channels_ = 0;
  Tensor kernel_, bias_;
  std::mutex build_mutex_;  // the lazy build() in operator()
  std::mutex plans_mutex_;
  std::map<Shape, std::shared_ptr<const Plan>> plans_;  // packed weights per input shape
};

}  // namespace halconv
