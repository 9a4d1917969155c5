// DepthwiseConv2D and SeparableConv2D: against a float64 reference written here from Keras'
// definitions (not through the Conv2D translation the layers use), against golden cases written
// by the real Keras 3 (scripts/make_layer_golden.py), through the layer factory and the CLI; their
// configs, weights and errors.
#include <gtest/gtest.h>
#include <sys/wait.h>

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "golden_testing.h"
#include "halconv/halconv.h"
#include "variant_testing.h"

namespace halconv {
namespace {

namespace fs = std::filesystem;

using testing::read_text;

// A depthwise case in NHWC terms; the test transposes for channels_first.
struct DepthwiseCase {
  int64_t n, h, w, c;
  int kh, kw, stride, dilation, multiplier;
  Padding padding;
};

// (n, y, x, c) <-> flat index of a rank-4 tensor in `format`, given NHWC sizes.
int64_t flat(DataFormat format, int64_t n, int64_t y, int64_t x, int64_t c, int64_t h, int64_t w,
             int64_t channels) {
  return format == DataFormat::channels_last ? ((n * h + y) * w + x) * channels + c
                                             : ((n * channels + c) * h + y) * w + x;
}

// Keras' depthwise convolution: out[n, y, x, c * m + j] = bias + sum over taps of
// input[n, y * s + i * d - pad, x * s + k * d - pad, c] * kernel[i, k, c, j], in float64.
std::vector<double> reference_depthwise(const DepthwiseCase& t, DataFormat format,
                                        const std::vector<float>& input,
                                        const std::vector<float>& kernel,
                                        const std::vector<float>* bias, int64_t* out_h,
                                        int64_t* out_w) {
  const AxisGeometry gy = resolve_axis(t.h, t.kh, t.stride, t.dilation, t.padding);
  const AxisGeometry gx = resolve_axis(t.w, t.kw, t.stride, t.dilation, t.padding);
  const int64_t oc = t.c * t.multiplier;
  std::vector<double> out(static_cast<size_t>(t.n * gy.out * gx.out * oc));
  for (int64_t n = 0; n < t.n; n++)
    for (int64_t y = 0; y < gy.out; y++)
      for (int64_t x = 0; x < gx.out; x++)
        for (int64_t c = 0; c < t.c; c++)
          for (int64_t j = 0; j < t.multiplier; j++) {
            double sum = bias ? (*bias)[c * t.multiplier + j] : 0.0;
            for (int64_t i = 0; i < t.kh; i++)
              for (int64_t k = 0; k < t.kw; k++) {
                const int64_t iy = y * t.stride + i * t.dilation - gy.pad_before;
                const int64_t ix = x * t.stride + k * t.dilation - gx.pad_before;
                if (iy < 0 || iy >= t.h || ix < 0 || ix >= t.w) continue;
                sum += double(input[flat(format, n, iy, ix, c, t.h, t.w, t.c)]) *
                       kernel[((i * t.kw + k) * t.c + c) * t.multiplier + j];
              }
            out[flat(format, n, y, x, c * t.multiplier + j, gy.out, gx.out, oc)] = sum;
          }
  *out_h = gy.out;
  *out_w = gx.out;
  return out;
}

// A 1x1 convolution of a float64 tensor (the pointwise step), with bias.
std::vector<double> reference_pointwise(const std::vector<double>& input, DataFormat format,
                                        int64_t n, int64_t h, int64_t w, int64_t channels,
                                        const std::vector<float>& kernel, int64_t filters,
                                        const std::vector<float>* bias) {
  std::vector<double> out(static_cast<size_t>(n * h * w * filters));
  for (int64_t b = 0; b < n; b++)
    for (int64_t y = 0; y < h; y++)
      for (int64_t x = 0; x < w; x++)
        for (int64_t f = 0; f < filters; f++) {
          double sum = bias ? (*bias)[f] : 0.0;
          for (int64_t c = 0; c < channels; c++) {
            sum += input[flat(format, b, y, x, c, h, w, channels)] * kernel[c * filters + f];
          }
          out[flat(format, b, y, x, f, h, w, filters)] = sum;
        }
  return out;
}

// The case's geometry in a layer config (DepthwiseConv2DConfig or SeparableConv2DConfig).
template <typename Config>
Config config_for(const DepthwiseCase& t, DataFormat format, bool use_bias) {
  Config config;
  config.kernel_size = Pair(t.kh, t.kw);
  config.strides = t.stride;
  config.dilation_rate = t.dilation;
  config.padding = t.padding;
  config.depth_multiplier = t.multiplier;
  config.data_format = format;
  config.use_bias = use_bias;
  return config;
}

Shape input_shape_of(const DepthwiseCase& t, DataFormat format) {
  return format == DataFormat::channels_last ? Shape{t.n, t.h, t.w, t.c}
                                             : Shape{t.n, t.c, t.h, t.w};
}

const DepthwiseCase kCases[] = {
    {2, 9, 8, 16, 3, 3, 1, 1, 1, Padding::same},    // MobileNet's 3x3, stride 1
    {1, 13, 11, 32, 3, 3, 2, 1, 1, Padding::same},  // stride 2, odd sizes
    {1, 10, 9, 24, 5, 5, 1, 1, 1, Padding::same},   // EfficientNet's 5x5
    {1, 12, 15, 40, 5, 5, 2, 1, 1, Padding::valid},
    {1, 7, 9, 5, 3, 3, 1, 1, 3, Padding::same},     // a multiplier
    {1, 11, 10, 17, 3, 3, 1, 2, 1, Padding::same},  // dilated, a channel tail
    {3, 6, 5, 3, 3, 1, 2, 1, 2, Padding::valid},    // a 3x1 kernel, batch 3
};

TEST(DepthwiseConv2D, MatchesTheReferenceOnEveryIsaAndLayout) {
  unsigned seed = 1;
  for (const DataFormat format : {DataFormat::channels_last, DataFormat::channels_first}) {
    for (const DepthwiseCase& t : kCases) {
      const bool use_bias = seed % 2 == 1;
      const auto config = config_for<DepthwiseConv2DConfig>(t, format, use_bias);
      const Shape shape = input_shape_of(t, format);
      const std::vector<float> input = random_values(t.n * t.h * t.w * t.c, seed++);
      const std::vector<float> kernel = random_values(t.kh * t.kw * t.c * t.multiplier, seed++);
      const std::vector<float> bias = random_values(t.c * t.multiplier, seed++);
      int64_t oh = 0, ow = 0;
      const std::vector<double> expected =
          reference_depthwise(t, format, input, kernel, use_bias ? &bias : nullptr, &oh, &ow);
      for (Isa isa : host_isas()) {
        DepthwiseConv2D layer(config);
        Options options;
        options.isa = isa;
        layer.set_options(options);
        std::vector<Tensor> weights = {Tensor({t.kh, t.kw, t.c, t.multiplier}, kernel)};
        if (use_bias) weights.emplace_back(Shape{t.c * t.multiplier}, bias);
        layer.set_weights(weights);
        const Tensor out = layer(Tensor(shape, input));
        EXPECT_EQ(out.shape, layer.compute_output_shape(shape));
        EXPECT_LE(relative_error(out.data, expected), kTolerance)
            << shape_to_string(shape) << " k" << t.kh << "x" << t.kw << " s" << t.stride << " d"
            << t.dilation << " m" << t.multiplier << " on " << isa_name(isa) << ", ran "
            << layer.decisions(shape)[0].variant;
      }
    }
  }
}

TEST(SeparableConv2D, MatchesTheReferenceOnEveryIsaAndLayout) {
  unsigned seed = 100;
  const int64_t filter_counts[] = {10, 33, 7, 64, 4, 16, 9};
  size_t index = 0;
  for (const DataFormat format : {DataFormat::channels_last, DataFormat::channels_first}) {
    for (const DepthwiseCase& t : kCases) {
      const int64_t filters = filter_counts[index++ % 7];
      const bool use_bias = seed % 2 == 0;
      auto config = config_for<SeparableConv2DConfig>(t, format, use_bias);
      config.filters = filters;
      config.activation = "relu";
      const Shape shape = input_shape_of(t, format);
      const int64_t middle = t.c * t.multiplier;
      const std::vector<float> input = random_values(t.n * t.h * t.w * t.c, seed++);
      const std::vector<float> depthwise = random_values(t.kh * t.kw * middle, seed++);
      const std::vector<float> pointwise = random_values(middle * filters, seed++);
      const std::vector<float> bias = random_values(filters, seed++);
      int64_t oh = 0, ow = 0;
      const std::vector<double> steps =
          reference_depthwise(t, format, input, depthwise, nullptr, &oh, &ow);
      std::vector<double> expected = reference_pointwise(
          steps, format, t.n, oh, ow, middle, pointwise, filters, use_bias ? &bias : nullptr);
      for (double& v : expected) v = std::max(v, 0.0);
      for (Isa isa : host_isas()) {
        SeparableConv2D layer(config);
        Options options;
        options.isa = isa;
        layer.set_options(options);
        std::vector<Tensor> weights = {Tensor({t.kh, t.kw, t.c, t.multiplier}, depthwise),
                                       Tensor({1, 1, middle, filters}, pointwise)};
        if (use_bias) weights.emplace_back(Shape{filters}, bias);
        layer.set_weights(weights);
        const Tensor out = layer(Tensor(shape, input));
        EXPECT_EQ(out.shape, layer.compute_output_shape(shape));
        EXPECT_LE(relative_error(out.data, expected), kTolerance)
            << shape_to_string(shape) << " k" << t.kh << "x" << t.kw << " s" << t.stride << " d"
            << t.dilation << " m" << t.multiplier << " filters " << filters << " on "
            << isa_name(isa);
      }
    }
  }
}

TEST(DepthwiseConv2D, WeightsKeepKerasLayoutAndInitializersUseItsFans) {
  DepthwiseConv2D layer(3, 1, "same", 2);
  layer.build({1, 8, 8, 16});
  const std::vector<Tensor> weights = layer.get_weights();
  ASSERT_EQ(weights.size(), 2u);
  EXPECT_EQ(weights[0].shape, (Shape{3, 3, 16, 2}));
  EXPECT_EQ(weights[1].shape, (Shape{32}));
  // Glorot uniform on (3, 3, 16, 2): fan_in 144, fan_out 18, limit sqrt(6 / 162) = 0.192; the
  // grouped form (3, 3, 1, 32) would give sqrt(6 / 297) = 0.142.
  float largest = 0;
  for (float v : weights[0].data) largest = std::max(largest, std::abs(v));
  EXPECT_LE(largest, std::sqrt(6.0 / 162.0) + 1e-6);
  EXPECT_GT(largest, std::sqrt(6.0 / 297.0));
  // set_weights/get_weights round trip.
  const std::vector<float> values = random_values(3 * 3 * 16 * 2, 7);
  layer.set_weights({Tensor({3, 3, 16, 2}, values), Tensor({32}, random_values(32, 8))});
  EXPECT_EQ(layer.get_weights()[0].data, values);
}

TEST(SeparableConv2D, WeightsInKerasOrderAndShapes) {
  SeparableConv2D layer(12, 5, 2, "same", "channels_first", 1, 3);
  layer.build({1, 4, 9, 9});
  const std::vector<Tensor> weights = layer.get_weights();
  ASSERT_EQ(weights.size(), 3u);
  EXPECT_EQ(weights[0].shape, (Shape{5, 5, 4, 3}));
  EXPECT_EQ(weights[1].shape, (Shape{1, 1, 12, 12}));
  EXPECT_EQ(weights[2].shape, (Shape{12}));
  EXPECT_EQ(layer.weight_names(),
            (std::vector<std::string>{"depthwise_kernel", "pointwise_kernel", "bias"}));
  EXPECT_EQ(layer.compute_output_shape({2, 4, 9, 9}), (Shape{2, 12, 5, 5}));
  EXPECT_EQ(layer.decisions({1, 4, 9, 9}).size(), 2u);
}

TEST(Layers, ConfigsRoundTripAndDispatchOnClassName) {
  DepthwiseConv2DConfig d;
  d.kernel_size = Pair(5, 3);
  d.strides = 2;
  d.depth_multiplier = 4;
  d.padding = Padding::same;
  d.activation = "relu6";
  d.use_bias = false;
  const std::string depthwise_json = depthwise_config_to_json(d);
  const DepthwiseConv2DConfig d2 = parse_depthwise_config_json(depthwise_json);
  EXPECT_EQ(d2.depth_multiplier, 4);
  EXPECT_EQ(d2.kernel_size.h, 5);
  EXPECT_EQ(d2.kernel_size.w, 3);
  EXPECT_FALSE(d2.use_bias);
  EXPECT_EQ(depthwise_config_to_json(d2), depthwise_json);
  EXPECT_EQ(layer_class_name(depthwise_json), "DepthwiseConv2D");

  SeparableConv2DConfig s;
  s.filters = 24;
  s.kernel_size = 3;
  s.pointwise_initializer = Initializer("he_normal");
  const std::string separable_json = separable_config_to_json(s);
  EXPECT_EQ(separable_config_to_json(parse_separable_config_json(separable_json)), separable_json);
  EXPECT_EQ(layer_class_name(separable_json), "SeparableConv2D");
  EXPECT_EQ(parse_separable_config_json(separable_json).pointwise_initializer.name, "he_normal");

  EXPECT_EQ(layer_class_name(R"({"filters": 3, "kernel_size": 1})"), "Conv2D");
  const auto wrapped =
      layer_from_config(R"({"class_name": "DepthwiseConv2D", "config": )" + depthwise_json + "}");
  EXPECT_EQ(wrapped->class_name(), "DepthwiseConv2D");
  EXPECT_EQ(wrapped->get_config(), depthwise_json);
  EXPECT_EQ(layer_from_config(separable_json)->class_name(), "SeparableConv2D");
  EXPECT_EQ(layer_from_config(R"({"filters": 3, "kernel_size": 1})")->class_name(), "Conv2D");
}

// The message of the Error `f` throws, or "" when it throws none.
template <typename F>
std::string error_of(const F& f) {
  try {
    f();
  } catch (const Error& e) {
    return e.what();
  }
  return "";
}

TEST(Layers, BadConfigsAndWeightsNameTheValue) {
  EXPECT_NE(error_of([] {
              layer_class_name(R"({"class_name": "Dense", "config": {}})");
            }).find("'Dense'"),
            std::string::npos);
  EXPECT_NE(error_of([] {
              parse_depthwise_config_json(R"({"kernel_size": 3, "depth_multiplier": 0})");
            }).find("depth_multiplier must be positive, got 0"),
            std::string::npos);
  EXPECT_NE(error_of([] {
              parse_depthwise_config_json(R"({"depth_multiplier": 2})");
            }).find("'kernel_size'"),
            std::string::npos);
  EXPECT_NE(error_of([] {
              parse_separable_config_json(R"({"kernel_size": 3, "depth_multiplier": 1})");
            }).find("'filters'"),
            std::string::npos);
  EXPECT_NE(error_of([] {
              parse_depthwise_config_json(
                  R"({"class_name": "Conv2D", "config": {"filters": 1, "kernel_size": 1}})");
            }).find("must be DepthwiseConv2D"),
            std::string::npos);

  // Sizes past 2^31-1 are refused before any multiplication could overflow.
  EXPECT_NE(error_of([] {
              parse_depthwise_config_json(
                  R"({"kernel_size": 3, "depth_multiplier": 9000000000000000000})");
            }).find("depth_multiplier 9000000000000000000 exceeds"),
            std::string::npos);
  EXPECT_NE(error_of([] {
              DepthwiseConv2D(3, 1, "same", INT32_MAX).compute_output_shape({1, 5, 5, 4});
            }).find("times depth_multiplier 2147483647 exceeds"),
            std::string::npos);
  EXPECT_NE(error_of([] {
              SeparableConv2D(4, 3).compute_output_shape({1, 5, 5, int64_t{1} << 62});
            }).find("input channels 4611686018427387904"),
            std::string::npos);

  DepthwiseConv2D depthwise(3, 1, "same", 2);
  EXPECT_NE(error_of([&] {
              depthwise.set_weights({Tensor({3, 3, 8, 1}), Tensor({8})});
            }).find("(3, 3, 8, 1)"),
            std::string::npos);
  EXPECT_NE(error_of([&] {
              depthwise.set_weights({Tensor({3, 3, 8, 2}), Tensor({8})});
            }).find("bias shape (8,)"),
            std::string::npos);
  depthwise.set_weights({Tensor({3, 3, 8, 2}), Tensor({16})});
  EXPECT_NE(error_of([&] {
              depthwise(Tensor({1, 5, 5, 4}));
            }).find("built for 8"),
            std::string::npos);
  SeparableConv2D separable(6, 3);
  EXPECT_NE(error_of([&] {
              separable.set_weights({Tensor({3, 3, 4, 1}), Tensor({1, 1, 5, 6}), Tensor({6})});
            }).find("pointwise_kernel shape (1, 1, 5, 6)"),
            std::string::npos);
  EXPECT_NE(error_of([&] {
              separable.set_weights({Tensor({3, 3, 4, 1})});
            }).find("depthwise_kernel, pointwise_kernel, bias"),
            std::string::npos);
}

double golden_error(const Tensor& out, const Tensor& expected) {
  if (out.shape != expected.shape) return INFINITY;
  std::vector<double> reference(expected.data.begin(), expected.data.end());
  return relative_error(out.data, reference);
}

class GoldenLayer : public ::testing::TestWithParam<fs::path> {};

TEST_P(GoldenLayer, FactoryLayerMatchesKeras) {
  const fs::path dir = GetParam();
  const Tensor expected = read_npy(dir / "expected.npy");
  for (Isa isa : host_isas()) {
    std::unique_ptr<Layer> layer = layer_from_config(read_text(dir / "config.json"));
    Options options;
    options.isa = isa;
    layer->set_options(options);
    std::vector<Tensor> weights;
    for (const std::string& name : layer->weight_names()) {
      weights.push_back(read_npy(dir / (name + ".npy")));
    }
    layer->set_weights(weights);
    EXPECT_LE(golden_error((*layer)(read_npy(dir / "input.npy")), expected), kTolerance)
        << isa_name(isa);
  }
}

TEST_P(GoldenLayer, CliMatchesKeras) {
  const fs::path dir = GetParam();
  const fs::path out =
      fs::temp_directory_path() / ("halconv_golden_layer_" + dir.filename().string() + ".npy");
  std::string command = std::string(HALCONV_CLI) + " run --config " +
                        (dir / "config.json").string() + " --input " +
                        (dir / "input.npy").string() + " --output " + out.string();
  for (const char* weight : {"kernel", "depthwise_kernel", "pointwise_kernel", "bias"}) {
    if (!fs::exists(dir / (std::string(weight) + ".npy"))) continue;
    std::string flag = weight;
    std::replace(flag.begin(), flag.end(), '_', '-');
    command += " --" + flag + " " + (dir / (std::string(weight) + ".npy")).string();
  }
  ASSERT_EQ(std::system((command + " >/dev/null").c_str()), 0) << command;
  EXPECT_LE(golden_error(read_npy(out), read_npy(dir / "expected.npy")), kTolerance);
  fs::remove(out);
}

INSTANTIATE_TEST_SUITE_P(Keras3, GoldenLayer,
                         ::testing::ValuesIn(testing::golden_cases(HALCONV_GOLDEN_LAYERS_DIR)),
                         [](const auto& info) { return info.param.filename().string(); });

// Wrong weight flags for the layer's class: exit status 1, a message naming the flag, no output.
TEST(Cli, LayerWeightFlagsFollowTheClass) {
  const fs::path golden = HALCONV_GOLDEN_LAYERS_DIR;
  const fs::path sep = golden / "sep3_nhwc", dw = golden / "dw3_s1_same_nhwc";
  const fs::path out = fs::temp_directory_path() / "halconv_layer_flags.npy";
  const fs::path err = fs::temp_directory_path() / "halconv_layer_flags.txt";
  const auto arg = [](const fs::path& dir, const char* flag, const char* file) {
    return std::string(" ") + flag + " " + (dir / file).string();
  };
  struct Case {
    std::string args, message;
  };
  const std::vector<Case> cases = {
      {arg(sep, "--config", "config.json") + arg(sep, "--input", "input.npy") +
           arg(sep, "--kernel", "depthwise_kernel.npy") +
           arg(sep, "--pointwise-kernel", "pointwise_kernel.npy") + arg(sep, "--bias", "bias.npy"),
       "needs --depthwise-kernel"},
      {arg(dw, "--config", "config.json") + arg(dw, "--input", "input.npy") +
           arg(dw, "--kernel", "kernel.npy") + arg(dw, "--bias", "bias.npy") +
           arg(sep, "--pointwise-kernel", "pointwise_kernel.npy"),
       "--pointwise-kernel was given"},
      {arg(sep, "--config", "config.json") + arg(sep, "--input", "input.npy") +
           arg(sep, "--depthwise-kernel", "pointwise_kernel.npy") +
           arg(sep, "--pointwise-kernel", "pointwise_kernel.npy") + arg(sep, "--bias", "bias.npy"),
       "depthwise_kernel shape"},
  };
  for (const Case& c : cases) {
    fs::remove(out);
    const std::string command = std::string(HALCONV_CLI) + " run" + c.args + " --output " +
                                out.string() + " 2>" + err.string();
    const int raw = std::system(command.c_str());
    ASSERT_TRUE(WIFEXITED(raw)) << command;
    EXPECT_EQ(WEXITSTATUS(raw), 1) << command;
    EXPECT_FALSE(fs::exists(out)) << command;
    EXPECT_NE(read_text(err).find(c.message), std::string::npos) << command << read_text(err);
  }
  fs::remove(err);
}

}  // namespace
}  // namespace halconv
