// DepthwiseConv2D and SeparableConv2D over Conv2D steps, and the layer factory.
#include <cstdint>
#include <mutex>
#include <optional>

#include "halconv/conv2d.h"
#include "halconv/depthwise.h"
#include "halconv/io.h"
#include "initializers.h"

namespace halconv {
namespace {

void require_multiplier(int64_t depth_multiplier) {
  if (depth_multiplier <= 0) {
    throw Error(ErrorKind::invalid_config,
                "depth_multiplier must be positive, got " + std::to_string(depth_multiplier));
  }
  if (depth_multiplier > INT32_MAX) {
    throw Error(ErrorKind::unsupported, "depth_multiplier " + std::to_string(depth_multiplier) +
                                            " exceeds the supported maximum " +
                                            std::to_string(INT32_MAX));
  }
}

// The channel count of a rank-4 input shape in `format`.
int64_t input_channels(const Shape& input_shape, DataFormat format) {
  if (input_shape.size() != 4 || input_shape[1] <= 0 || input_shape[3] <= 0) {
    throw Error(ErrorKind::invalid_input, "expected an input of rank 4 with positive sizes, got " +
                                              shape_to_string(input_shape));
  }
  return format == DataFormat::channels_last ? input_shape[3] : input_shape[1];
}

// in_channels * depth_multiplier, the depthwise step's output channels, within halconv's 2^31-1
// size limit (checked before multiplying: the input shape is not validated yet).
int64_t depthwise_channels(int64_t in_channels, int64_t depth_multiplier) {
  require_multiplier(depth_multiplier);
  if (in_channels <= 0) {
    throw Error(ErrorKind::invalid_input,
                "input channels must be positive, got " + std::to_string(in_channels));
  }
  if (in_channels > INT32_MAX / depth_multiplier) {
    throw Error(ErrorKind::unsupported,
                "input channels " + std::to_string(in_channels) + " times depth_multiplier " +
                    std::to_string(depth_multiplier) + " exceeds the supported maximum " +
                    std::to_string(INT32_MAX));
  }
  return in_channels * depth_multiplier;
}

Tensor reshaped(const Tensor& t, Shape shape) { return Tensor(std::move(shape), t.data); }

// A depthwise kernel (kh, kw, C, m) of the config's kernel size and multiplier; returns C.
int64_t depthwise_kernel_channels(const Tensor& kernel, Pair kernel_size, int64_t multiplier,
                                  const char* what) {
  const Shape& s = kernel.shape;
  if (s.size() != 4 || s[0] != kernel_size.h || s[1] != kernel_size.w || s[2] <= 0 ||
      s[3] != multiplier) {
    throw Error(ErrorKind::invalid_input, std::string(what) + " shape " + shape_to_string(s) +
                                              " does not match the config: expected (" +
                                              std::to_string(kernel_size.h) + ", " +
                                              std::to_string(kernel_size.w) + ", in_channels, " +
                                              std::to_string(multiplier) + ")");
  }
  return s[2];
}

void require_weight_count(const std::vector<Tensor>& weights,
                          const std::vector<std::string>& names) {
  if (weights.size() == names.size()) return;
  std::string list;
  for (const std::string& n : names) list += (list.empty() ? "" : ", ") + n;
  throw Error(ErrorKind::invalid_input, "set_weights expects " + std::to_string(names.size()) +
                                            " arrays (" + list + "), got " +
                                            std::to_string(weights.size()));
}

// The Conv2D steps a composite layer runs, made for one input channel count; swapped whole under
// the owner's lock, so a call in flight keeps the steps it started with.
struct Steps {
  int64_t in_channels = 0;
  std::vector<std::shared_ptr<Conv2D>> convs;
};

// What both composite layers keep: the device, the options and the current steps.
struct Composite {
  mutable std::mutex mutex;  // guards the members below
  std::mutex build_mutex;    // concurrent first calls build once
  Device device = Device::automatic;
  Options options = Options::from_environment();
  std::shared_ptr<const Steps> steps;

