// Every compiled variant, forced through HALCONV_VARIANT, against the float64 reference on random
// data: tails around vector widths, spatial sizes 1..10, both layouts, odd and even sizes at
// stride 2 under SAME, groups and depthwise, and every activation.
#include <gtest/gtest.h>

#include <cmath>
#include <cstdlib>
#include <random>
#include <utility>

#include "halconv/halconv.h"
#include "reference.h"
#include "registry.h"
#include "variant_layers.h"

namespace halconv {
namespace {

using testing::random_values;
using testing::reference_conv2d;
using testing::relative_error;

constexpr double kTolerance = 1e-4;

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
double run_case(const Conv2DConfig& config, const Shape& input_shape, unsigned seed,
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

std::vector<std::string> variant_names() {
  std::vector<std::string> names;
  for (const auto& v : detail::variants()) names.push_back(v.name);
  return names;
}

// CUDA variants run where a CUDA device is present and are skipped elsewhere; OpenCL ones run on
// whatever OpenCL device there is (PoCL on the CPU in CI).
class EveryVariant : public ::testing::TestWithParam<std::string> {
 protected:
  void SetUp() override {
    const Device backend = variant().backend;
    for (const DeviceInfo& d : list_devices()) {
      if (d.device == backend) return;
    }
    if (backend == Device::cuda) GTEST_SKIP() << "no CUDA device";
    FAIL() << "no " << device_name(backend) << " device for " << GetParam();
  }
  const detail::Variant& variant() const { return detail::find_variant(GetParam()); }
  double run(const Conv2DConfig& config, const Shape& shape, unsigned seed) const {
    return run_case(config, shape, seed, variant().backend);
  }
};

TEST_P(EveryVariant, RandomTailCasesMatchReference) {
  const ForcedVariant forced(GetParam());
  CaseGenerator gen{variant(), std::mt19937(std::hash<std::string>()(GetParam()) & 0xffff)};
  for (int i = 0; i < 60; i++) {
    const auto [config, shape] = gen.next();
    const Problem p = make_problem(config, shape);
    ASSERT_EQ(variant().decline_reason(p, variant().backend), "") << p.to_string();
    EXPECT_LE(run(config, shape, 100 + i), kTolerance) << p.to_string();
  }
}

// Streamed output (runtime: Plan, detail::streamed_band_rows), forced on small outputs in bands of
// 3 rows: an odd count, so bands start at odd rows too (Winograd tiles then straddle the band
// start of the full problem), and the last band is short wherever the height is not a multiple.
TEST_P(EveryVariant, StreamedBandsMatchReference) {
  if (variant().backend != Device::cpu) GTEST_SKIP() << "streaming is for CPU outputs";
  const ForcedVariant forced(GetParam());
  const ScopedEnv bands("HALCONV_STREAM_ROWS", "3");
  CaseGenerator gen{variant(), std::mt19937(std::hash<std::string>()(GetParam()) & 0xfff)};
  for (int i = 0; i < 15; i++) {
    const auto [config, shape] = gen.next();
    const Problem p = make_problem(config, shape);
    EXPECT_LE(run(config, shape, 300 + i), kTolerance) << p.to_string();
  }
}

// SAME layers on small images with kernels larger than the variant's (or dilated past the image),
// whose outer taps read only padding: the variant runs the window of taps that read input
// (detail::taps_reading_input), with its padding shifted, below zero too, and its weights cut.
TEST_P(EveryVariant, PaddingOnlyTapsDroppedMatchReference) {
  const detail::Variant& v = variant();
  if (v.kernel > 0 && v.dilation == 1) {
    // Undilated, a SAME axis of `in` pixels keeps min(kernel, in + (out - 1) stride) taps, so a
    // window has v.kernel taps only for some sizes (never 2 at stride 1, nor 1, 3 or 7 at stride
    // 2). An axis with one output runs at stride 1, which a fixed-stride variant declines.
    bool possible = false;
    for (int64_t in = 1; in <= 2 * v.kernel; in++) {
      const int64_t stride = v.stride > 0 ? v.stride : 1;
      const int64_t out = (in + stride - 1) / stride;
      if (stride > 1 && out == 1) continue;
      possible |= in + (out - 1) * stride == v.kernel;
    }
    if (!possible) GTEST_SKIP() << "no SAME layer leaves this variant's kernel as a window";
  }
  const ForcedVariant forced(GetParam());
  CaseGenerator gen{v, std::mt19937(std::hash<std::string>()(GetParam()) & 0xff)};
  const auto pick = [&gen](std::initializer_list<int64_t> options) { return gen.pick(options); };
  int ran = 0;
  for (int attempt = 0; attempt < 2000 && ran < 12; attempt++) {
    auto [config, shape] = gen.next();
    config.padding = Padding::same;
    const auto kernel_extent = [&]() -> int64_t {
      return v.kernel ? v.kernel + pick({0, 2, 4}) : pick({2, 3, 4, 6});
    };
    config.kernel_size = Pair(kernel_extent(), kernel_extent());
    if (!v.dilation) config.dilation_rate = Pair(pick({1, 2, 5, 40}), pick({1, 3, 7, 100000}));
    const bool nhwc = v.layout == DataFormat::channels_last;
    shape[nhwc ? 1 : 2] = pick({1, 2, 3, 4, 9});
    shape[nhwc ? 2 : 3] = pick({1, 2, 3, 4, 9});
    const Problem p = make_problem(config, shape);
    const detail::KernelWindow window = detail::taps_reading_input(p);
    const Problem& q = window.problem;
    if (q.kernel_h == p.kernel_h && q.kernel_w == p.kernel_w) continue;  // nothing dropped
    if (!v.decline_reason(q, v.backend).empty()) continue;
    EXPECT_LE(run(config, shape, 500 + ran), kTolerance)
        << p.to_string() << " as " << q.to_string();
    ran++;
  }
  std::printf("%d windows\n", ran);
  EXPECT_GT(ran, 0) << "no window that the variant serves";
}

// An axis with one output never applies its stride, however large: the window runs it at stride
// 1 (a tile times a stride of 2^30 overflowed the int32 coordinates of a staged input).
TEST_P(EveryVariant, UnappliedHugeStridesMatchReference) {
  const detail::Variant& v = variant();
  if (v.stride > 1) GTEST_SKIP() << "a fixed-stride variant takes only its own stride";
  const ForcedVariant forced(GetParam());
  CaseGenerator gen{v, std::mt19937(std::hash<std::string>()(GetParam()) & 0xff)};
  int ran = 0;
  for (int attempt = 0; attempt < 500 && ran < 6; attempt++) {
    auto [config, shape] = gen.next();
    constexpr int64_t kHuge = int64_t{1} << 30;
    const int axes = attempt % 3;  // rows, columns or both
    if (axes != 1) config.strides.h = kHuge;
    if (axes != 0) config.strides.w = kHuge;
    const Problem p = make_problem(config, shape);
    if (!v.decline_reason(detail::taps_reading_input(p).problem, v.backend).empty()) continue;
    EXPECT_LE(run(config, shape, 700 + ran), kTolerance) << p.to_string();
    ran++;
  }
  std::printf("%d cases\n", ran);
  EXPECT_GT(ran, 0) << "no single-output case that the variant serves";
}

// SAME pads asymmetrically; odd and even sizes at stride 2 (or the variant's fixed stride) catch
// it.
TEST_P(EveryVariant, SameOddAndEvenSizes) {
  const detail::Variant& v = variant();
  const ForcedVariant forced(GetParam());
  for (int64_t size : {5, 6, 7, 8, 9, 10}) {
    Conv2DConfig c = testing::same_layer_for(v, 2);
    const testing::GroupedLayer layer =
        testing::grouped_layer_for(v, 17, v.max_filters > 0 ? v.max_filters - 1 : 17);
    c.filters = layer.filters;
    c.groups = layer.groups;
    const int64_t in_c = layer.in_c;
    const Shape shape = v.layout == DataFormat::channels_last ? Shape{1, size, size + 1, in_c}
                                                              : Shape{1, in_c, size, size + 1};
    const Problem p = make_problem(c, shape);
    if (!detail::serves_output_pixels(v, p)) continue;
    EXPECT_LE(run(c, shape, static_cast<unsigned>(size)), kTolerance) << size;
  }
}

TEST_P(EveryVariant, EveryActivation) {
  const detail::Variant& v = variant();
  const ForcedVariant forced(GetParam());
  std::vector<std::pair<std::string, bool>> activations;
  for (const std::string& name : activation_names()) activations.emplace_back(name, false);
  activations.emplace_back("hard_sigmoid", true);  // Keras 2's form
  for (const auto& [name, keras2] : activations) {
    Conv2DConfig c = testing::same_layer_for(v, 1);
    // Even filter counts: glu halves channels_last outputs.
    const testing::GroupedLayer layer =
        testing::grouped_layer_for(v, 18, v.max_filters > 0 ? v.max_filters : 18);
    c.filters = layer.filters;
    c.groups = layer.groups;
    c.activation = name;
    c.keras2_hard_sigmoid = keras2;
    const int64_t in_c = layer.in_c;
    Shape shape =
        v.layout == DataFormat::channels_last ? Shape{2, 7, 8, in_c} : Shape{2, in_c, 7, 8};
    if (!testing::widen_to_served_width(v, c, shape)) continue;
    EXPECT_LE(run(c, shape, 7), kTolerance) << name << (keras2 ? " (keras2)" : "");
  }
}

INSTANTIATE_TEST_SUITE_P(Compiled, EveryVariant, ::testing::ValuesIn(variant_names()),
                         [](const auto& info) { return info.param; });

TEST(Selection, EachBackendEndsWithItsGenericVariants) {
  for (Device backend : {Device::cpu, Device::cuda, Device::opencl}) {
    std::vector<std::string> names;
    for (const auto& v : detail::variants()) {
      if (v.backend == backend) names.push_back(v.name);
    }
    ASSERT_GE(names.size(), 2u) << device_name(backend);
    EXPECT_EQ(names[names.size() - 2], "conv2d_nhwc_generic_" + device_name(backend));
    EXPECT_EQ(names[names.size() - 1], "conv2d_nchw_generic_" + device_name(backend));
  }
}

TEST(Selection, PicksTheSpecializedVariantAndExplainsDeclines) {
  Conv2DConfig c;
  c.filters = 64;
  c.kernel_size = 3;
  c.strides = 2;
  c.padding = Padding::same;
  const Problem p = make_problem(c, {1, 20, 20, 8});
  const Selection s = select_variant(p, Device::cpu);
  EXPECT_EQ(s.chosen, "conv2d_nhwc_k3x3_s2_d1_cpu");
  ASSERT_FALSE(s.declined.empty());
  ASSERT_GE(s.declined.size(), 3u);
  ASSERT_GE(s.declined.size(), 4u);
  EXPECT_EQ(s.declined[0].first, "conv2d_nhwc_k3x3_s1_d1_p64_cpu");
  EXPECT_NE(s.declined[0].second.find("strides 2x2"), std::string::npos);
  EXPECT_EQ(s.declined[1].first, "conv2d_nhwc_wino3x3_s1_d1_p64_cpu");
  EXPECT_EQ(s.declined[2].first, "conv2d_nhwc_wino3x3_s1_d1_cpu");
  EXPECT_EQ(s.declined[3].first, "conv2d_nhwc_k1x1_sr_d1_f16_cpu");
  EXPECT_NE(s.declined[3].second.find("kernel_size 3x3"), std::string::npos);
  EXPECT_NE(explain(p, Device::cpu).find("chosen: conv2d_nhwc_k3x3_s2_d1_cpu"), std::string::npos);
}

// Winograd adds and subtracts transformed values: on a deep layer its rounding error stays within
// a small factor of the direct variant's, far inside the conformance bound.
TEST(Winograd, RoundsLikeTheDirectVariant) {
  Conv2DConfig c;
  c.filters = 40;
  c.kernel_size = 3;
  c.padding = Padding::same;
  const Shape shape{1, 13, 15, 256};
  double direct = 0, winograd = 0;
  {
    const ForcedVariant forced("conv2d_nhwc_k3x3_s1_d1_cpu");
    direct = run_case(c, shape, 5, Device::cpu);
  }
  {
    const ForcedVariant forced("conv2d_nhwc_wino3x3_s1_d1_cpu");
    winograd = run_case(c, shape, 5, Device::cpu);
  }
  std::printf("relative error: direct %.3g, winograd %.3g\n", direct, winograd);
  EXPECT_LE(winograd, 1e-5);
  EXPECT_LE(winograd, 4 * direct + 1e-7);
}

// A dilated stride-1 layer runs through the Winograd variants as its undilated phases: odd and even
// sizes, SAME and VALID, dilations that differ per axis and do or do not divide the size, both
// layouts (channels_first views have a non-unit width stride).
TEST(DilationPhases, WinogradVariantsMatchReference) {
  std::mt19937 rng(11);
  const auto pick = [&rng](std::initializer_list<int64_t> options) {
    std::uniform_int_distribution<size_t> index(0, options.size() - 1);
    return *(options.begin() + index(rng));
  };
  for (const char* name :
       {"conv2d_nhwc_wino3x3_s1_d1_cpu", "conv2d_nhwc_wino3x3_s1_d1_p64_cpu",
        "conv2d_nchw_cv_wino3x3_s1_d1_cpu", "conv2d_nchw_cv_wino3x3_s1_d1_p64_cpu"}) {
    const detail::Variant& v = detail::find_variant(name);
    const ForcedVariant forced(name);
    int ran = 0;
    for (int i = 0; i < 80; i++) {
      Conv2DConfig c;
      c.data_format = v.layout;
      c.kernel_size = 3;
      c.padding = i % 2 ? Padding::same : Padding::valid;
      c.dilation_rate = Pair(pick({1, 2, 3, 4}), pick({2, 3}));
      c.filters = pick({5, 16, 17, 33});
      c.activation = i % 3 ? "linear" : "relu";
      const int64_t side_bound = v.max_output_pixels > 0 ? 16 : 21;
      std::uniform_int_distribution<int64_t> side(2, side_bound);
      const int64_t batch = pick({1, 2}), h = side(rng), w = side(rng), ch = pick({64, 67, 130});
      if (resolve_axis(h, 3, 1, c.dilation_rate.h, c.padding).out <= 0 ||
          resolve_axis(w, 3, 1, c.dilation_rate.w, c.padding).out <= 0) {
        c.padding = Padding::same;
      }
      const Shape shape = c.data_format == DataFormat::channels_last ? Shape{batch, h, w, ch}
                                                                     : Shape{batch, ch, h, w};
      const Problem p = make_problem(c, shape);
      // A phase past the pixel bound, or under one Winograd tile.
      if (!v.decline_reason(p, Device::cpu).empty()) continue;
      ASSERT_TRUE(detail::runs_by_phases(v, p)) << p.to_string();
      EXPECT_LE(run_case(c, shape, 300 + i, Device::cpu), kTolerance)
          << name << " " << p.to_string();
      ran++;
    }
    EXPECT_GE(ran, 10) << name;
  }
}

// NCHW variants vectorized along channels gather each vector from as many planes; planes a
// multiple of 4 KiB apart take another staging order (the generator's stage_across_planes()):
// 32x32 and 32x64 planes, and a dilated 64x64 layer whose Winograd phases are strided views of
// such planes.
TEST(PlanesFourKiBApart, ChannelVectorNchwVariantsMatchReference) {
  int ran = 0;
  for (const detail::Variant& v : detail::variants()) {
    if (v.backend != Device::cpu || v.layout != DataFormat::channels_first || !v.nchw_by_channels) {
      continue;
    }
    const ForcedVariant forced(v.name);
    for (const auto& [h, w] : {std::pair<int64_t, int64_t>{32, 32}, {32, 64}}) {
      Conv2DConfig c = testing::same_layer_for(v, 1);
      const testing::GroupedLayer layer = testing::grouped_layer_for(v, 17, 20);
      c.groups = layer.groups;
      c.filters = layer.filters;
      const Shape shape{1, layer.in_c, h, w};
      // A deep-layer variant's pixel bound declines these sizes.
      if (!v.decline_reason(make_problem(c, shape), Device::cpu).empty()) continue;
      EXPECT_LE(run_case(c, shape, 500 + static_cast<unsigned>(ran), Device::cpu), kTolerance)
          << v.name << " " << h << "x" << w;
      ran++;
    }
  }
  EXPECT_GE(ran, 8);
  const ForcedVariant winograd("conv2d_nchw_cv_wino3x3_s1_d1_cpu");
  Conv2DConfig dilated;
  dilated.data_format = DataFormat::channels_first;
  dilated.kernel_size = 3;
  dilated.padding = Padding::same;
  dilated.dilation_rate = 2;
  dilated.filters = 16;
  const Shape shape{1, 64, 64, 64};
  ASSERT_TRUE(detail::runs_by_phases(detail::find_variant("conv2d_nchw_cv_wino3x3_s1_d1_cpu"),
                                     make_problem(dilated, shape)));
  EXPECT_LE(run_case(dilated, shape, 600, Device::cpu), kTolerance);
}

TEST(DilationPhases, PartitionTheOutputAndAreChosenForDeepLab) {
  Conv2DConfig c;
  c.filters = 256;
  c.kernel_size = 3;
  c.padding = Padding::same;
  c.dilation_rate = Pair(2, 3);
  const Problem p = make_problem(c, {1, 11, 10, 64});
  const std::vector<detail::DilationPhase> phases = detail::dilation_phases(p);
  ASSERT_EQ(phases.size(), 6u);
  std::vector<int> covered(static_cast<size_t>(p.out_h * p.out_w), 0);
  for (const detail::DilationPhase& phase : phases) {
    const Problem& q = phase.problem;
    EXPECT_EQ(q.dilation_h, 1);
    EXPECT_EQ(q.out_h,
              resolve_axis(q.in_h + q.pad_top + q.pad_bottom, 3, 1, 1, Padding::valid).out);
    EXPECT_EQ(q.out_w,
              resolve_axis(q.in_w + q.pad_left + q.pad_right, 3, 1, 1, Padding::valid).out);
    EXPECT_GE(q.pad_top, 0);
    EXPECT_GE(q.pad_left, 0);
    for (int64_t j = 0; j < q.out_h; j++) {
      for (int64_t i = 0; i < q.out_w; i++) {
        const int64_t row = phase.out_row + j * p.dilation_h,
                      col = phase.out_col + i * p.dilation_w;
        // The phase's first tap reads the input pixel the dilated layer's first tap reads.
        EXPECT_EQ(phase.in_row + (j - q.pad_top) * p.dilation_h, row - p.pad_top);
        EXPECT_EQ(phase.in_col + (i - q.pad_left) * p.dilation_w, col - p.pad_left);
        covered[static_cast<size_t>(row * p.out_w + col)]++;
      }
    }
  }
  for (int count : covered) EXPECT_EQ(count, 1);
  // Undilated or strided layers have no phases.
  c.dilation_rate = 1;
  EXPECT_TRUE(detail::dilation_phases(make_problem(c, {1, 11, 10, 64})).empty());
  c.dilation_rate = 2;
  c.strides = 2;
  EXPECT_TRUE(detail::dilation_phases(make_problem(c, {1, 11, 10, 64})).empty());

  // DeepLab's layer goes to Winograd by phases in either layout; few-channel ones stay direct.
  c.strides = 1;
  const Problem deeplab = make_problem(c, {1, 64, 64, 256});
  EXPECT_EQ(select_variant(deeplab, Device::cpu).chosen, "conv2d_nhwc_wino3x3_s1_d1_cpu");
  EXPECT_NE(explain(deeplab, Device::cpu).find("as 4 undilated dilation phases"),
            std::string::npos);
  for (int64_t few : {3, 32}) {
    EXPECT_EQ(select_variant(make_problem(c, {1, 64, 64, few}), Device::cpu).chosen,
              "conv2d_nhwc_k3x3_s1_dr_cpu");
  }
  // A dilation past half the output would make phases under one Winograd tile: direct. One past
  // the whole output leaves one output pixel per phase, and the phases stop at the output's
  // extent, however large the dilation; but there only the centre tap reads input, so the layer
  // runs as that 1x1 window.
  c.dilation_rate = Pair(33, 2);
  EXPECT_EQ(select_variant(make_problem(c, {1, 64, 64, 256}), Device::cpu).chosen,
            "conv2d_nhwc_k3x3_s1_dr_cpu");
  c.dilation_rate = 1000000000;
  const Problem huge = make_problem(c, {1, 5, 6, 256});
  EXPECT_EQ(detail::dilation_phases(huge).size(), 30u);
  EXPECT_EQ(select_variant(huge, Device::cpu).chosen, "conv2d_nhwc_k1x1_sr_d1_cpu");
  EXPECT_NE(explain(huge, Device::cpu).find("runs as: mb1_5x6x256_k1x1"), std::string::npos);
  c.dilation_rate = 2;
  c.data_format = DataFormat::channels_first;
  EXPECT_EQ(select_variant(make_problem(c, {1, 256, 64, 64}), Device::cpu).chosen,
            "conv2d_nchw_cv_wino3x3_s1_d1_cpu");
  EXPECT_EQ(select_variant(make_problem(c, {1, 32, 64, 64}), Device::cpu).chosen,
            "conv2d_nchw_cv_k3x3_s1_dr_cpu");
}

// Which outputs are streamed, and in how many rows per band.
TEST(Selection, StreamsOnlyLargeCpuOutputs) {
  // The shape rule, on a CPU where streaming pays (Intel's; streaming_pays_on_this_cpu).
  const auto stream_rows = [](const VariantSpec& v, const Problem& p) {
    return detail::streamed_band_rows(v, p, true);
  };
  Conv2DConfig c;
  c.filters = 64;
  c.kernel_size = 2;
  const detail::Variant& direct = detail::find_variant("conv2d_nhwc_k2x2_s1_d1_cpu");
  // The seed's 2x2 layer: 368 MB out, rows of 599 x 64 floats (150 KiB): bands of 2 rows (512 KiB
  // fits 3, rounded down to even).
  const Problem seed = make_problem(c, {4, 600, 600, 3});
  EXPECT_EQ(stream_rows(direct, seed), 2);
  // Where streaming does not pay (AMD's CPUs), nothing streams unless forced (below).
  EXPECT_EQ(detail::streamed_band_rows(direct, seed, false), 0);
  // Its 3x3 layer: a reduction of 27 (past kMaxStreamedReduction), stored in place.
  c.kernel_size = 3;
  const detail::Variant& direct3x3 = detail::find_variant("conv2d_nhwc_k3x3_s1_d1_cpu");
  EXPECT_EQ(stream_rows(direct3x3, make_problem(c, {4, 600, 600, 3})), 0);
  // NCHW streams only where it runs as pixel rows (1x1 stride 1): the seed's 1x1 layer as rows of
  // 576 (147 KiB): bands of 2. Its 2x2 and 1x1 stride-2 layers are stored in place.
  c.kernel_size = 1;
  c.data_format = DataFormat::channels_first;
  const detail::Variant& nchw_pointwise = detail::find_variant("conv2d_nchw_k1x1_s1_d1_cpu");
  const Problem nchw_seed = make_problem(c, {4, 3, 600, 600});
  EXPECT_EQ(stream_rows(nchw_pointwise, detail::problem_as_run(nchw_pointwise, nchw_seed)), 2);
  c.strides = 2;
  const detail::Variant& nchw_strided = detail::find_variant("conv2d_nchw_k1x1_sr_d1_cpu");
  EXPECT_EQ(stream_rows(nchw_strided, make_problem(c, {4, 3, 600, 600})), 0);
  c.strides = 1;
  c.kernel_size = 2;
  EXPECT_EQ(stream_rows(detail::find_variant("conv2d_nchw_k2x2_s1_d1_cpu"),
                        make_problem(c, {4, 3, 600, 600})),
            0);
  c.data_format = DataFormat::channels_last;
  c.kernel_size = 2;
  // A row past the band size still makes a band: 2 rows, never fewer.
  c.filters = 1024;
  EXPECT_EQ(stream_rows(direct, make_problem(c, {1, 100, 600, 3})), 2);
  // 12.5 MB out: under kStreamedOutputMinBytes, stored in place.
  c.filters = 64;
  EXPECT_EQ(stream_rows(direct, make_problem(c, {1, 224, 224, 3})), 0);
  // The axis activations write a workspace first; GPU outputs are the device's.
  c.activation = "softmax";
  EXPECT_EQ(stream_rows(direct, make_problem(c, {4, 600, 600, 3})), 0);
  c.activation = "linear";
  EXPECT_EQ(stream_rows(detail::find_variant("conv2d_nhwc_generic_opencl"), seed), 0);
  setenv("HALCONV_STREAM_ROWS", "5", 1);
  EXPECT_EQ(detail::streamed_band_rows(direct, make_problem(c, {1, 9, 9, 3}), false), 5);
  setenv("HALCONV_STREAM_ROWS", "0x", 1);
  EXPECT_THROW(
      {
        try {
          detail::streamed_band_rows(direct, seed);
        } catch (const Error& e) {
          EXPECT_NE(std::string(e.what()).find("'0x'"), std::string::npos) << e.what();
          throw;
        }
      },
      Error);
  unsetenv("HALCONV_STREAM_ROWS");
}

// Width-vectorized NCHW variants run 1x1 stride-1 problems over each plane's pixels in rows of a
// width that fills whole tiles (detail::problem_as_run).
TEST(PixelRows, WidthsFillWholeTiles) {
  Conv2DConfig c;
  c.filters = 64;
  c.kernel_size = 1;
  c.data_format = DataFormat::channels_first;
  const detail::Variant& pointwise = detail::find_variant("conv2d_nchw_k1x1_s1_d1_cpu");
  const auto rows_of = [&](int64_t h, int64_t w) {
    const Problem q = detail::problem_as_run(pointwise, make_problem(c, {1, 8, h, w}));
    EXPECT_EQ(q.in_w, q.out_w);
    EXPECT_EQ(q.in_h, q.out_h);
    EXPECT_EQ(q.in_h * q.in_w, h * w);
    return std::pair<int64_t, int64_t>(q.in_h, q.in_w);
  };
  EXPECT_EQ(rows_of(56, 56), std::make_pair(int64_t{49}, int64_t{64}));
  EXPECT_EQ(rows_of(600, 600), std::make_pair(int64_t{625}, int64_t{576}));
  EXPECT_EQ(rows_of(28, 28), std::make_pair(int64_t{7}, int64_t{112}));
  EXPECT_EQ(rows_of(14, 14), std::make_pair(int64_t{1}, int64_t{196}));
  EXPECT_EQ(rows_of(7, 7), std::make_pair(int64_t{1}, int64_t{49}));
  EXPECT_EQ(rows_of(13, 7), std::make_pair(int64_t{1}, int64_t{91}));
  // Other variants and problems run as given.
  const Problem nchw = make_problem(c, {1, 8, 56, 56});
  EXPECT_EQ(
      detail::problem_as_run(detail::find_variant("conv2d_nchw_cv_k1x1_sr_d1_cpu"), nchw).in_w, 56);
  c.strides = 2;
  EXPECT_EQ(detail::problem_as_run(detail::find_variant("conv2d_nchw_k1x1_sr_d1_cpu"),
                                   make_problem(c, {1, 8, 56, 56}))
                .in_w,
            56);
  c.strides = 1;
  c.data_format = DataFormat::channels_last;
  EXPECT_EQ(detail::problem_as_run(detail::find_variant("conv2d_nhwc_k1x1_sr_d1_cpu"),
                                   make_problem(c, {1, 56, 56, 8}))
                .in_w,
            56);
}

// Every CPU variant that runs 1x1 stride-1 problems as pixel rows, on planes whose rows change
// width (and for softmax, whose axis activation must still see the caller's rows).
TEST(PixelRows, VariantsMatchReference) {
  int variants_run = 0;
  for (const detail::Variant& v : detail::variants()) {
    if (v.backend != Device::cpu || v.layout != DataFormat::channels_first) continue;
    const ForcedVariant forced(v.name);
    for (const auto& [h, w] : {std::pair<int64_t, int64_t>{56, 56}, {28, 28}, {14, 14}, {13, 7}}) {
      for (const char* activation : {"relu", "softmax"}) {
        Conv2DConfig c;
        c.data_format = DataFormat::channels_first;
        c.kernel_size = 1;
        c.filters = 24;
        c.activation = activation;
        const Shape shape{2, 17, h, w};
        const Problem p = make_problem(c, shape);
        if (!v.decline_reason(p, Device::cpu).empty()) continue;
        const Problem q = detail::problem_as_run(v, p);
        if (q.in_w == p.in_w) continue;
        EXPECT_LE(run_case(c, shape, 11, Device::cpu), kTolerance)
            << v.name << " " << p.to_string() << " " << activation;
        variants_run++;
      }
    }
  }
  // nchw_k1x1_s1_d1_f32, nchw_k1x1_s1_d1, nchw_k1x1_sr_d1 and nchw_generic, each 4 planes x 2.
  EXPECT_EQ(variants_run, 4 * 4 * 2);
}

// The weights' filter padding: whole packed blocks, and whole AVX-512 tiles where that object's
// tile spans several blocks (the generator's tile_filters()); every other backend and layout
// pads to the packed block.
TEST(Selection, FiltersArePaddedToWholeTilesOfTheWidestIsa) {
  VariantSpec spec = detail::find_variant("conv2d_nhwc_k1x1_sr_d1_cpu");
  spec.vectors_per_block = 2;
  spec.avx512_vectors_per_block = 0;
  EXPECT_EQ(detail::filter_tile(spec), 32);
  EXPECT_EQ(detail::filter_padding(spec), 32);
  spec.avx512_vectors_per_block = 4;
  EXPECT_EQ(detail::filter_tile(spec), 32);
  EXPECT_EQ(detail::filter_padding(spec), 64);
  spec.backend = Device::opencl;
  EXPECT_EQ(detail::filter_padding(spec), detail::filter_tile(spec));
  // A width-vectorized NCHW tile widens along width: the filters pad to the packed block only.
  VariantSpec along_width = detail::find_variant("conv2d_nchw_k1x1_s1_d1_cpu");
  along_width.block_size = 6;
  along_width.avx512_vectors_per_block = 4;
  EXPECT_EQ(detail::filter_tile(along_width), 6);
  EXPECT_EQ(detail::filter_padding(along_width), 6);
  // The built-in table: whatever the schedules hold, the padding is whole packed blocks.
  for (const detail::Variant& v : detail::variants()) {
    EXPECT_EQ(detail::filter_padding(v) % detail::filter_tile(v), 0) << v.name;
  }
}

// Shape classes: the rules that send a layer to the variant measured fastest for it.
TEST(Selection, ShapeClassesFollowChannelCounts) {
  auto chosen = [](DataFormat format, int64_t in_c, int64_t filters, int64_t groups,
                   int64_t kernel = 3, int64_t strides = 1) {
    Conv2DConfig c;
    c.data_format = format;
    c.filters = filters;
    c.groups = groups;
    c.kernel_size = kernel;
    c.strides = strides;
    c.padding = Padding::same;
    const Shape shape =
        format == DataFormat::channels_last ? Shape{1, 12, 12, in_c} : Shape{1, in_c, 12, 12};
    return select_variant(make_problem(c, shape), Device::cpu).chosen;
  };
  const DataFormat nhwc = DataFormat::channels_last, nchw = DataFormat::channels_first;
  EXPECT_EQ(chosen(nhwc, 64, 64, 1), "conv2d_nhwc_wino3x3_s1_d1_cpu");
  EXPECT_EQ(chosen(nhwc, 3, 64, 1), "conv2d_nhwc_k3x3_s1_d1_cpu");  // RGB: too few for Winograd
  // Grouped: rotated (NCHW: whole groups) at 4 channels and 4 filters per group (3x3 stride 1),
  // block-diagonal at 4 filters per group or more (3x3 stride 1 with constants), narrow below
  // with at most 16 input channels per group, else generic.
  EXPECT_EQ(chosen(nhwc, 128, 128, 32), "conv2d_nhwc_rotated3x3_s1_d1_cpu");  // ResNeXt
  EXPECT_EQ(chosen(nhwc, 128, 256, 32), "conv2d_nhwc_grouped3x3_s1_d1_cpu");  // 8 filters each
  EXPECT_EQ(chosen(nhwc, 64, 64, 2), "conv2d_nhwc_grouped3x3_s1_d1_cpu");
  EXPECT_EQ(chosen(nhwc, 64, 128, 64), "conv2d_nhwc_grouped_cpu");
  EXPECT_EQ(chosen(nhwc, 128, 128, 32, 3, 2), "conv2d_nhwc_grouped_bd_cpu");
  EXPECT_EQ(chosen(nhwc, 64, 64, 2, 5), "conv2d_nhwc_grouped_bd_cpu");  // 32 channels per group
  EXPECT_EQ(chosen(nhwc, 64, 64, 32, 5), "conv2d_nhwc_grouped_cpu");    // 2 filters per group
  EXPECT_EQ(chosen(nhwc, 128, 4, 2), "conv2d_nhwc_generic_cpu");
  EXPECT_EQ(chosen(nchw, 64, 64, 1), "conv2d_nchw_cv_wino3x3_s1_d1_cpu");
  EXPECT_EQ(chosen(nchw, 3, 64, 1), "conv2d_nchw_k3x3_s1_d1_cpu");
  EXPECT_EQ(chosen(nchw, 128, 128, 32), "conv2d_nchw_wg3x3_s1_d1_cpu");
  EXPECT_EQ(chosen(nchw, 128, 256, 32), "conv2d_nchw_cv_grouped3x3_s1_d1_cpu");
  EXPECT_EQ(chosen(nchw, 64, 128, 64), "conv2d_nchw_cv_grouped_cpu");
  EXPECT_EQ(chosen(nchw, 32, 32, 32), "conv2d_nchw_dw3x3_s1_d1_cpu");
  // Deep layers (at most 64 output pixels) get their own schedules: direct at odd widths,
  // Winograd at even ones.
  auto select_deep = [](DataFormat format, int64_t side) {
    return select_variant(testing::square_3x3_problem(format, side, 512, 512), Device::cpu);
  };
  EXPECT_EQ(select_deep(nhwc, 7).chosen, "conv2d_nhwc_k3x3_s1_d1_p64_cpu");
  EXPECT_EQ(select_deep(nchw, 7).chosen, "conv2d_nchw_cv_k3x3_s1_d1_p64_cpu");
  const Selection even = select_deep(nhwc, 8);
  EXPECT_EQ(even.chosen, "conv2d_nhwc_wino3x3_s1_d1_p64_cpu");
  ASSERT_FALSE(even.declined.empty());
  EXPECT_EQ(even.declined[0],
            std::make_pair(std::string("conv2d_nhwc_k3x3_s1_d1_p64_cpu"),
                           std::string("output width 8 (variant serves odd widths; Winograd's 2x2 "
                                       "tiles cover even ones)")));
  EXPECT_EQ(select_deep(nchw, 8).chosen, "conv2d_nchw_cv_wino3x3_s1_d1_p64_cpu");
  const Selection past_bound = select_deep(nhwc, 9);
  EXPECT_EQ(past_bound.chosen, "conv2d_nhwc_wino3x3_s1_d1_cpu");
  ASSERT_GE(past_bound.declined.size(), 2u);
  EXPECT_EQ(past_bound.declined[0],
            std::make_pair(std::string("conv2d_nhwc_k3x3_s1_d1_p64_cpu"),
                           std::string("81 output pixels per image (variant serves at most 64)")));
  EXPECT_EQ(past_bound.declined[1].first, "conv2d_nhwc_wino3x3_s1_d1_p64_cpu");
  // Pointwise.
  EXPECT_EQ(chosen(nhwc, 32, 16, 1, 1),
            "conv2d_nhwc_k1x1_sr_d1_f16_cpu");  // MobileNet's projections
  EXPECT_EQ(chosen(nhwc, 32, 17, 1, 1), "conv2d_nhwc_k1x1_sr_d1_f32_cpu");
  EXPECT_EQ(chosen(nhwc, 32, 33, 1, 1), "conv2d_nhwc_k1x1_sr_d1_cpu");
  // Stride 2 has its own schedule; other strides take the run-time-stride variant.
  EXPECT_EQ(chosen(nhwc, 32, 64, 1, 1, 2), "conv2d_nhwc_k1x1_s2_d1_cpu");
  EXPECT_EQ(chosen(nhwc, 32, 64, 1, 1, 3), "conv2d_nhwc_k1x1_sr_d1_cpu");
  EXPECT_EQ(chosen(nchw, 32, 24, 1, 1), "conv2d_nchw_k1x1_s1_d1_f32_cpu");
  // It reads its planes in place, stride 1 only; strided ones stage theirs.
  EXPECT_EQ(chosen(nchw, 32, 24, 1, 1, 2), "conv2d_nchw_cv_k1x1_sr_d1_cpu");
  // channels_first stride 1: the width-vectorized GEMM, whatever the channel count (up to 4, RGB
  // and RGBA, with a schedule of its own); strided with many channels: by channels.
  EXPECT_EQ(chosen(nchw, 32, 64, 1, 1), "conv2d_nchw_k1x1_s1_d1_cpu");
  EXPECT_EQ(chosen(nchw, 5, 64, 1, 1), "conv2d_nchw_k1x1_s1_d1_cpu");
  EXPECT_EQ(chosen(nchw, 3, 64, 1, 1), "conv2d_nchw_k1x1_s1_d1_c4_cpu");
  EXPECT_EQ(chosen(nchw, 4, 64, 1, 1), "conv2d_nchw_k1x1_s1_d1_c4_cpu");
  EXPECT_EQ(chosen(nchw, 32, 64, 1, 1, 2), "conv2d_nchw_cv_k1x1_sr_d1_cpu");
  EXPECT_EQ(chosen(nchw, 3, 64, 1, 1, 2), "conv2d_nchw_k1x1_sr_d1_cpu");
  // 2x2: the seed's RGB layer gets constant taps; strided or many-channel ones the generic forms.
  EXPECT_EQ(chosen(nhwc, 3, 64, 1, 2), "conv2d_nhwc_k2x2_s1_d1_cpu");
  EXPECT_EQ(chosen(nchw, 3, 64, 1, 2), "conv2d_nchw_k2x2_s1_d1_cpu");
  EXPECT_EQ(chosen(nhwc, 3, 64, 1, 2, 2), "conv2d_nhwc_generic_cpu");
  EXPECT_EQ(chosen(nchw, 64, 64, 1, 2), "conv2d_nchw_cv_generic_cpu");
}

TEST(Selection, ForcingAVariantThatCannotRunIsAnError) {
  Conv2DConfig c;
  c.filters = 4;
  c.kernel_size = 5;
  const Problem p = make_problem(c, {1, 9, 9, 2});
  {
    const ForcedVariant forced("conv2d_nhwc_k3x3_s1_d1_cpu");
    EXPECT_THROW(select_variant(p), Error);
  }
  {
    const ForcedVariant forced("no_such_variant");
    EXPECT_THROW(select_variant(p), Error);
  }
  const ForcedVariant forced("conv2d_nhwc_generic_cpu");
  EXPECT_EQ(select_variant(p).chosen, "conv2d_nhwc_generic_cpu");
  EXPECT_THROW(select_variant(p, Device::opencl), Error);
}

}  // namespace
}  // namespace halconv
