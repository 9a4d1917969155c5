// What the variant suites share: forcing a variant, running a case against the float64
// reference, and drawing random cases from a variant's shape class.
#pragma once

#include <gtest/gtest.h>

#include <cmath>
#include <cstdlib>
#include <random>
#include <string>
#include <utility>
#include <vector>

#include "execution.h"
#include "halconv/halconv.h"
#include "reference.h"
#include "registry.h"
#include "variant_layers.h"

namespace halconv {

using testing::random_values;
using testing::reference_conv2d;
using testing::relative_error;

inline constexpr double kTolerance = 1e-4;

// Options that force one compiled variant, and for a CPU variant one of its ISA objects, maybe
// with streamed output bands (Options::stream_rows).
inline Options forced(const std::string& variant, Isa isa = Isa::automatic,
                      int64_t stream_rows = -1) {
  Options options;
  options.variant = variant;
  options.isa = isa;
  options.stream_rows = stream_rows;
  return options;
}

// The ISAs whose objects this CPU runs, best first: each CPU variant's tests run every one.
inline std::vector<Isa> host_isas() {
  std::vector<Isa> isas;
  for (const detail::Variant& v : detail::variants()) {
    if (v.backend != Device::cpu || v.isa_objects == nullptr) continue;
    for (const IsaObject* o = v.isa_objects; o->isa != nullptr; o++) {
      if (detail::cpu_object(v, parse_isa(o->isa)).first == o->isa)
        isas.push_back(parse_isa(o->isa));
    }
    break;
  }
  return isas;
}

// Runs one case (under `options`) and the reference; returns the relative error.
inline double run_case(const Conv2DConfig& config, const Shape& input_shape, unsigned seed,
                       Device device, const Options& options = {}) {
  const Problem p = make_problem(config, input_shape);
  const std::vector<float> input = random_values(Tensor(p.input_shape()).data.size(), seed);
  const std::vector<float> kernel = random_values(Tensor(p.kernel_shape()).data.size(), seed + 1);
  const std::vector<float> bias = random_values(static_cast<size_t>(p.filters), seed + 2);
  const Plan plan(p, kernel.data(), bias.data(), device, options);
  std::vector<float> output(static_cast<size_t>(p.output_elements()), NAN);
  std::vector<float> workspace(plan.workspace_floats());
  plan.run(input.data(), output.data(), workspace.data());
  return relative_error(output, reference_conv2d(p, input, kernel, bias));
}

// One Conv2D case in one line, in the manner of XNNPACK's operator testers: the fields a case
// names, everything else Keras' defaults; the input shape is laid out for the data format inside.
// ConvCase().channels(3).filters(64).kernel(1).chosen() == "conv2d_nhwc_k1x1_sr_d1_c4_cpu".
class ConvCase {
 public:
  ConvCase& nchw() { return config_.data_format = DataFormat::channels_first, *this; }
  ConvCase& batch(int64_t n) { return batch_ = n, *this; }
  ConvCase& image(int64_t height, int64_t width) { return h_ = height, w_ = width, *this; }
  ConvCase& channels(int64_t c) { return c_ = c, *this; }
  ConvCase& filters(int64_t f) { return config_.filters = f, *this; }
  ConvCase& kernel(int64_t k) { return config_.kernel_size = k, *this; }
  ConvCase& stride(int64_t s) { return config_.strides = s, *this; }
  ConvCase& dilation(int64_t d) { return config_.dilation_rate = d, *this; }
  // (height, width) forms, for layers whose axes differ.
  ConvCase& kernel(int64_t h, int64_t w) { return config_.kernel_size = Pair(h, w), *this; }
  ConvCase& stride(int64_t h, int64_t w) { return config_.strides = Pair(h, w), *this; }
  ConvCase& dilation(int64_t h, int64_t w) { return config_.dilation_rate = Pair(h, w), *this; }
  ConvCase& groups(int64_t g) { return config_.groups = g, *this; }
  ConvCase& valid() { return config_.padding = Padding::valid, *this; }
  // For a test that loops over both paddings; valid() is the common case's short form.
  ConvCase& padding(Padding p) { return config_.padding = p, *this; }
  ConvCase& activation(const std::string& a) { return config_.activation = a, *this; }

  const Conv2DConfig& config() const { return config_; }
  Shape shape() const {
    return config_.data_format == DataFormat::channels_last ? Shape{batch_, h_, w_, c_}
                                                            : Shape{batch_, c_, h_, w_};
  }
  Problem problem() const { return make_problem(config_, shape()); }
  // The variant automatic selection picks on the CPU.
  std::string chosen() const { return select_variant(problem(), Device::cpu).chosen; }
  // The case run (under `options`) against the reference: its relative error (run_case).
  double run(unsigned seed, Device device = Device::cpu, const Options& options = {}) const {
    return run_case(config_, shape(), seed, device, options);
  }

