// Keras' DepthwiseConv2D and SeparableConv2D (forward pass), run as halconv Conv2D convolutions:
// a depthwise convolution is a grouped one with groups = input channels, whose kernel
// (kh, kw, C, m) is, value for value, the grouped kernel (kh, kw, 1, C * m); a separable one is
// that depthwise step (no bias, no activation) followed by a 1x1 Conv2D that adds the bias and
// applies the activation, as Keras defines it.
//
// Thread-safety: as Conv2D's (every method may be called from any number of threads at once; a
// call in flight finishes with the weights it started with).
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "halconv/config.h"
#include "halconv/layer.h"

namespace halconv {

struct DepthwiseConv2DConfig {
  std::string name = "depthwise_conv2d";
  Pair kernel_size{1};
  Pair strides{1};
  Padding padding = Padding::valid;
  int64_t depth_multiplier = 1;
  DataFormat data_format = DataFormat::channels_last;
  Pair dilation_rate{1};
  std::string activation = "linear";
  bool keras2_hard_sigmoid = false;
  bool use_bias = true;
  Initializer depthwise_initializer{"glorot_uniform"};
  Initializer bias_initializer{"zeros"};
};

struct SeparableConv2DConfig {
  std::string name = "separable_conv2d";
  int64_t filters = 0;
  Pair kernel_size{1};
  Pair strides{1};
  Padding padding = Padding::valid;
  int64_t depth_multiplier = 1;
  DataFormat data_format = DataFormat::channels_last;
  Pair dilation_rate{1};
  std::string activation = "linear";
  bool keras2_hard_sigmoid = false;
  bool use_bias = true;
  Initializer depthwise_initializer{"glorot_uniform"};
  Initializer pointwise_initializer{"glorot_uniform"};
  Initializer bias_initializer{"zeros"};
};

// The Conv2D each layer runs for `in_channels` input channels (the one place the translation
// lives): the depthwise convolution, and a separable layer's two steps.
Conv2DConfig depthwise_as_conv2d(const DepthwiseConv2DConfig& config, int64_t in_channels);
Conv2DConfig separable_depthwise_step(const SeparableConv2DConfig& config, int64_t in_channels);
Conv2DConfig separable_pointwise_step(const SeparableConv2DConfig& config);

// What Keras checks in the constructors; throw Error naming the value.
void validate_config(const DepthwiseConv2DConfig& config);
void validate_config(const SeparableConv2DConfig& config);

// Keras 3 get_config() JSON <-> config (the {"class_name": ..., "config": {...}} wrapper is
// accepted too). Keys that do not affect the forward pass are ignored.
DepthwiseConv2DConfig parse_depthwise_config_json(const std::string& json);
std::string depthwise_config_to_json(const DepthwiseConv2DConfig& config);
SeparableConv2DConfig parse_separable_config_json(const std::string& json);
std::string separable_config_to_json(const SeparableConv2DConfig& config);

class DepthwiseConv2D : public Layer {
 public:
  // Mirrors keras.layers.DepthwiseConv2D(kernel_size, strides, padding, depth_multiplier,
  // data_format, dilation_rate, activation, use_bias, depthwise_initializer, bias_initializer).
  DepthwiseConv2D(Pair kernel_size, Pair strides = 1, const std::string& padding = "valid",
                  int64_t depth_multiplier = 1, const std::string& data_format = "channels_last",
                  Pair dilation_rate = 1, const std::string& activation = "linear",
                  bool use_bias = true, Initializer depthwise_initializer = "glorot_uniform",
                  Initializer bias_initializer = "zeros");
  explicit DepthwiseConv2D(DepthwiseConv2DConfig config);
  ~DepthwiseConv2D() override;
  DepthwiseConv2D(DepthwiseConv2D&&) noexcept;
  DepthwiseConv2D& operator=(DepthwiseConv2D&&) noexcept;

  std::string class_name() const override { return "DepthwiseConv2D"; }
  // "kernel" (kh, kw, in_channels, depth_multiplier), and "bias" (in_channels * depth_multiplier)
  // when use_bias.
  std::vector<std::string> weight_names() const override;
  void build(const Shape& input_shape) override;
  bool built() const override;
  void set_weights(const std::vector<Tensor>& weights) override;
  std::vector<Tensor> get_weights() const override;
  Shape compute_output_shape(const Shape& input_shape) const override;
  Tensor operator()(const Tensor& input) override;
  std::vector<Decision> decisions(const Shape& input_shape) const override;
  std::string explain(const Shape& input_shape) const override;
  void set_device(Device device) override;
  void set_options(const Options& options) override;
  std::string get_config() const override;
  static DepthwiseConv2D from_config(const std::string& json);
  const DepthwiseConv2DConfig& config() const;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

class SeparableConv2D : public Layer {
 public:
  // Mirrors keras.layers.SeparableConv2D(filters, kernel_size, strides, padding, data_format,
  // dilation_rate, depth_multiplier, activation, use_bias, depthwise_initializer,
  // pointwise_initializer, bias_initializer).
  SeparableConv2D(int64_t filters, Pair kernel_size, Pair strides = 1,
                  const std::string& padding = "valid",
                  const std::string& data_format = "channels_last", Pair dilation_rate = 1,
                  int64_t depth_multiplier = 1, const std::string& activation = "linear",
                  bool use_bias = true, Initializer depthwise_initializer = "glorot_uniform",
                  Initializer pointwise_initializer = "glorot_uniform",
                  Initializer bias_initializer = "zeros");
  explicit SeparableConv2D(SeparableConv2DConfig config);
  ~SeparableConv2D() override;
  SeparableConv2D(SeparableConv2D&&) noexcept;
  SeparableConv2D& operator=(SeparableConv2D&&) noexcept;

  std::string class_name() const override { return "SeparableConv2D"; }
  // "depthwise_kernel" (kh, kw, in_channels, depth_multiplier), "pointwise_kernel"
  // (1, 1, in_channels * depth_multiplier, filters), and "bias" (filters) when use_bias.
  std::vector<std::string> weight_names() const override;
  void build(const Shape& input_shape) override;
  bool built() const override;
  void set_weights(const std::vector<Tensor>& weights) override;
  std::vector<Tensor> get_weights() const override;
  Shape compute_output_shape(const Shape& input_shape) const override;
  Tensor operator()(const Tensor& input) override;
  // The depthwise step's decision, then the pointwise step's.
  std::vector<Decision> decisions(const Shape& input_shape) const override;
  std::string explain(const Shape& input_shape) const override;
  void set_device(Device device) override;
  void set_options(const Options& options) override;
  std::string get_config() const override;
  static SeparableConv2D from_config(const std::string& json);
  const SeparableConv2DConfig& config() const;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace halconv
