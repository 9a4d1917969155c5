// Keras Conv2D configuration and the resolved Problem one call runs.
//
// Thread-safety: plain values and pure functions; any thread may call them at any time.
#pragma once

#include <array>
#include <cstdint>
#include <optional>
#include <stdexcept>
#include <string>
#include <vector>

#include "halconv/activation.h"
#include "halconv/error.h"

namespace halconv {

enum class DataFormat { channels_last, channels_first };
enum class Padding { valid, same };

// A Keras (height, width) argument: an int or a pair, as Keras accepts.
struct Pair {
  Pair(int64_t both) : h(both), w(both) {}  // NOLINT: implicit like Keras' int form
  Pair(int64_t height, int64_t width) : h(height), w(width) {}
  int64_t h, w;
};

// A Keras initializer by name with its arguments (unused ones are ignored).
struct Initializer {
  Initializer(const char* initializer_name) : name(initializer_name) {}  // NOLINT
  Initializer(std::string initializer_name = "glorot_uniform")
      : name(std::move(initializer_name)) {}
  std::string name;
  double value = 0.0;                    // constant
  double mean = 0.0, stddev = 0.05;      // random_normal, truncated_normal
  double minval = -0.05, maxval = 0.05;  // random_uniform
  std::optional<uint64_t> seed;          // unseeded draws use a fixed default seed
};

struct Conv2DConfig {
  std::string name = "conv2d";
  int64_t filters = 0;
  Pair kernel_size{1};
  Pair strides{1};
  Padding padding = Padding::valid;
  DataFormat data_format = DataFormat::channels_last;
  Pair dilation_rate{1};
  int64_t groups = 1;
  std::string activation = "linear";
  // Keras 3's hard_sigmoid is relu6(x + 3) / 6; this selects Keras 2's clip(0.2x + 0.5, 0, 1).
  bool keras2_hard_sigmoid = false;
  bool use_bias = true;
  Initializer kernel_initializer{"glorot_uniform"};
  Initializer bias_initializer{"zeros"};
};

using Shape = std::vector<int64_t>;

// One call, fully resolved: what Keras derives (output shape, SAME padding) is computed once here.
struct Problem {
  DataFormat data_format = DataFormat::channels_last;
  int64_t batch = 0, in_h = 0, in_w = 0, in_c = 0;
  int64_t kernel_h = 0, kernel_w = 0, filters = 0;
  int64_t stride_h = 1, stride_w = 1, dilation_h = 1, dilation_w = 1;
  int64_t groups = 1;
  Activation activation = Activation::linear;
  bool use_bias = true;
  int64_t out_h = 0, out_w = 0;
  int64_t pad_top = 0, pad_bottom = 0, pad_left = 0, pad_right = 0;

  Shape input_shape() const;   // in data_format's order
  Shape conv_shape() const;    // the convolution's output, before an axis activation
  Shape output_shape() const;  // after the activation (glu halves the last axis)
  Shape kernel_shape() const;  // Keras layout (kh, kw, in_channels / groups, filters)
  int64_t output_elements() const;
  // A compact one-line form for logs and benchmarks, e.g.
  // "mb1_56x56x64_k3x3_s1x1_d1x1_g1_oc64_nhwc".
  std::string to_string() const;
};

// Output size and TensorFlow's padding along one spatial axis; the only place that rule lives.
struct AxisGeometry {
  int64_t out, pad_before, pad_after;
};
AxisGeometry resolve_axis(int64_t in, int64_t kernel, int64_t stride, int64_t dilation,
                          Padding padding);

// Validates a config on its own (what Keras checks in the constructor).
void validate_config(const Conv2DConfig& config);
// Validates the config against an input shape and resolves everything; throws Error.
Problem make_problem(const Conv2DConfig& config, const Shape& input_shape);

// Keras activation names; parse_activation throws an Error listing the valid names.
Activation parse_activation(const std::string& name, bool keras2_hard_sigmoid = false);
std::string activation_name(Activation activation);
std::vector<std::string> activation_names();

// Keras' padding and data_format strings (case-insensitive, as Keras lowercases them).
Padding parse_padding(const std::string& name);
DataFormat parse_data_format(const std::string& name);

std::string shape_to_string(const Shape& shape);

}  // namespace halconv
