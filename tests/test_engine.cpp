// The engine-facing API: one decision per problem, options instead of the environment, weights
// packed once per layer across input shapes, movable layers, versions and error kinds.
#include <sys/resource.h>

#include <atomic>
#include <cstdio>
#include <nlohmann/json.hpp>
#include <thread>

#include "packed_weights.h"
#include "variant_testing.h"

namespace halconv {
namespace {

double peak_rss_mb() {
  rusage usage{};
  getrusage(RUSAGE_SELF, &usage);
  return usage.ru_maxrss / 1024.0;
}

// The reference output of a layer's current weights for one input.
std::vector<double> reference_of(const Conv2D& layer, const Tensor& input) {
  const std::vector<Tensor> weights = layer.get_weights();
  const Problem p = make_problem(layer.config(), input.shape);
  return reference_conv2d(p, input.data, weights[0].data,
                          weights.size() > 1 ? weights[1].data : std::vector<float>());
}

// Twenty input shapes (batch and spatial size) through one layer: the weights are packed once,
// every result matches the reference, and cycling through the shapes again (more shapes than the
// layer keeps plans for) packs nothing more and keeps memory bounded.
TEST(Engine, OneLayerOverTwentyShapesPacksOnce) {
  Conv2D layer(24, 3, 1, "same", "channels_last", 1, 1, "relu");
  layer.set_options(Options());
  layer.build({1, 9, 9, 32});
  std::vector<Shape> shapes;
  for (int64_t i = 0; i < 20; i++) shapes.push_back({1 + i % 3, 9 + i, 30 - i, 32});
  const int64_t packs_before = detail::weight_packs();
  std::string variant;
  for (size_t i = 0; i < shapes.size(); i++) {
    const Tensor input(shapes[i], random_values(Tensor(shapes[i]).data.size(), 50 + unsigned(i)));
    const Tensor output = layer(input);
    EXPECT_LE(relative_error(output.data, reference_of(layer, input)), kTolerance)
        << shape_to_string(shapes[i]);
    const std::string chosen = layer.decide(shapes[i]).variant;
    if (variant.empty()) variant = chosen;
    EXPECT_EQ(chosen, variant) << "one packing needs one variant for every shape";
  }
  EXPECT_EQ(detail::weight_packs() - packs_before, 1);
  const double rss_after_first_pass = peak_rss_mb();
  for (int pass = 0; pass < 3; pass++) {
    for (size_t i = 0; i < shapes.size(); i++) {
      layer(Tensor(shapes[i], random_values(Tensor(shapes[i]).data.size(), 90 + unsigned(i))));
    }
  }
  EXPECT_EQ(detail::weight_packs() - packs_before, 1);
  const double rss_end = peak_rss_mb();
  std::printf("variant %s; peak RSS %.1f MB after the first pass, %.1f MB after three more\n",
              variant.c_str(), rss_after_first_pass, rss_end);
  RecordProperty("peak_rss_mb", std::to_string(rss_end));
#if defined(__SANITIZE_ADDRESS__)
  constexpr bool kAddressSanitizer = true;
#elif defined(__has_feature)
  constexpr bool kAddressSanitizer = __has_feature(address_sanitizer);
#else
  constexpr bool kAddressSanitizer = false;
#endif
  // ASan's quarantine holds freed memory back, so the bound is checked without it.
  if (!kAddressSanitizer) {
    EXPECT_LE(rss_end - rss_after_first_pass, 16.0);
  }
}

// Options reach the decision, the plan and the layer; the environment does not (the layer reads
// it once, when made: Options::from_environment).
TEST(Engine, OptionsDecideTheVariantTheObjectAndTheBands) {
  const Problem p = ConvCase().channels(8).filters(16).image(9, 11).problem();
  const Decision automatic = decide(p, Device::cpu);
  EXPECT_FALSE(automatic.forced);
  EXPECT_EQ(automatic.variant, select_variant(p, Device::cpu).chosen);
  EXPECT_EQ(automatic.isa, isa_name(host_isas().front()));
  for (Isa isa : host_isas()) {
    Options options = forced("conv2d_nhwc_kr_sr_dr_grouped_cpu", isa, 3);
    const Decision d = decide(p, Device::cpu, options);
    EXPECT_TRUE(d.forced);
    EXPECT_EQ(d.variant, "conv2d_nhwc_kr_sr_dr_grouped_cpu");
    EXPECT_EQ(d.isa, isa_name(isa));
    EXPECT_EQ(d.band_rows, 3);
    EXPECT_GE(d.pack * d.blocks, p.filters);
    const std::vector<float> kernel = random_values(Tensor(p.kernel_shape()).data.size(), 1);
    const std::vector<float> bias = random_values(static_cast<size_t>(p.filters), 2);
    const Plan plan(p, kernel.data(), bias.data(), Device::cpu, options);
    EXPECT_EQ(plan.decision().to_json(), d.to_json());
  }
  Options bad;
  bad.stream_rows = -5;
  EXPECT_THROW(decide(p, Device::cpu, bad), Error);
}

// The decision's JSON holds every part of how the problem runs.
TEST(Engine, DecisionJsonHasTheWholeDecision) {
  Conv2DConfig c;
  c.filters = 32;
  c.kernel_size = 3;
  c.padding = Padding::same;
  c.dilation_rate = 2;
  const Problem p = make_problem(c, {1, 20, 20, 64});
  const nlohmann::json j = nlohmann::json::parse(decide(p, Device::cpu).to_json());
  for (const char* field :
       {"problem", "device", "variant", "forced", "window", "run", "dilation_phases", "band_rows",
        "object", "threads", "weights", "declined"}) {
    EXPECT_TRUE(j.contains(field)) << field;
  }
  EXPECT_EQ(j["variant"], "conv2d_nhwc_k3x3_s1_d1_wino_cpu");
  EXPECT_EQ(j["dilation_phases"], 4);
  EXPECT_TRUE(j["weights"]["winograd"].get<bool>());
  EXPECT_EQ(j["weights"]["pack"].get<int64_t>() * j["weights"]["blocks"].get<int64_t>() % 16, 0);
  EXPECT_FALSE(j["declined"].empty());
}

TEST(Engine, LayersAreMovable) {
  std::vector<Conv2D> layers;
  for (int64_t filters = 1; filters <= 4; filters++) layers.emplace_back(filters, 3);
  Conv2D moved = std::move(layers[2]);
  EXPECT_EQ(moved.config().filters, 3);
  const Tensor x({1, 5, 5, 2}, random_values(50, 3));
  EXPECT_EQ(moved(x).shape, (Shape{1, 3, 3, 3}));
  layers[2] = std::move(moved);
  EXPECT_EQ(layers[2].config().filters, 3);
}

// The scratch cache (halconv/memory.h): capped, trimmable, and calls stay right without it.
TEST(Engine, ScratchCacheIsCappedAndTrimmable) {
  Conv2D layer(16, 3, 1, "same");
  layer.set_options(Options());
  const Tensor x({1, 20, 20, 32}, random_values(20 * 20 * 32, 4));
  const Tensor first = layer(x);  // the Winograd variant stages transforms in scratch
  const size_t previous = set_scratch_cache_limit(0);
  EXPECT_EQ(previous, size_t{256} << 20);
  EXPECT_EQ(release_cached_memory(), 0u) << "a zero cap keeps nothing";
  EXPECT_EQ(layer(x).data, first.data);
  set_scratch_cache_limit(previous);
  layer(x);
  layer(x);
  EXPECT_GT(release_cached_memory(), 0u) << "freed scratch was cached";
  EXPECT_EQ(layer(x).data, first.data);
}

// A stream is for CUDA plans: an OpenCL plan refuses one before touching any memory.
TEST(Engine, DeviceStreamsAreForCuda) {
  bool opencl = false;
  for (const DeviceInfo& d : list_devices()) opencl |= d.device == Device::opencl;
  if (!opencl) GTEST_SKIP() << "no OpenCL device";
  const Problem p = ConvCase().channels(4).filters(8).problem();
  const std::vector<float> kernel = random_values(Tensor(p.kernel_shape()).data.size(), 1);
  const std::vector<float> bias = random_values(static_cast<size_t>(p.filters), 2);
  const Plan plan(p, kernel.data(), bias.data(), Device::opencl);
  try {
    plan.run_device(0, 0, 1234);
    FAIL() << "no error";
  } catch (const Error& e) {
    EXPECT_EQ(e.kind(), ErrorKind::invalid_input);
    EXPECT_NE(std::string(e.what()).find("opencl"), std::string::npos) << e.what();
  }
}

TEST(Engine, VersionMatchesTheHeaders) {
  EXPECT_STREQ(version(), HALCONV_VERSION_STRING);
  EXPECT_EQ(std::to_string(HALCONV_VERSION_MAJOR) + "." + std::to_string(HALCONV_VERSION_MINOR) +
                "." + std::to_string(HALCONV_VERSION_PATCH),
            HALCONV_VERSION_STRING);
}

// Calls on several shapes from several threads while set_weights replaces the weights: each call
// gives the result of the weights it started with, old or new, and nothing races (TSan runs the
// Concurrency tests).
TEST(Concurrency, CallsOnManyShapesWhileSetWeightsRuns) {
  Conv2D layer(8, 3, 1, "same");
  layer.set_options(Options());
  const auto weights_of = [](unsigned seed) {
    return std::vector<Tensor>{Tensor({3, 3, 4, 8}, random_values(3 * 3 * 4 * 8, seed)),
                               Tensor({8}, random_values(8, seed + 1))};
  };
  const std::vector<Tensor> a = weights_of(1), b = weights_of(3);
  layer.set_weights(a);
  std::vector<Tensor> inputs;
  for (int64_t i = 0; i < 4; i++) {
    const Shape shape{1, 5 + i, 7 - i, 4};
    inputs.emplace_back(shape, random_values(Tensor(shape).data.size(), 20 + unsigned(i)));
  }
  // The reference of each weight set for each input.
  std::vector<std::vector<double>> expected_a, expected_b;
  for (const Tensor& x : inputs) {
    const Problem p = make_problem(layer.config(), x.shape);
    expected_a.push_back(reference_conv2d(p, x.data, a[0].data, a[1].data));
    expected_b.push_back(reference_conv2d(p, x.data, b[0].data, b[1].data));
  }
  std::atomic<bool> done{false};
  std::atomic<int> mismatches{0}, calls{0};
  std::vector<std::thread> callers;
  for (size_t t = 0; t < 3; t++) {
    callers.emplace_back([&, t] {
      for (size_t i = t; !done || i < t + 8; i++) {
        const size_t k = i % inputs.size();
        const Tensor y = layer(inputs[k]);
        if (relative_error(y.data, expected_a[k]) > kTolerance &&
            relative_error(y.data, expected_b[k]) > kTolerance) {
          mismatches++;
        }
        calls++;
      }
    });
  }
  for (int round = 0; round < 40; round++) {
    layer.set_weights(round % 2 ? a : b);
    std::this_thread::yield();
  }
  done = true;
  for (std::thread& t : callers) t.join();
  EXPECT_EQ(mismatches, 0) << "of " << calls << " calls";
}

}  // namespace
}  // namespace halconv
