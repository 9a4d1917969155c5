// Building and validating a Problem: every check Keras makes, plus the limits of int32 Halide
// buffers.
#include <algorithm>
#include <cctype>
#include <climits>
#include <sstream>

#include "halconv/config.h"
#include "tile_reach.h"

namespace halconv {
namespace {

// Halide buffers have int32 extents and, without the large_buffers feature, < 2^31 bytes.
constexpr int64_t kMaxBufferBytes = INT32_MAX;

void require_positive(const char* what, int64_t value) {
  if (value <= 0) {
    throw Error(ErrorKind::invalid_config,
                std::string(what) + " must be a positive integer, got " + std::to_string(value));
  }
  if (value > INT32_MAX) {
    throw Error(ErrorKind::unsupported, std::string(what) + " " + std::to_string(value) +
                                            " exceeds the supported maximum " +
                                            std::to_string(INT32_MAX));
  }
}

int64_t checked_elements(const char* what, const Shape& shape) {
  int64_t count = 1;
  for (int64_t d : shape) {
    if (__builtin_mul_overflow(count, d, &count) || count > kMaxBufferBytes / 4) {
      throw Error(ErrorKind::invalid_input,
                  std::string(what) + " shape " + shape_to_string(shape) +
                      " is too large: more than 2^31 bytes in one buffer");
    }
  }
  return count;
}

// The compiled kernels compute input coordinates (output * stride, plus a tap's offset) in int32
// for whole tiles, past the output's end too. On an axis with one output the stride is never
// applied (the runtime runs it at stride 1: detail::taps_reading_input), and the taps run are those
// that read input (so their offsets stay within the padded input); elsewhere the stride is at most
// the padded input's extent, so only multi-million-pixel axes at multi-million strides fail here.
// kTileOutputsPastEnd (tile_reach.h) derives from the schedule data, so a retuned tile moves it.
void require_int32_coordinates(const char* stride_name, int64_t out, int64_t stride) {
  if (out > 1 && (out - 1 + kTileOutputsPastEnd) * stride > INT32_MAX) {
    throw Error(ErrorKind::invalid_input,
                std::string(stride_name) + " " + std::to_string(stride) + " with " +
                    std::to_string(out) +
                    " outputs on that axis puts the compiled kernels' input coordinates past 2^31");
  }
}

std::string lower(std::string s) {
  std::transform(s.begin(), s.end(), s.begin(), [](unsigned char c) { return std::tolower(c); });
  return s;
}

}  // namespace

Padding parse_padding(const std::string& name) {
  const std::string padding = lower(name);
  if (padding == "valid") return Padding::valid;
  if (padding == "same") return Padding::same;
  throw Error(ErrorKind::invalid_config,
              "unknown padding '" + name + "'; valid values are: valid, same");
}

DataFormat parse_data_format(const std::string& name) {
  const std::string format = lower(name);
  if (format == "channels_last") return DataFormat::channels_last;
  if (format == "channels_first") return DataFormat::channels_first;
  throw Error(ErrorKind::invalid_config, "unknown data_format '" + name +
                                             "'; valid values are: channels_last, channels_first");
}

std::string shape_to_string(const Shape& shape) {
  std::string s = "(";
  for (size_t i = 0; i < shape.size(); i++) {
    s += (i ? ", " : "") + std::to_string(shape[i]);
  }
  return s + (shape.size() == 1 ? ",)" : ")");
}

AxisGeometry resolve_axis(int64_t in, int64_t kernel, int64_t stride, int64_t dilation,
                          Padding padding) {
  const int64_t effective_kernel = (kernel - 1) * dilation + 1;
  if (padding == Padding::valid) {
    const int64_t out = in >= effective_kernel ? (in - effective_kernel) / stride + 1 : 0;
    return {out, 0, 0};
  }
  // TensorFlow's SAME: the output covers ceil(in / stride); odd padding goes at the end.
  const int64_t out = (in + stride - 1) / stride;
  const int64_t total = std::max<int64_t>((out - 1) * stride + effective_kernel - in, 0);
  return {out, total / 2, total - total / 2};
}

void validate_config(const Conv2DConfig& config) {
  require_positive("filters", config.filters);
  require_positive("kernel_size[0]", config.kernel_size.h);
  require_positive("kernel_size[1]", config.kernel_size.w);
  require_positive("strides[0]", config.strides.h);
  require_positive("strides[1]", config.strides.w);
  require_positive("dilation_rate[0]", config.dilation_rate.h);
  require_positive("dilation_rate[1]", config.dilation_rate.w);
  require_positive("groups", config.groups);
  if (config.filters % config.groups != 0) {
    throw Error(ErrorKind::invalid_config, "filters (" + std::to_string(config.filters) +
                                               ") must be divisible by groups (" +
                                               std::to_string(config.groups) + ")");
  }
  const Pair k = config.kernel_size, d = config.dilation_rate;
  if ((k.h - 1) * d.h + 1 > INT32_MAX || (k.w - 1) * d.w + 1 > INT32_MAX) {
    throw Error(ErrorKind::unsupported, "the dilated kernel extent of kernel_size " +
                                            shape_to_string({k.h, k.w}) + " at dilation_rate " +
                                            shape_to_string({d.h, d.w}) + " exceeds 2^31");
  }
  parse_activation(config.activation, config.keras2_hard_sigmoid);
}

Problem make_problem(const Conv2DConfig& config, const Shape& input_shape) {
  validate_config(config);
  if (input_shape.size() != 4) {
    throw Error(ErrorKind::invalid_input, "Conv2D expects an input of rank 4, got rank " +
                                              std::to_string(input_shape.size()) + " with shape " +
                                              shape_to_string(input_shape));
  }
  for (size_t i = 0; i < 4; i++) {
    if (input_shape[i] <= 0) {
      throw Error(ErrorKind::invalid_input, "input shape " + shape_to_string(input_shape) +
                                                " has a non-positive dimension " +
                                                std::to_string(input_shape[i]));
    }
  }
  checked_elements("input", input_shape);

  Problem p;
  p.data_format = config.data_format;
  const bool last = config.data_format == DataFormat::channels_last;
  p.batch = input_shape[0];
  p.in_c = last ? input_shape[3] : input_shape[1];
  p.in_h = last ? input_shape[1] : input_shape[2];
  p.in_w = last ? input_shape[2] : input_shape[3];
  p.kernel_h = config.kernel_size.h;
  p.kernel_w = config.kernel_size.w;
  p.filters = config.filters;
  p.stride_h = config.strides.h;
  p.stride_w = config.strides.w;
  p.dilation_h = config.dilation_rate.h;
  p.dilation_w = config.dilation_rate.w;
  p.groups = config.groups;
  p.activation = parse_activation(config.activation, config.keras2_hard_sigmoid);
  p.use_bias = config.use_bias;

  if (p.in_c % p.groups != 0) {
    throw Error(ErrorKind::invalid_input, "input channels (" + std::to_string(p.in_c) +
                                              ") must be divisible by groups (" +
                                              std::to_string(p.groups) + ")");
  }
  const AxisGeometry rows =
      resolve_axis(p.in_h, p.kernel_h, p.stride_h, p.dilation_h, config.padding);
  const AxisGeometry cols =
      resolve_axis(p.in_w, p.kernel_w, p.stride_w, p.dilation_w, config.padding);
  if (rows.out <= 0 || cols.out <= 0) {
    throw Error(ErrorKind::invalid_input,
                "non-positive output size " + shape_to_string({rows.out, cols.out}) +
                    " for input " + shape_to_string(input_shape) + ", kernel_size " +
                    shape_to_string({p.kernel_h, p.kernel_w}) + ", dilation_rate " +
                    shape_to_string({p.dilation_h, p.dilation_w}) + " and padding valid");
  }
  require_int32_coordinates("strides[0]", rows.out, p.stride_h);
  require_int32_coordinates("strides[1]", cols.out, p.stride_w);
  p.out_h = rows.out;
  p.out_w = cols.out;
  p.pad_top = rows.pad_before;
  p.pad_bottom = rows.pad_after;
  p.pad_left = cols.pad_before;
  p.pad_right = cols.pad_after;

  if (p.activation == Activation::glu) {
    const int64_t axis = last ? p.filters : p.out_w;
    if (axis % 2 != 0) {
      throw Error(last ? ErrorKind::invalid_config : ErrorKind::invalid_input,
                  "activation glu halves the last axis, which must be even; it is " +
                      std::to_string(axis) + (last ? " (filters)" : " (output width)"));
    }
  }
  checked_elements("kernel", p.kernel_shape());
  checked_elements("output", p.conv_shape());
  return p;
}

Shape Problem::input_shape() const {
  return data_format == DataFormat::channels_last ? Shape{batch, in_h, in_w, in_c}
                                                  : Shape{batch, in_c, in_h, in_w};
}

Shape Problem::conv_shape() const {
  return data_format == DataFormat::channels_last ? Shape{batch, out_h, out_w, filters}
                                                  : Shape{batch, filters, out_h, out_w};
}

Shape Problem::output_shape() const {
  Shape s = conv_shape();
  if (activation == Activation::glu) {
    s[3] /= 2;  // the last axis: channels or width
  }
  return s;
}

Shape Problem::kernel_shape() const { return {kernel_h, kernel_w, in_c / groups, filters}; }

int64_t Problem::output_elements() const {
  int64_t count = 1;
  for (int64_t d : output_shape()) count *= d;
  return count;
}

std::string Problem::to_string() const {
  std::ostringstream s;
  s << "mb" << batch << "_" << in_h << "x" << in_w << "x" << in_c << "_k" << kernel_h << "x"
    << kernel_w << "_s" << stride_h << "x" << stride_w << "_d" << dilation_h << "x" << dilation_w
    << "_g" << groups << "_oc" << filters << "_pad" << pad_top << "." << pad_bottom << "."
    << pad_left << "." << pad_right << "_"
    << (data_format == DataFormat::channels_last ? "nhwc" : "nchw") << "_"
    << activation_name(activation);
  return s.str();
}

}  // namespace halconv