 private:
  Conv2DConfig config_ = [] {
    Conv2DConfig c;
    c.filters = 8;
    c.kernel_size = 3;
    c.padding = Padding::same;
    return c;
  }();
  int64_t batch_ = 1, h_ = 12, w_ = 12, c_ = 8;
};

// A random problem the variant supports, drawn from tail-hunting sizes.
struct CaseGenerator {
  const detail::Variant& v;
  std::mt19937 rng;

  template <typename T>
  T pick(std::initializer_list<T> options) {
    std::uniform_int_distribution<size_t> index(0, options.size() - 1);
    return *(options.begin() + index(rng));
  }

  // A problem the variant serves: drawn again while its shape class declines the draw.
  std::pair<Conv2DConfig, Shape> next() {
    constexpr int kAttempts = 20000;
    std::pair<Conv2DConfig, Shape> drawn = draw();
    for (int attempt = 1; attempt < kAttempts; attempt++) {
      if (v.decline_reason(make_problem(drawn.first, drawn.second), v.backend).empty()) break;
      drawn = draw();
    }
    return drawn;
  }

  std::pair<Conv2DConfig, Shape> draw() {
    Conv2DConfig c;
    c.data_format = v.layout;
    c.padding = pick({Padding::valid, Padding::same});
    const int64_t k = v.kernel ? v.kernel : pick<int64_t>({1, 2, 3, 5});
    c.kernel_size = v.kernel ? Pair(k) : Pair(k, pick<int64_t>({1, 2, 3}));
    c.strides = v.stride ? Pair(v.stride) : Pair(pick<int64_t>({1, 2, 3}), pick<int64_t>({1, 2}));
    c.dilation_rate =
        v.dilation ? Pair(v.dilation) : Pair(pick<int64_t>({1, 2, 3}), pick<int64_t>({1, 2}));
    // The layer's channels and groups come from one of a few families of real layers, drawn
    // without regard to the variant: next() keeps the draws its shape class serves (the
    // runtime's own rule), so no groups mode's domain is restated here. Counts hunt tails: 67
    // and 130 span several reduction chunks (reduction_chunk 64); 16 and 32 are filter bounds.
    int64_t in_c = pick<int64_t>({1, 3, 4, 7, 8, 9, 15, 16, 17, 31, 33, 67, 130});
    int64_t filters = pick<int64_t>({1, 5, 8, 15, 16, 17, 31, 32, 33, 63, 65});
    switch (pick({0, 1, 2, 3, 4, 5})) {
      case 0:  // dense
        break;
      case 1:  // depthwise, with a channel multiplier of 1 to 3
        in_c = pick<int64_t>({2, 3, 9, 16, 17, 33});
        c.groups = in_c;
        filters = in_c * pick<int64_t>({1, 1, 2, 3});
        break;
      case 2:  // few channels and filters per group
        c.groups = pick<int64_t>({2, 4});
        in_c = c.groups * pick<int64_t>({1, 2, 4, 5});
        filters = c.groups * pick<int64_t>({1, 3, 8, 17});
        break;
      case 3: {  // block-diagonal: at least 4 filters per group, counts around vector widths
        c.groups = pick<int64_t>({2, 3, 8});
        in_c = c.groups * pick<int64_t>({1, 3, 4, 20});
        filters = c.groups * pick<int64_t>({4, 5, 6, 8, 12, 16, 17, 32});
        break;
      }
      case 4:  // 4 channels and 4 filters per group (ResNeXt 32x4d), whole vectors and tails
        c.groups = pick<int64_t>({2, 3, 4, 5, 8, 9});
        in_c = filters = 4 * c.groups;
        break;
      default:  // many channels per group
        in_c = 32;
        c.groups = pick<int64_t>({2, 8});
        filters = c.groups * pick<int64_t>({1, 4, 5});
        break;
    }
    c.filters = filters;
    const int64_t batch = pick<int64_t>({1, 2});
    // A deep-layer variant's output-pixel bound caps the image (stride 1 keeps it).
    const int64_t max_side =
        v.max_output_pixels > 0
            ? static_cast<int64_t>(std::sqrt(static_cast<double>(v.max_output_pixels)))
            : 10;
    const int64_t h = std::uniform_int_distribution<int64_t>(1, max_side)(rng);
    const int64_t w = std::uniform_int_distribution<int64_t>(1, max_side)(rng);
    Shape shape = c.data_format == DataFormat::channels_last ? Shape{batch, h, w, in_c}
                                                             : Shape{batch, in_c, h, w};
    const bool fits =
        resolve_axis(h, c.kernel_size.h, c.strides.h, c.dilation_rate.h, c.padding).out > 0 &&
        resolve_axis(w, c.kernel_size.w, c.strides.w, c.dilation_rate.w, c.padding).out > 0;
    if (!fits) c.padding = Padding::same;  // SAME always has an output
    return {c, shape};
  }
};

inline std::vector<std::string> variant_names() {
  std::vector<std::string> names;
  for (const auto& v : detail::variants()) names.push_back(v.name);
  return names;
}

}  // namespace halconv
