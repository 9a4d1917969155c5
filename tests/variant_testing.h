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

#include "halconv/halconv.h"
#include "reference.h"
#include "registry.h"
#include "variant_layers.h"

namespace halconv {

using testing::random_values;
using testing::reference_conv2d;
using testing::relative_error;

inline constexpr double kTolerance = 1e-4;

// Sets an environment variable for one scope.
class ScopedEnv {
 public:
  ScopedEnv(const char* name, const std::string& value) : name_(name) {
    setenv(name, value.c_str(), 1);
  }
  ~ScopedEnv() { unsetenv(name_); }

 private:
  const char* name_;
};

// Sets HALCONV_VARIANT for one scope.
class ForcedVariant : public ScopedEnv {
 public:
  explicit ForcedVariant(const std::string& name) : ScopedEnv("HALCONV_VARIANT", name) {}
};

// Runs one case through the forced variant and the reference; returns the relative error.
inline double run_case(const Conv2DConfig& config, const Shape& input_shape, unsigned seed,
                       Device device) {
  const Problem p = make_problem(config, input_shape);
  const std::vector<float> input = random_values(Tensor(p.input_shape()).data.size(), seed);
  const std::vector<float> kernel = random_values(Tensor(p.kernel_shape()).data.size(), seed + 1);
  const std::vector<float> bias = random_values(static_cast<size_t>(p.filters), seed + 2);
  const Plan plan(p, kernel.data(), bias.data(), device);
  std::vector<float> output(static_cast<size_t>(p.output_elements()), NAN);
  std::vector<float> workspace(plan.workspace_floats());
  plan.run(input.data(), output.data(), workspace.data());
  return relative_error(output, reference_conv2d(p, input, kernel, bias));
}

// A random problem the variant supports, drawn from tail-hunting sizes.
struct CaseGenerator {
  const detail::Variant& v;
  std::mt19937 rng;

  template <typename T>
  T pick(std::initializer_list<T> options) {
    std::uniform_int_distribution<size_t> index(0, options.size() - 1);
    return *(options.begin() + index(rng));
  }

  // A problem the variant serves: drawn again where a rule of its class declines the draw (the
  // direct deep-layer variants' odd output widths).
  std::pair<Conv2DConfig, Shape> next() {
    constexpr int kAttempts = 1000;
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
    // NCHW-by-channels dense and Winograd variants take layers with at least 16 inputs.
    const bool grouped_cv = v.groups == GroupsMode::narrow ||
                            v.groups == GroupsMode::block_diagonal ||
                            v.groups == GroupsMode::rotated;
    const bool many_inputs = (v.nchw_by_channels && !grouped_cv) || v.winograd;
    // 67 and 130 span several reduction chunks (reduction_chunk 64) with a tail.
    int64_t in_c = many_inputs ? pick<int64_t>({16, 17, 31, 33, 67, 130})
                               : pick<int64_t>({1, 3, 4, 7, 8, 9, 15, 16, 17, 31, 33, 67});
    // A few-filters variant (dense) gets its bound and below.
    int64_t filters = v.max_filters > 0 ? pick<int64_t>({1, 5, 8, 15, v.max_filters})
                                        : pick<int64_t>({1, 5, 8, 15, 16, 17, 31, 32, 33, 63, 65});
    if (v.groups == GroupsMode::narrow) {
      // groups > 1, 1 to kNarrowGroupChannels input channels per group.
      switch (pick({0, 1, 2, 3})) {
        case 0:  // depthwise with a channel multiplier
          in_c = pick<int64_t>({2, 3, 9, 17});
          c.groups = in_c;
          filters = in_c * pick<int64_t>({1, 2, 3});
          break;
        case 1:
          in_c = 4 * pick<int64_t>({1, 2, 5});
          c.groups = 2;
          filters = 2 * pick<int64_t>({1, 3, 8, 17});
          break;
        case 2:
          in_c = 32;
          c.groups = pick<int64_t>({2, 8});
          filters = c.groups * pick<int64_t>({1, 4, 5});
          break;
        default:
          in_c = 8;
          c.groups = 4;
          filters = 4 * pick<int64_t>({1, 5});
          break;
      }
    } else if (v.groups == GroupsMode::block_diagonal) {
      // At least kBlockDiagonalMinFilters filters per group: counts that divide the vector,
      // that it divides (the register tile too: 16, 32), and neither (5, 6, 12, 17); 1 to 20
      // input channels per group.
      const int64_t filters_per_group = pick<int64_t>({4, 5, 6, 8, 12, 16, 17, 32});
      const int64_t cin_per_group = pick<int64_t>({1, 3, 4, 20});
      c.groups = pick<int64_t>({2, 3, 8});
      in_c = c.groups * cin_per_group;
      filters = c.groups * filters_per_group;
    } else if (v.groups == GroupsMode::rotated || v.groups == GroupsMode::whole_groups) {
      // Whole 16-lane vectors of groups (4, 8) and tails (2, 3, 5, 9 groups: 9 is 2 vectors and 4
      // lanes).
      c.groups = pick<int64_t>({2, 3, 4, 5, 8, 9});
      in_c = filters = c.groups * kRotatedGroupChannels;
    } else if (v.groups == GroupsMode::depthwise) {
      c.groups = in_c;
      filters = in_c;
    } else if (v.groups == GroupsMode::grouped) {
      switch (pick({0, 1, 2, 3})) {
        case 1:  // depthwise with a channel multiplier
          c.groups = in_c;
          filters = in_c * pick<int64_t>({1, 2, 3});
          break;
        case 2:
          in_c = 4 * pick<int64_t>({1, 2, 5});
          c.groups = 2;
          filters = 2 * pick<int64_t>({1, 3, 8, 17});
          break;
        case 3:
          in_c = 8;
          c.groups = 4;
          filters = 4 * pick<int64_t>({1, 5});
          break;
        default:
          break;
      }
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
