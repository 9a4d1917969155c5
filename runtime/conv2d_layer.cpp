// The Keras-style layer: config, weights packed once per packing, and a Plan per input shape.
#include <algorithm>
#include <list>
#include <mutex>

#include "aligned_floats.h"
#include "halconv/conv2d.h"
#include "halconv/io.h"
#include "halconv/variants.h"
#include "initializers.h"
#include "packed_weights.h"

namespace halconv {

Tensor::Tensor(Shape tensor_shape, std::vector<float> values)
    : shape(std::move(tensor_shape)), data(std::move(values)) {
  if (static_cast<int64_t>(data.size()) != size()) {
    throw Error(ErrorKind::invalid_input, "tensor of shape " + shape_to_string(shape) + " given " +
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

struct Conv2D::Impl {
  Conv2DConfig config;
  mutable std::mutex mutex;  // guards the members below
  Device device = Device::automatic;
  Options options = Options::from_environment();
  bool built = false;
  int64_t built_in_channels = 0;
  Tensor kernel, bias;
  // Most recently used first.
  std::list<std::pair<Shape, std::shared_ptr<const Plan>>> plans;
  std::list<std::pair<std::string, std::shared_ptr<const detail::PackedWeights>>> packings;

  explicit Impl(Conv2DConfig c) : config(std::move(c)) { validate_config(config); }

  void forget_plans() {
    plans.clear();
    packings.clear();
  }

  // Needs the lock.
  void build(const Shape& input_shape) {
    const Problem p = make_problem(config, input_shape);
    kernel =
        Tensor(p.kernel_shape(), detail::initialize(config.kernel_initializer, p.kernel_shape()));
    if (config.use_bias) {
      bias = Tensor({p.filters}, detail::initialize(config.bias_initializer, {p.filters}));
    }
    built_in_channels = p.in_c;
    built = true;
    forget_plans();
  }

  // Needs the lock.
  std::shared_ptr<const Plan> plan_for(const Shape& input_shape) {
    for (auto it = plans.begin(); it != plans.end(); ++it) {
      if (it->first == input_shape) {
        plans.splice(plans.begin(), plans, it);
        return it->second;
      }
    }
    const Problem p = make_problem(config, input_shape);
    if (p.in_c != built_in_channels) {
      throw Error(ErrorKind::invalid_input,
                  "input shape " + shape_to_string(input_shape) + " has " + std::to_string(p.in_c) +
                      " channels; the layer was built for " + std::to_string(built_in_channels));
    }
    detail::Execution e = detail::decide_execution(p, device, options);
    const std::string key = detail::packing_key(e.decision);
    std::shared_ptr<const detail::PackedWeights> weights;
    for (auto it = packings.begin(); it != packings.end(); ++it) {
      if (it->first == key) {
        packings.splice(packings.begin(), packings, it);
        weights = it->second;
        break;
      }
    }
    if (!weights) {
      weights = detail::pack_weights(e.decision, kernel.data.data(),
                                     config.use_bias ? bias.data.data() : nullptr);
      packings.emplace_front(key, weights);
      if (packings.size() > kCachedPackings) packings.pop_back();
    }
    auto plan = std::make_shared<const Plan>(detail::PlanAccess::make(std::move(e), weights));
    plans.emplace_front(input_shape, plan);
    if (plans.size() > kCachedPlans) plans.pop_back();
    return plan;
  }
};

Conv2D::Conv2D(int64_t filters, Pair kernel_size, Pair strides, const std::string& padding,
               const std::string& data_format, Pair dilation_rate, int64_t groups,
               const std::string& activation, bool use_bias, Initializer kernel_initializer,
               Initializer bias_initializer) {
  Conv2DConfig c;
  c.filters = filters;
  c.kernel_size = kernel_size;
  c.strides = strides;
  c.padding = parse_padding(padding);
  c.data_format = parse_data_format(data_format);
  c.dilation_rate = dilation_rate;
  c.groups = groups;
  c.activation = activation;
  c.use_bias = use_bias;
  c.kernel_initializer = std::move(kernel_initializer);
  c.bias_initializer = std::move(bias_initializer);
  impl_ = std::make_unique<Impl>(std::move(c));
}

Conv2D::Conv2D(Conv2DConfig config) : impl_(std::make_unique<Impl>(std::move(config))) {}
Conv2D::~Conv2D() = default;
Conv2D::Conv2D(Conv2D&&) noexcept = default;
Conv2D& Conv2D::operator=(Conv2D&&) noexcept = default;

Conv2D Conv2D::from_config(const std::string& json) { return Conv2D(parse_config_json(json)); }

std::string Conv2D::get_config() const { return config_to_json(impl_->config); }

const Conv2DConfig& Conv2D::config() const { return impl_->config; }

Shape Conv2D::compute_output_shape(const Shape& input_shape) const {
  return make_problem(impl_->config, input_shape).output_shape();
}

Decision Conv2D::decide(const Shape& input_shape) const {
  std::lock_guard<std::mutex> lock(impl_->mutex);
  return halconv::decide(make_problem(impl_->config, input_shape), impl_->device, impl_->options);
}

std::string Conv2D::explain(const Shape& input_shape) const {
  return decide(input_shape).to_text();
}

std::vector<Decision> Conv2D::decisions(const Shape& input_shape) const {
  return {decide(input_shape)};
}

std::vector<std::string> Conv2D::weight_names() const {
  if (impl_->config.use_bias) return {"kernel", "bias"};
  return {"kernel"};
}

void Conv2D::set_device(Device device) {
  resolve_device(device);  // an absent device is an error now, not at the first call
  std::lock_guard<std::mutex> lock(impl_->mutex);
  impl_->device = device;
  impl_->forget_plans();
}

void Conv2D::set_options(const Options& options) {
  std::lock_guard<std::mutex> lock(impl_->mutex);
  impl_->options = options;
  impl_->forget_plans();
}

Options Conv2D::options() const {
  std::lock_guard<std::mutex> lock(impl_->mutex);
  return impl_->options;
}

bool Conv2D::built() const {
  std::lock_guard<std::mutex> lock(impl_->mutex);
  return impl_->built;
}

void Conv2D::build(const Shape& input_shape) {
  std::lock_guard<std::mutex> lock(impl_->mutex);
  impl_->build(input_shape);
}

void Conv2D::set_weights(const std::vector<Tensor>& weights) {
  const Conv2DConfig& config = impl_->config;
  const size_t expected = config.use_bias ? 2 : 1;
  if (weights.size() != expected) {
    throw Error(ErrorKind::invalid_input, "set_weights expects " + std::to_string(expected) +
                                              " arrays (" +
                                              (config.use_bias ? "kernel, bias" : "kernel") +
                                              "), got " + std::to_string(weights.size()));
  }
  const Tensor& kernel = weights[0];
  const Pair k = config.kernel_size;
  if (kernel.shape.size() != 4 || kernel.shape[0] != k.h || kernel.shape[1] != k.w ||
      kernel.shape[3] != config.filters || kernel.shape[2] <= 0) {
    throw Error(ErrorKind::invalid_input,
                "kernel shape " + shape_to_string(kernel.shape) + " does not match the config: " +
                    "expected (" + std::to_string(k.h) + ", " + std::to_string(k.w) +
                    ", in_channels / groups, " + std::to_string(config.filters) + ")");
  }
  if (config.use_bias && weights[1].shape != Shape{config.filters}) {
    throw Error(ErrorKind::invalid_input, "bias shape " + shape_to_string(weights[1].shape) +
                                              " does not match filters " +
                                              std::to_string(config.filters));
  }
  std::lock_guard<std::mutex> lock(impl_->mutex);
  if (impl_->built && kernel.shape[2] * config.groups != impl_->built_in_channels) {
    throw Error(ErrorKind::invalid_input, "kernel shape " + shape_to_string(kernel.shape) +
                                              " does not match the built " + "input channels " +
                                              std::to_string(impl_->built_in_channels) +
                                              " / groups " + std::to_string(config.groups));
  }
  impl_->kernel = kernel;
  if (config.use_bias) impl_->bias = weights[1];
  impl_->built_in_channels = kernel.shape[2] * config.groups;
  impl_->built = true;
  impl_->forget_plans();
}

std::vector<Tensor> Conv2D::get_weights() const {
  std::lock_guard<std::mutex> lock(impl_->mutex);
  if (!impl_->built) return {};
  if (impl_->config.use_bias) return {impl_->kernel, impl_->bias};
  return {impl_->kernel};
}

Tensor Conv2D::operator()(const Tensor& input) {
  if (static_cast<int64_t>(input.data.size()) != input.size()) {
    throw Error(ErrorKind::invalid_input, "input tensor holds " +
                                              std::to_string(input.data.size()) +
                                              " values for shape " + shape_to_string(input.shape));
  }
  std::shared_ptr<const Plan> plan;
  {
    // Keras builds on the first call; concurrent first calls build once.
    std::lock_guard<std::mutex> lock(impl_->mutex);
    if (!impl_->built) impl_->build(input.shape);
    plan = impl_->plan_for(input.shape);
  }
  Tensor output(plan->problem().output_shape());
  detail::AlignedFloats workspace(plan->workspace_floats());
  plan->run(input.data.data(), output.data.data(), workspace.empty() ? nullptr : workspace.data());
  return output;
}

}  // namespace halconv