  std::shared_ptr<const Steps> current() const {
    std::lock_guard<std::mutex> lock(mutex);
    return steps;
  }
  // New steps from configs, on this layer's device and options, with their weights.
  void install(int64_t in_channels, const std::vector<Conv2DConfig>& configs,
               const std::vector<std::vector<Tensor>>& weights) {
    auto made = std::make_shared<Steps>();
    made->in_channels = in_channels;
    std::lock_guard<std::mutex> lock(mutex);
    for (size_t i = 0; i < configs.size(); i++) {
      auto conv = std::make_shared<Conv2D>(configs[i]);
      conv->set_device(device);
      conv->set_options(options);
      conv->set_weights(weights[i]);
      made->convs.push_back(conv);
    }
    steps = made;
  }
  void set_device(Device d) {
    std::lock_guard<std::mutex> lock(mutex);
    device = d;
    if (steps) {
      for (const auto& conv : steps->convs) conv->set_device(d);
    }
  }
  void set_options(const Options& o) {
    std::lock_guard<std::mutex> lock(mutex);
    options = o;
    if (steps) {
      for (const auto& conv : steps->convs) conv->set_options(o);
    }
  }
  // Steps for this input: the current ones if they fit it, else `build` makes them first.
  template <typename Build>
  std::shared_ptr<const Steps> for_input(const Shape& input_shape, DataFormat format,
                                         const Build& build) {
    const int64_t c = input_channels(input_shape, format);
    std::shared_ptr<const Steps> s = current();
    if (!s) {
      std::lock_guard<std::mutex> building(build_mutex);
      s = current();
      if (!s) {
        build(input_shape);
        s = current();
      }
    }
    if (s->in_channels != c) {
      throw Error(ErrorKind::invalid_input,
                  "input shape " + shape_to_string(input_shape) + " has " + std::to_string(c) +
                      " channels; the layer was built for " + std::to_string(s->in_channels));
    }
    return s;
  }
};

std::string joined_explanations(const std::vector<std::string>& titles,
                                const std::vector<Decision>& decisions) {
  std::string text;
  for (size_t i = 0; i < decisions.size(); i++) {
    text += titles[i] + ":\n" + decisions[i].to_text();
  }
  return text;
}

}  // namespace

Conv2DConfig depthwise_as_conv2d(const DepthwiseConv2DConfig& d, int64_t in_channels) {
  Conv2DConfig c;
  c.name = d.name;
  c.filters = depthwise_channels(in_channels, d.depth_multiplier);
  c.kernel_size = d.kernel_size;
  c.strides = d.strides;
  c.padding = d.padding;
  c.data_format = d.data_format;
  c.dilation_rate = d.dilation_rate;
  c.groups = in_channels;
  c.activation = d.activation;
  c.keras2_hard_sigmoid = d.keras2_hard_sigmoid;
  c.use_bias = d.use_bias;
  c.kernel_initializer = d.depthwise_initializer;
  c.bias_initializer = d.bias_initializer;
  return c;
}

Conv2DConfig separable_depthwise_step(const SeparableConv2DConfig& s, int64_t in_channels) {
  DepthwiseConv2DConfig d;
  d.name = s.name + "_depthwise";
  d.kernel_size = s.kernel_size;
  d.strides = s.strides;
  d.padding = s.padding;
  d.depth_multiplier = s.depth_multiplier;
  d.data_format = s.data_format;
  d.dilation_rate = s.dilation_rate;
  d.use_bias = false;
  d.depthwise_initializer = s.depthwise_initializer;
  return depthwise_as_conv2d(d, in_channels);
}

Conv2DConfig separable_pointwise_step(const SeparableConv2DConfig& s) {
  Conv2DConfig c;
  c.name = s.name + "_pointwise";
  c.filters = s.filters;
  c.kernel_size = 1;
  c.data_format = s.data_format;
  c.activation = s.activation;
  c.keras2_hard_sigmoid = s.keras2_hard_sigmoid;
  c.use_bias = s.use_bias;
  c.kernel_initializer = s.pointwise_initializer;
  c.bias_initializer = s.bias_initializer;
  return c;
}

void validate_config(const DepthwiseConv2DConfig& config) {
  require_multiplier(config.depth_multiplier);
  validate_config(depthwise_as_conv2d(config, 1));
}

void validate_config(const SeparableConv2DConfig& config) {
  require_multiplier(config.depth_multiplier);
  validate_config(separable_depthwise_step(config, 1));
  validate_config(separable_pointwise_step(config));
}

// ---- DepthwiseConv2D ----

struct DepthwiseConv2D::Impl {
  DepthwiseConv2DConfig config;
  Composite state;

  explicit Impl(DepthwiseConv2DConfig c) : config(std::move(c)) { validate_config(config); }

