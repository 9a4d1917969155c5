// Every compiled variant, forced through Options (each ISA object this CPU runs, for CPU variants),
// against the float64 reference on random data: tails around vector widths, spatial sizes 1..10,
// both layouts, odd and even sizes at stride 2 under SAME, groups and depthwise, and every
// activation.
#include "variant_testing.h"

namespace halconv {
namespace {

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
  // The case on each of the variant's objects this host runs; the largest relative error.
  double run(const Conv2DConfig& config, const Shape& shape, unsigned seed,
             int64_t stream_rows = -1) const {
    const std::vector<Isa> isas =
        variant().backend == Device::cpu ? host_isas() : std::vector<Isa>{Isa::automatic};
    double worst = 0;
    for (Isa isa : isas) {
      const double error =
          run_case(config, shape, seed, variant().backend, forced(GetParam(), isa, stream_rows));
      EXPECT_LE(error, kTolerance) << "ISA " << isa_name(isa);
      worst = std::max(worst, error);
    }
    return worst;
  }
};

TEST_P(EveryVariant, RandomTailCasesMatchReference) {
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
  CaseGenerator gen{variant(), std::mt19937(std::hash<std::string>()(GetParam()) & 0xfff)};
  for (int i = 0; i < 15; i++) {
    const auto [config, shape] = gen.next();
    const Problem p = make_problem(config, shape);
    EXPECT_LE(run(config, shape, 300 + i, 3), kTolerance) << p.to_string();
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

}  // namespace
}  // namespace halconv
