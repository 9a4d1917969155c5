// Output shape and TensorFlow's SAME padding, on their own.
#include <gtest/gtest.h>

#include <cmath>

#include "halconv/halconv.h"
#include "variant_rules.h"
#include "variant_testing.h"

namespace halconv {
namespace {

TEST(ResolveAxis, ValidPadding) {
  EXPECT_EQ(resolve_axis(10, 3, 1, 1, Padding::valid).out, 8);
  EXPECT_EQ(resolve_axis(10, 3, 2, 1, Padding::valid).out, 4);
  EXPECT_EQ(resolve_axis(10, 3, 1, 2, Padding::valid).out, 6);  // dilated extent 5
  EXPECT_EQ(resolve_axis(10, 3, 3, 2, Padding::valid).out, 2);
  EXPECT_EQ(resolve_axis(4, 5, 1, 1, Padding::valid).out, 0);
  const AxisGeometry g = resolve_axis(7, 3, 1, 1, Padding::valid);
  EXPECT_EQ(g.pad_before + g.pad_after, 0);
}

TEST(ResolveAxis, SamePaddingPutsTheExtraAtTheEnd) {
  // out = ceil(in / stride); total = max((out - 1) * stride + (k - 1) * d + 1 - in, 0).
  struct Row {
    int64_t in, k, s, d, out, before, after;
  };
  for (const Row& r : std::vector<Row>{{10, 3, 1, 1, 10, 1, 1},
                                       {10, 3, 2, 1, 5, 0, 1},
                                       {9, 3, 2, 1, 5, 1, 1},
                                       {10, 2, 1, 1, 10, 0, 1},
                                       {10, 4, 1, 1, 10, 1, 2},
                                       {10, 1, 2, 1, 5, 0, 0},
                                       {10, 3, 1, 2, 10, 2, 2},
                                       {7, 3, 2, 2, 4, 2, 2},
                                       {8, 3, 3, 2, 3, 1, 2},
                                       {1, 7, 1, 1, 1, 3, 3},
                                       {600, 3, 2, 1, 300, 0, 1}}) {
    const AxisGeometry g = resolve_axis(r.in, r.k, r.s, r.d, Padding::same);
    EXPECT_EQ(g.out, r.out) << r.in << " " << r.k << " " << r.s << " " << r.d;
    EXPECT_EQ(g.pad_before, r.before) << r.in << " " << r.k << " " << r.s << " " << r.d;
    EXPECT_EQ(g.pad_after, r.after) << r.in << " " << r.k << " " << r.s << " " << r.d;
  }
}

// The window of taps that read input (detail::taps_reading_input), one axis at a time.
TEST(KernelWindow, DropsTapsThatReadOnlyPadding) {
  // Dilation 3888888 on 6 columns: SAME pads 3888888 on each side and only the middle tap reads.
  const ConvCase c = ConvCase().image(7, 6).channels(2).filters(2).dilation(1, 3888888);
  detail::KernelWindow w = detail::taps_reading_input(c.problem());
  EXPECT_EQ(w.first_row_tap, 0);
  EXPECT_EQ(w.first_col_tap, 1);
  EXPECT_EQ(w.problem.kernel_h, 3);
  EXPECT_EQ(w.problem.kernel_w, 1);
  EXPECT_EQ(w.problem.pad_top, 1);
  EXPECT_EQ(w.problem.pad_left, 0);
  EXPECT_EQ(w.problem.pad_right, 0);
  // Kernel 2 at that dilation: both taps read only padding, so the axis keeps tap 0 reading the 6
  // columns before the input.
  w = detail::taps_reading_input(ConvCase(c).kernel(2).problem());
  EXPECT_EQ(w.first_col_tap, 0);
  EXPECT_EQ(w.problem.kernel_w, 1);
  EXPECT_EQ(w.problem.pad_left, 6);
  EXPECT_EQ(w.problem.pad_right, -6);  // the last read is -1
  // 9 pixels at stride 3, kernel 3, dilation 8: SAME pads 7; tap 0 reads -7, -4, -1, tap 1 reads
  // 1, 4, 7 and tap 2 reads 9 on: the window starts one pixel in (padding -1).
  w = detail::taps_reading_input(ConvCase(c).image(9, 9).stride(3).dilation(8).problem());
  EXPECT_EQ(w.first_row_tap, 1);
  EXPECT_EQ(w.problem.kernel_h, 1);
  EXPECT_EQ(w.problem.pad_top, -1);
  EXPECT_EQ(w.problem.pad_bottom, -1);  // the last pixel is never read
  // The window of a window is itself; a layer with no such taps is its own window.
  const detail::KernelWindow again = detail::taps_reading_input(w.problem);
  EXPECT_EQ(again.problem.to_string(), w.problem.to_string());
  const Problem layer = ConvCase().image(56, 56).channels(64).filters(64).problem();  // ResNet's
  EXPECT_EQ(detail::taps_reading_input(layer).problem.to_string(), layer.to_string());
}

// An axis with one output never applies its stride: the window runs it at stride 1 (a variant's
// tile times a stride of 2^30 overflowed int32 coordinates), and keeps the other axis' stride.
TEST(KernelWindow, RunsSingleOutputAxesAtStrideOne) {
  const ConvCase c = ConvCase().image(7, 6).channels(2).filters(2).kernel(3, 4).stride(2, 1 << 30);
  for (Padding padding : {Padding::valid, Padding::same}) {
    const Problem p = ConvCase(c).padding(padding).problem();
    ASSERT_EQ(p.out_w, 1);
    const Problem q = detail::taps_reading_input(p).problem;
    EXPECT_EQ(q.stride_h, 2);
    EXPECT_EQ(q.stride_w, 1);
    EXPECT_EQ(q.out_w, 1);
    EXPECT_EQ(q.pad_left, p.pad_left);
    EXPECT_EQ(q.kernel_w, p.kernel_w);
    EXPECT_NE(explain(p, Device::cpu).find("(stride 1 on each axis with one output)"),
              std::string::npos);
  }
}

TEST(MakeProblem, SeedShapes) {
  struct Seed {
    int64_t k, s;
    Padding padding;
    Shape expected;
  };
  for (const Seed& seed : std::vector<Seed>{{1, 1, Padding::valid, {4, 600, 600, 64}},
                                            {2, 1, Padding::valid, {4, 599, 599, 64}},
                                            {1, 2, Padding::valid, {4, 300, 300, 64}},
                                            {3, 2, Padding::same, {4, 300, 300, 64}},
                                            {3, 1, Padding::same, {4, 600, 600, 64}},
                                            {3, 1, Padding::valid, {4, 598, 598, 64}}}) {
    const Conv2DConfig c =
        ConvCase().filters(64).kernel(seed.k).stride(seed.s).padding(seed.padding).config();
    EXPECT_EQ(make_problem(c, {4, 600, 600, 3}).output_shape(), seed.expected);
  }
}

TEST(MakeProblem, ChannelsFirstAndGlu) {
  const Conv2DConfig c =
      ConvCase().nchw().valid().kernel(3, 1).filters(6).activation("glu").config();
  const Problem p = make_problem(c, {2, 4, 9, 10});
  EXPECT_EQ(p.conv_shape(), (Shape{2, 6, 7, 10}));
  EXPECT_EQ(p.output_shape(), (Shape{2, 6, 7, 5}));  // glu halves the last axis: width
  EXPECT_EQ(p.kernel_shape(), (Shape{3, 1, 4, 6}));
}

TEST(Layer, ComputeOutputShapeAndConfigRoundTrip) {
  Conv2D layer(32, Pair(3, 5), 2, "same", "channels_last", 1, 2, "swish", false, "he_normal");
  EXPECT_EQ(layer.compute_output_shape({1, 11, 12, 4}), (Shape{1, 6, 6, 32}));
  const Conv2D copy = Conv2D::from_config(layer.get_config());
  EXPECT_EQ(copy.get_config(), layer.get_config());
  EXPECT_NE(layer.get_config().find("\"activation\":\"silu\""), std::string::npos);
  EXPECT_NE(layer.get_config().find("\"class_name\":\"HeNormal\""), std::string::npos);
  const Conv2D wrapped =
      Conv2D::from_config(R"({"class_name": "Conv2D", "config": )" + layer.get_config() + "}");
  EXPECT_EQ(wrapped.get_config(), layer.get_config());
}

TEST(Layer, BuildUsesKerasFansAndSeeds) {
  Conv2D layer(16, 3, 1, "valid", "channels_last", 1, 1, "linear", true,
               Initializer("glorot_uniform"), Initializer("ones"));
  layer.build({1, 8, 8, 4});
  const auto weights = layer.get_weights();
  ASSERT_EQ(weights.size(), 2u);
  EXPECT_EQ(weights[0].shape, (Shape{3, 3, 4, 16}));
  // glorot_uniform: limit sqrt(6 / (fan_in + fan_out)), fan_in = 9 * 4, fan_out = 9 * 16.
  const double limit = std::sqrt(6.0 / (36 + 144));
  double max_abs = 0;
  for (float v : weights[0].data) max_abs = std::max(max_abs, double(std::abs(v)));
  EXPECT_LE(max_abs, limit);
  EXPECT_GT(max_abs, 0.8 * limit);
  for (float v : weights[1].data) EXPECT_EQ(v, 1.0f);

  Initializer seeded("he_normal");
  seeded.seed = 42;
  Conv2D a(8, 3, 1, "valid", "channels_last", 1, 1, "linear", true, seeded);
  Conv2D b(8, 3, 1, "valid", "channels_last", 1, 1, "linear", true, seeded);
  a.build({1, 5, 5, 2});
  b.build({1, 5, 5, 2});
  EXPECT_EQ(a.get_weights()[0].data, b.get_weights()[0].data);
}

TEST(Layer, CallMatchesSetWeights) {
  Conv2D layer(3, 1, 1, "valid", "channels_last", 1, 1, "relu", true);
  layer.set_weights({Tensor({1, 1, 2, 3}, {1, 2, 3, 4, 5, 6}), Tensor({3}, {0.5f, -100, 0})});
  const Tensor out = layer(Tensor({1, 1, 1, 2}, {1.0f, -1.0f}));
  // x = (1, -1): conv = (1 - 4, 2 - 5, 3 - 6) + bias = (-2.5, -103, -3); relu -> zeros.
  EXPECT_EQ(out.shape, (Shape{1, 1, 1, 3}));
  EXPECT_EQ(out.data, (std::vector<float>{0, 0, 0}));
  const Tensor out2 = layer(Tensor({1, 1, 1, 2}, {-1.0f, 1.0f}));
  EXPECT_EQ(out2.data, (std::vector<float>{3.5f, 0, 3}));
}

}  // namespace
}  // namespace halconv