  // kernel (kh, kw, C, m) and bias as Keras holds them.
  void install(int64_t c, const Tensor& kernel, const Tensor* bias) {
    std::vector<Tensor> weights = {
        reshaped(kernel, {config.kernel_size.h, config.kernel_size.w, 1,
                          depthwise_channels(c, config.depth_multiplier)})};
    if (bias) weights.push_back(*bias);
    state.install(c, {depthwise_as_conv2d(config, c)}, {weights});
  }
  void build(const Shape& input_shape) {
    const int64_t c = input_channels(input_shape, config.data_format);
    const Shape kernel_shape = {config.kernel_size.h, config.kernel_size.w, c,
                                config.depth_multiplier};
    const Tensor kernel(kernel_shape,
                        detail::initialize(config.depthwise_initializer, kernel_shape));
    std::optional<Tensor> bias;
    if (config.use_bias) {
      const Shape bias_shape = {depthwise_channels(c, config.depth_multiplier)};
      bias = Tensor(bias_shape, detail::initialize(config.bias_initializer, bias_shape));
    }
    install(c, kernel, bias ? &*bias : nullptr);
  }
};

DepthwiseConv2D::DepthwiseConv2D(Pair kernel_size, Pair strides, const std::string& padding,
                                 int64_t depth_multiplier, const std::string& data_format,
                                 Pair dilation_rate, const std::string& activation, bool use_bias,
                                 Initializer depthwise_initializer, Initializer bias_initializer) {
  DepthwiseConv2DConfig c;
  c.kernel_size = kernel_size;
  c.strides = strides;
  c.padding = parse_padding(padding);
  c.depth_multiplier = depth_multiplier;
  c.data_format = parse_data_format(data_format);
  c.dilation_rate = dilation_rate;
  c.activation = activation;
  c.use_bias = use_bias;
  c.depthwise_initializer = std::move(depthwise_initializer);
  c.bias_initializer = std::move(bias_initializer);
  impl_ = std::make_unique<Impl>(std::move(c));
}

DepthwiseConv2D::DepthwiseConv2D(DepthwiseConv2DConfig config)
    : impl_(std::make_unique<Impl>(std::move(config))) {}
DepthwiseConv2D::~DepthwiseConv2D() = default;
DepthwiseConv2D::DepthwiseConv2D(DepthwiseConv2D&&) noexcept = default;
DepthwiseConv2D& DepthwiseConv2D::operator=(DepthwiseConv2D&&) noexcept = default;

std::vector<std::string> DepthwiseConv2D::weight_names() const {
  if (impl_->config.use_bias) return {"kernel", "bias"};
  return {"kernel"};
}

void DepthwiseConv2D::build(const Shape& input_shape) { impl_->build(input_shape); }

bool DepthwiseConv2D::built() const { return impl_->state.current() != nullptr; }

void DepthwiseConv2D::set_weights(const std::vector<Tensor>& weights) {
  const DepthwiseConv2DConfig& config = impl_->config;
  require_weight_count(weights, weight_names());
  const int64_t c =
      depthwise_kernel_channels(weights[0], config.kernel_size, config.depth_multiplier, "kernel");
  if (config.use_bias &&
      weights[1].shape != Shape{depthwise_channels(c, config.depth_multiplier)}) {
    throw Error(ErrorKind::invalid_input, "bias shape " + shape_to_string(weights[1].shape) +
                                              " does not match " + std::to_string(c) +
                                              " input channels times depth_multiplier " +
                                              std::to_string(config.depth_multiplier));
  }
  impl_->install(c, weights[0], config.use_bias ? &weights[1] : nullptr);
}

std::vector<Tensor> DepthwiseConv2D::get_weights() const {
  const auto steps = impl_->state.current();
  if (!steps) return {};
  std::vector<Tensor> weights = steps->convs[0]->get_weights();
  const DepthwiseConv2DConfig& config = impl_->config;
  weights[0] = reshaped(weights[0], {config.kernel_size.h, config.kernel_size.w, steps->in_channels,
                                     config.depth_multiplier});
  return weights;
}

Shape DepthwiseConv2D::compute_output_shape(const Shape& input_shape) const {
  const int64_t c = input_channels(input_shape, impl_->config.data_format);
  return make_problem(depthwise_as_conv2d(impl_->config, c), input_shape).output_shape();
}

Tensor DepthwiseConv2D::operator()(const Tensor& input) {
  const auto steps = impl_->state.for_input(input.shape, impl_->config.data_format,
                                            [this](const Shape& s) { impl_->build(s); });
  return (*steps->convs[0])(input);
}

std::vector<Decision> DepthwiseConv2D::decisions(const Shape& input_shape) const {
  const int64_t c = input_channels(input_shape, impl_->config.data_format);
  std::lock_guard<std::mutex> lock(impl_->state.mutex);
  return {decide(make_problem(depthwise_as_conv2d(impl_->config, c), input_shape),
                 impl_->state.device, impl_->state.options)};
}

std::string DepthwiseConv2D::explain(const Shape& input_shape) const {
  return decisions(input_shape).front().to_text();
}

void DepthwiseConv2D::set_device(Device device) {
  resolve_device(device);
  impl_->state.set_device(device);
}

void DepthwiseConv2D::set_options(const Options& options) { impl_->state.set_options(options); }

std::string DepthwiseConv2D::get_config() const { return depthwise_config_to_json(impl_->config); }

DepthwiseConv2D DepthwiseConv2D::from_config(const std::string& json) {
  return DepthwiseConv2D(parse_depthwise_config_json(json));
}

const DepthwiseConv2DConfig& DepthwiseConv2D::config() const { return impl_->config; }

// ---- SeparableConv2D ----

struct SeparableConv2D::Impl {
  SeparableConv2DConfig config;
  Composite state;

