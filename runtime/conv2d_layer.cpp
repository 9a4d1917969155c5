// The Keras-style layer: config, weights, and a Plan per input shape.
#include <algorithm>

#include "aligned_floats.h"
#include "halconv/conv2d.h"
#include "halconv/io.h"
#include "halconv/variants.h"
#include "initializers.h"

namespace halconv {

Tensor::Tensor(Shape tensor_shape, std::vector<float> values)
    : shape(std::move(tensor_shape)), data(std::move(values)) {
  if (static_cast<int64_t>(data.size()) != size()) {
    throw Error("tensor of shape " + shape_to_string(shape) + " given " +
                std::to_string(data.size()) + " values");
  }
}

Tensor::Tensor(Shape tensor_shape) : shape(std::move(tensor_shape)) {
  data.assign(static_cast<size_t>(size()), 0.0f);
}

int64_t Tensor::size() const {
  int64_t count = 1;
  for (int64_t d : shape) count *= d;
  return count;
}

Conv2D::Conv2D(int64_t filters, Pair kernel_size, Pair strides, const std::string& padding,
               const std::string& data_format, Pair dilation_rate, int64_t groups,
               const std::string& activation, bool use_bias, Initializer kernel_initializer,
               Initializer bias_initializer) {
  config_.filters = filters;
  config_.kernel_size = kernel_size;
  config_.strides = strides;
  config_.padding = parse_padding(padding);
  config_.data_format = parse_data_format(data_format);
  config_.dilation_rate = dilation_rate;
  config_.groups = groups;
  config_.activation = activation;
  config_.use_bias = use_bias;
  config_.kernel_initializer = std::move(kernel_initializer);
  config_.bias_initializer = std::move(bias_initializer);
  validate_config(config_);
}

Conv2D::Conv2D(Conv2DConfig config) : config_(std::move(config)) { validate_config(config_); }

Conv2D Conv2D::from_config(const std::string& json) { return Conv2D(parse_config_json(json)); }

std::string Conv2D::get_config() const { return config_to_json(config_); }

Shape Conv2D::compute_output_shape(const Shape& input_shape) const {
  return make_problem(config_, input_shape).output_shape();
}

std::string Conv2D::explain(const Shape& input_shape) const {
  return halconv::explain(make_problem(config_, input_shape), device_);
}

void Conv2D::set_device(Device device) {
  resolve_device(device);  // an absent device is an error now, not at the first call
  std::lock_guard<std::mutex> lock(plans_mutex_);
  device_ = device;
  plans_.clear();
}

void Conv2D::build(const Shape& input_shape) {
  const Problem p = make_problem(config_, input_shape);
  kernel_ =
      Tensor(p.kernel_shape(), detail::initialize(config_.kernel_initializer, p.kernel_shape()));
  if (config_.use_bias) {
    bias_ = Tensor({p.filters}, detail::initialize(config_.bias_initializer, {p.filters}));
  }
  built_in_channels_ = p.in_c;
  built_ = true;
  std::lock_guard<std::mutex> lock(plans_mutex_);
  plans_.clear();
}

void Conv2D::set_weights(const std::vector<Tensor>& weights) {
  const size_t expected = config_.use_bias ? 2 : 1;
  if (weights.size() != expected) {
    throw Error("set_weights expects " + std::to_string(expected) + " arrays (" +
                (config_.use_bias ? "kernel, bias" : "kernel") + "), got " +
                std::to_string(weights.size()));
  }
  const Tensor& kernel = weights[0];
  const Pair k = config_.kernel_size;
  if (kernel.shape.size() != 4 || kernel.shape[0] != k.h || kernel.shape[1] != k.w ||
      kernel.shape[3] != config_.filters || kernel.shape[2] <= 0) {
    throw Error("kernel shape " + shape_to_string(kernel.shape) + " does not match the config: " +
                "expected (" + std::to_string(k.h) + ", " + std::to_string(k.w) +
                ", in_channels / groups, " + std::to_string(config_.filters) + ")");
  }
  if (built_ && kernel.shape[2] * config_.groups != built_in_channels_) {
    throw Error("kernel shape " + shape_to_string(kernel.shape) + " does not match the built " +
                "input channels " + std::to_string(built_in_channels_) + " / groups " +
                std::to_string(config_.groups));
  }
  if (config_.use_bias && weights[1].shape != Shape{config_.filters}) {
    throw Error("bias shape " + shape_to_string(weights[1].shape) + " does not match filters " +
                std::to_string(config_.filters));
  }
  kernel_ = kernel;
  if (config_.use_bias) bias_ = weights[1];
  built_in_channels_ = kernel.shape[2] * config_.groups;
  built_ = true;
  std::lock_guard<std::mutex> lock(plans_mutex_);
  plans_.clear();
}

std::vector<Tensor> Conv2D::get_weights() const {
  if (!built_) return {};
  if (config_.use_bias) return {kernel_, bias_};
  return {kernel_};
}

std::shared_ptr<const Plan> Conv2D::plan_for(const Shape& input_shape) {
  std::lock_guard<std::mutex> lock(plans_mutex_);
  if (auto it = plans_.find(input_shape); it != plans_.end()) return it->second;
  const Problem p = make_problem(config_, input_shape);
  if (p.in_c != built_in_channels_) {
    throw Error("input shape " + shape_to_string(input_shape) + " has " + std::to_string(p.in_c) +
                " channels; the layer was built for " + std::to_string(built_in_channels_));
  }
  auto plan = std::make_shared<const Plan>(p, kernel_.data.data(),
                                           config_.use_bias ? bias_.data.data() : nullptr, device_);
  plans_.emplace(input_shape, plan);
  return plan;
}

Tensor Conv2D::operator()(const Tensor& input) {
  if (static_cast<int64_t>(input.data.size()) != input.size()) {
    throw Error("input tensor holds " + std::to_string(input.data.size()) + " values for shape " +
                shape_to_string(input.shape));
  }
  {
    // Keras builds on the first call; concurrent first calls must build once.
    std::lock_guard<std::mutex> lock(build_mutex_);
    if (!built_) build(input.shape);
  }
  const std::shared_ptr<const Plan> plan = plan_for(input.shape);
  Tensor output(plan->problem().output_shape());
  detail::AlignedFloats workspace(plan->workspace_floats());
  plan->run(input.data.data(), output.data.data(), workspace.empty() ? nullptr : workspace.data());
  return output;
}

}  // namespace halconv
