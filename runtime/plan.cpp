// Plan: the variant chosen and the weights packed once; run() wraps caller memory, allocates
// nothing.
#include "halconv/plan.h"

#include <cstring>
#include <vector>

#include "halconv_axis_activation_cpu.h"
#include "registry.h"

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

}  // namespace

struct Plan::Impl {
  Problem problem;
  const detail::Variant* variant = nullptr;
  std::string variant_name;
  int64_t packed_filters = 0;
  std::vector<float> packed_kernel;  // Keras layout with the filter axis padded to whole tiles
  std::vector<float> packed_bias;
};

Plan::Plan(const Problem& problem, const float* kernel, const float* bias)
    : impl_(std::make_unique<Impl>()) {
  if (kernel == nullptr) throw Error("Plan: the kernel pointer is null");
  if (problem.use_bias && bias == nullptr) throw Error("Plan: use_bias is true but bias is null");
  impl_->problem = problem;
  impl_->variant = &detail::selected_variant(problem);
  impl_->variant_name = impl_->variant->name;

  const int64_t tile = impl_->variant->filter_tile();
  const int64_t filters = problem.filters;
  const int64_t padded = (filters + tile - 1) / tile * tile;
  const int64_t rows = problem.kernel_h * problem.kernel_w * (problem.in_c / problem.groups);
  impl_->packed_filters = padded;
  impl_->packed_kernel.assign(rows * padded, 0.0f);
  for (int64_t r = 0; r < rows; r++) {
    std::memcpy(&impl_->packed_kernel[r * padded], kernel + r * filters, filters * sizeof(float));
  }
  impl_->packed_bias.assign(padded, 0.0f);
  if (problem.use_bias) std::memcpy(impl_->packed_bias.data(), bias, filters * sizeof(float));
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
const std::string& Plan::variant() const { return impl_->variant_name; }

void Plan::run(const float* input, float* output, float* workspace) const {
  const Problem& p = impl_->problem;
  const bool axis_stage = is_axis_activation(p.activation);
  if (input == nullptr || output == nullptr) throw Error("Plan::run: a null input or output");
  if (axis_stage && workspace == nullptr) {
    throw Error("Plan::run: activation " + activation_name(p.activation) +
                " needs a workspace of workspace_floats() floats");
  }

  Dims4 in_dims = dense_dims(p.input_shape());
  Dims4 conv_dims = dense_dims(p.conv_shape());
  Dims4 out_dims = dense_dims(p.output_shape());
  halide_dimension_t kernel_dims[4] = {
      {0, static_cast<int32_t>(impl_->packed_filters), 1},
      {0, static_cast<int32_t>(p.in_c / p.groups), static_cast<int32_t>(impl_->packed_filters)},
      {0, static_cast<int32_t>(p.kernel_w),
       static_cast<int32_t>(impl_->packed_filters * (p.in_c / p.groups))},
      {0, static_cast<int32_t>(p.kernel_h),
       static_cast<int32_t>(impl_->packed_filters * (p.in_c / p.groups) * p.kernel_w)}};
  halide_dimension_t bias_dims[1] = {{0, static_cast<int32_t>(impl_->packed_filters), 1}};

  halide_buffer_t in_buf = wrap(input, in_dims.dim, 4);
  halide_buffer_t kernel_buf = wrap(impl_->packed_kernel.data(), kernel_dims, 4);
  halide_buffer_t bias_buf = wrap(impl_->packed_bias.data(), bias_dims, 1);
  float* conv_out = axis_stage ? workspace : output;
  halide_buffer_t conv_buf = wrap(conv_out, conv_dims.dim, 4);

  const int32_t conv_activation =
      axis_stage ? static_cast<int32_t>(Activation::linear) : static_cast<int32_t>(p.activation);
  detail::check_halide_status(
      impl_->variant->function(&in_buf, &kernel_buf, &bias_buf, static_cast<int32_t>(p.stride_w),
                               static_cast<int32_t>(p.stride_h), static_cast<int32_t>(p.dilation_w),
                               static_cast<int32_t>(p.dilation_h), static_cast<int32_t>(p.pad_top),
                               static_cast<int32_t>(p.pad_left), static_cast<int32_t>(p.groups),
                               static_cast<int32_t>(p.filters), conv_activation, &conv_buf),
      impl_->variant->name);
  if (axis_stage) {
    halide_buffer_t out_buf = wrap(output, out_dims.dim, 4);
    detail::check_halide_status(
        halconv_axis_activation_cpu(&conv_buf, static_cast<int32_t>(p.activation), &out_buf),
        "axis activation");
  }
}

}  // namespace halconv