  explicit Impl(SeparableConv2DConfig c) : config(std::move(c)) { validate_config(config); }

  void install(int64_t c, const Tensor& depthwise, const Tensor& pointwise, const Tensor* bias) {
    std::vector<Tensor> pointwise_weights = {pointwise};
    if (bias) pointwise_weights.push_back(*bias);
    state.install(c, {separable_depthwise_step(config, c), separable_pointwise_step(config)},
                  {{reshaped(depthwise, {config.kernel_size.h, config.kernel_size.w, 1,
                                         depthwise_channels(c, config.depth_multiplier)})},
                   pointwise_weights});
  }
  void build(const Shape& input_shape) {
    const int64_t c = input_channels(input_shape, config.data_format);
    const int64_t m = config.depth_multiplier;
    const Shape depthwise_shape = {config.kernel_size.h, config.kernel_size.w, c, m};
    const Shape pointwise_shape = {1, 1, c * m, config.filters};
    std::optional<Tensor> bias;
    if (config.use_bias) {
      bias =
          Tensor({config.filters}, detail::initialize(config.bias_initializer, {config.filters}));
    }
    install(
        c,
        Tensor(depthwise_shape, detail::initialize(config.depthwise_initializer, depthwise_shape)),
        Tensor(pointwise_shape, detail::initialize(config.pointwise_initializer, pointwise_shape)),
        bias ? &*bias : nullptr);
  }
};

SeparableConv2D::SeparableConv2D(int64_t filters, Pair kernel_size, Pair strides,
                                 const std::string& padding, const std::string& data_format,
                                 Pair dilation_rate, int64_t depth_multiplier,
                                 const std::string& activation, bool use_bias,
                                 Initializer depthwise_initializer,
                                 Initializer pointwise_initializer, Initializer bias_initializer) {
  SeparableConv2DConfig c;
  c.filters = filters;
  c.kernel_size = kernel_size;
  c.strides = strides;
  c.padding = parse_padding(padding);
  c.data_format = parse_data_format(data_format);
  c.dilation_rate = dilation_rate;
  c.depth_multiplier = depth_multiplier;
  c.activation = activation;
  c.use_bias = use_bias;
  c.depthwise_initializer = std::move(depthwise_initializer);
  c.pointwise_initializer = std::move(pointwise_initializer);
  c.bias_initializer = std::move(bias_initializer);
  impl_ = std::make_unique<Impl>(std::move(c));
}

SeparableConv2D::SeparableConv2D(SeparableConv2DConfig config)
    : impl_(std::make_unique<Impl>(std::move(config))) {}
SeparableConv2D::~SeparableConv2D() = default;
SeparableConv2D::SeparableConv2D(SeparableConv2D&&) noexcept = default;
SeparableConv2D& SeparableConv2D::operator=(SeparableConv2D&&) noexcept = default;

std::vector<std::string> SeparableConv2D::weight_names() const {
  if (impl_->config.use_bias) return {"depthwise_kernel", "pointwise_kernel", "bias"};
  return {"depthwise_kernel", "pointwise_kernel"};
}

void SeparableConv2D::build(const Shape& input_shape) { impl_->build(input_shape); }

bool SeparableConv2D::built() const { return impl_->state.current() != nullptr; }

void SeparableConv2D::set_weights(const std::vector<Tensor>& weights) {
  const SeparableConv2DConfig& config = impl_->config;
  require_weight_count(weights, weight_names());
  const int64_t c = depthwise_kernel_channels(weights[0], config.kernel_size,
                                              config.depth_multiplier, "depthwise_kernel");
  const Shape pointwise_shape = {1, 1, depthwise_channels(c, config.depth_multiplier),
                                 config.filters};
  if (weights[1].shape != pointwise_shape) {
    throw Error(ErrorKind::invalid_input, "pointwise_kernel shape " +
                                              shape_to_string(weights[1].shape) +
                                              " does not match the config and the depthwise "
                                              "kernel: expected " +
                                              shape_to_string(pointwise_shape));
  }
  if (config.use_bias && weights[2].shape != Shape{config.filters}) {
    throw Error(ErrorKind::invalid_input, "bias shape " + shape_to_string(weights[2].shape) +
                                              " does not match filters " +
                                              std::to_string(config.filters));
  }
  impl_->install(c, weights[0], weights[1], config.use_bias ? &weights[2] : nullptr);
}

std::vector<Tensor> SeparableConv2D::get_weights() const {
  const auto steps = impl_->state.current();
  if (!steps) return {};
  const SeparableConv2DConfig& config = impl_->config;
  const std::vector<Tensor> depthwise = steps->convs[0]->get_weights();
  std::vector<Tensor> weights = {reshaped(
      depthwise[0],
      {config.kernel_size.h, config.kernel_size.w, steps->in_channels, config.depth_multiplier})};
  for (const Tensor& t : steps->convs[1]->get_weights()) weights.push_back(t);
  return weights;
}

Shape SeparableConv2D::compute_output_shape(const Shape& input_shape) const {
  const int64_t c = input_channels(input_shape, impl_->config.data_format);
  const Shape middle =
      make_problem(separable_depthwise_step(impl_->config, c), input_shape).output_shape();
  return make_problem(separable_pointwise_step(impl_->config), middle).output_shape();
}

Tensor SeparableConv2D::operator()(const Tensor& input) {
  const auto steps = impl_->state.for_input(input.shape, impl_->config.data_format,
                                            [this](const Shape& s) { impl_->build(s); });
  return (*steps->convs[1])((*steps->convs[0])(input));
}

std::vector<Decision> SeparableConv2D::decisions(const Shape& input_shape) const {
  const int64_t c = input_channels(input_shape, impl_->config.data_format);
  const Problem depthwise = make_problem(separable_depthwise_step(impl_->config, c), input_shape);
  const Problem pointwise =
      make_problem(separable_pointwise_step(impl_->config), depthwise.output_shape());
  std::lock_guard<std::mutex> lock(impl_->state.mutex);
  return {decide(depthwise, impl_->state.device, impl_->state.options),
          decide(pointwise, impl_->state.device, impl_->state.options)};
}

std::string SeparableConv2D::explain(const Shape& input_shape) const {
  return joined_explanations({"depthwise step", "pointwise step"}, decisions(input_shape));
}

void SeparableConv2D::set_device(Device device) {
  resolve_device(device);
  impl_->state.set_device(device);
}

void SeparableConv2D::set_options(const Options& options) { impl_->state.set_options(options); }

std::string SeparableConv2D::get_config() const { return separable_config_to_json(impl_->config); }

SeparableConv2D SeparableConv2D::from_config(const std::string& json) {
  return SeparableConv2D(parse_separable_config_json(json));
}

const SeparableConv2DConfig& SeparableConv2D::config() const { return impl_->config; }

// ---- the factory ----

std::unique_ptr<Layer> layer_from_config(const std::string& json, bool keras2_hard_sigmoid) {
  const std::string cls = layer_class_name(json);
  if (cls == "DepthwiseConv2D") {
    DepthwiseConv2DConfig c = parse_depthwise_config_json(json);
    c.keras2_hard_sigmoid = keras2_hard_sigmoid;
    return std::make_unique<DepthwiseConv2D>(std::move(c));
  }
  if (cls == "SeparableConv2D") {
    SeparableConv2DConfig c = parse_separable_config_json(json);
    c.keras2_hard_sigmoid = keras2_hard_sigmoid;
    return std::make_unique<SeparableConv2D>(std::move(c));
  }
  Conv2DConfig c = parse_config_json(json);
  c.keras2_hard_sigmoid = keras2_hard_sigmoid;
  return std::make_unique<Conv2D>(std::move(c));
}

}  // namespace halconv
