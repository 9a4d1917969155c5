// What every Keras conv layer halconv runs offers (Conv2D, DepthwiseConv2D, SeparableConv2D), and
// the factory that makes one from its Keras config by class_name.
//
// Thread-safety: as each layer's class says (every method may be called from any thread at once).
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "halconv/config.h"
#include "halconv/decision.h"

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

class Layer {
 public:
  virtual ~Layer() = default;

  // Keras' class_name: "Conv2D", "DepthwiseConv2D" or "SeparableConv2D".
  virtual std::string class_name() const = 0;
  // The names of get_weights()' arrays, in Keras' order (e.g. "kernel", "bias").
  virtual std::vector<std::string> weight_names() const = 0;

  // Creates the weights with the configured initializers for this input shape (batch ignored).
  virtual void build(const Shape& input_shape) = 0;
  virtual bool built() const = 0;
  // The arrays weight_names() lists, in Keras layout; shapes must match the config.
  virtual void set_weights(const std::vector<Tensor>& weights) = 0;
  virtual std::vector<Tensor> get_weights() const = 0;
  virtual Shape compute_output_shape(const Shape& input_shape) const = 0;

  // The forward pass; builds on first use if needed.
  virtual Tensor operator()(const Tensor& input) = 0;
  Tensor call(const Tensor& input) { return (*this)(input); }

  // How this input shape runs: one decision per convolution the layer runs (a separable layer
  // runs two), and their text.
  virtual std::vector<Decision> decisions(const Shape& input_shape) const = 0;
  virtual std::string explain(const Shape& input_shape) const = 0;
  // Where calls run (default: the CPU), and the options they run under (decision.h).
  virtual void set_device(Device device) = 0;
  virtual void set_options(const Options& options) = 0;

  // The JSON Keras 3 writes for get_config().
  virtual std::string get_config() const = 0;

 protected:
  Layer() = default;
  Layer(Layer&&) noexcept = default;
  Layer& operator=(Layer&&) noexcept = default;
};

// Which layer class a Keras config is: the wrapper's class_name ({"class_name": ...,
// "config": {...}}); a bare config is a Conv2D unless it has depth_multiplier, which makes it a
// SeparableConv2D when it also has filters and a DepthwiseConv2D otherwise. Throws Error for
// another class_name or text that is not a JSON object.
std::string layer_class_name(const std::string& json);
// The layer of a Keras config, by layer_class_name(); keras2_hard_sigmoid as in Conv2DConfig.
std::unique_ptr<Layer> layer_from_config(const std::string& json, bool keras2_hard_sigmoid = false);

}  // namespace halconv
