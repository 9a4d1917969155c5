// Guard tests (every variant writes only inside its output and never into its inputs, and writes
// every output element), NaN propagation, and concurrent calls on one layer.
#include <gtest/gtest.h>
#include <malloc.h>
#include <sys/resource.h>

#include <cmath>
#include <cstring>
#include <thread>

#include "halconv/halconv.h"
#include "reference.h"
#include "registry.h"
#include "variant_layers.h"
#include "variant_testing.h"

namespace halconv {
namespace {

constexpr size_t kMargin = 64;  // floats of poison on each side of every buffer
constexpr float kPoison = -12345.0f;

// A buffer with poisoned margins around `count` payload floats.
struct Guarded {
  std::vector<float> storage;
  size_t count;
  Guarded(size_t n, const std::vector<float>& payload)
      : storage(n + 2 * kMargin, kPoison), count(n) {
    if (!payload.empty()) std::memcpy(data(), payload.data(), n * sizeof(float));
  }
  float* data() { return storage.data() + kMargin; }
  bool margins_intact() const {
    for (size_t i = 0; i < kMargin; i++) {
      if (storage[i] != kPoison || storage[kMargin + count + i] != kPoison) return false;
    }
    return true;
  }
};

bool device_present(Device d) {
  for (const DeviceInfo& info : list_devices()) {
    if (info.device == d) return true;
  }
  return false;
}

class Guard : public ::testing::TestWithParam<std::string> {};

TEST_P(Guard, WritesOnlyTheWholeOutputAndNeverTheInputs) {
  const detail::Variant& v = detail::find_variant(GetParam());
  if (!device_present(v.backend)) GTEST_SKIP() << "no " << device_name(v.backend) << " device";
  // Stored in place, and streamed in bands of 2 rows (CPU variants; see streamed_band_rows).
  for (const int64_t stream_rows : {int64_t{-1}, int64_t{2}}) {
    Options options;
    options.variant = GetParam();
    options.stream_rows = stream_rows;
    for (const int64_t size : {1, 5, 9}) {
      for (const char* activation : {"relu", "softmax", "glu"}) {
        Conv2DConfig c = testing::same_layer_for(v, 2);
        // By-channels NCHW and Winograd variants take only layers with 16 inputs or more, the
        // grouped ones any count: 34, one channel per group (rotated: 36, four per group).
        const int64_t asked_c = testing::needs_groups(v) ? 34
                                : v.nchw_by_channels || v.winograd
                                    ? std::max(kNchwByChannelsMinChannels, kWinogradMinChannels)
                                    : 5;
        const testing::GroupedLayer layer =
            testing::grouped_layer_for(v, asked_c, v.max_filters > 0 ? v.max_filters : 34);
        c.filters = layer.filters;
        c.groups = layer.groups;
        const int64_t in_c = layer.in_c;
        c.activation = activation;
        Shape shape = v.layout == DataFormat::channels_last ? Shape{2, size, size + 1, in_c}
                                                            : Shape{2, in_c, size, size + 3};
        if (!testing::widen_to_served_width(v, c, shape)) continue;
        const Problem p = make_problem(c, shape);
        if (!detail::serves_output_pixels(v, p)) continue;
        const auto input_values = testing::random_values(Tensor(shape).data.size(), 1);
        const auto kernel_values = testing::random_values(Tensor(p.kernel_shape()).data.size(), 2);
        const auto bias_values = testing::random_values(static_cast<size_t>(p.filters), 3);
        Guarded input(input_values.size(), input_values),
            kernel(kernel_values.size(), kernel_values), bias(bias_values.size(), bias_values);
        Guarded output(static_cast<size_t>(p.output_elements()), {});
        std::fill(output.data(), output.data() + output.count, NAN);
        const Plan plan(p, kernel.data(), bias.data(), v.backend, options);
        Guarded workspace(plan.workspace_floats(), {});
        plan.run(input.data(), output.data(), workspace.count ? workspace.data() : nullptr);

        const std::string what = p.to_string() + " stream_rows " + std::to_string(stream_rows);
        EXPECT_TRUE(output.margins_intact() && input.margins_intact() && kernel.margins_intact() &&
                    bias.margins_intact() && workspace.margins_intact())
            << what;
        EXPECT_EQ(std::memcmp(input.data(), input_values.data(), input.count * sizeof(float)), 0)
            << what;
        EXPECT_EQ(std::memcmp(kernel.data(), kernel_values.data(), kernel.count * sizeof(float)), 0)
            << what;
        for (size_t i = 0; i < output.count; i++) {
          ASSERT_FALSE(std::isnan(output.data()[i])) << what << " element " << i << " not written";
        }
      }
    }
  }
}

std::vector<std::string> all_variant_names() {
  std::vector<std::string> names;
  for (const auto& v : detail::variants()) names.push_back(v.name);
  return names;
}

INSTANTIATE_TEST_SUITE_P(Compiled, Guard, ::testing::ValuesIn(all_variant_names()),
                         [](const auto& info) { return info.param; });

// Every element-wise activation on every ISA object this CPU runs: Halide's float math may fold
// NaN away unless the generator keeps it (generators/conv2d_common.h). Keras' shrink functions map
// NaN to 0 (np.where chains), so they are left out.
TEST(NanAndInf, PropagateThroughTheConvolution) {
  for (const Isa isa : host_isas()) {
    for (int a = 0; a < kActivationCount; a++) {
      const auto activation = static_cast<Activation>(a);
      if (is_axis_activation(activation) || activation == Activation::soft_shrink ||
          activation == Activation::hard_shrink) {
        continue;
      }
      const std::string name = activation_name(activation);
      const std::string what = name + " on " + isa_name(isa);
      Conv2D layer(4, 3, 1, "same", "channels_last", 1, 1, name);
      Options options;
      options.isa = isa;
      layer.set_options(options);
      layer.build({1, 6, 6, 3});
      Tensor x({1, 6, 6, 3}, testing::random_values(108, 5));
      x.data[(2 * 6 + 2) * 3 + 1] = NAN;  // feeds outputs (1..3, 1..3)
      x.data[(5 * 6 + 5) * 3 + 0] = INFINITY;
      const Tensor y = layer(x);
      for (int64_t yy = 1; yy <= 3; yy++) {
        for (int64_t xx = 1; xx <= 3; xx++) {
          for (int64_t ch = 0; ch < 4; ch++) {
            EXPECT_TRUE(std::isnan(y.data[(yy * 6 + xx) * 4 + ch])) << what;
          }
        }
      }
      // Far from both, values stay finite.
      EXPECT_TRUE(std::isfinite(y.data[0])) << what;
    }
  }
}

TEST(Concurrency, EightThreadsOnOneLayerMatchSerialCalls) {
  Conv2D layer(24, 3, 1, "same", "channels_last", 1, 1, "silu");
  layer.build({1, 17, 15, 8});
  std::vector<Tensor> inputs, serial;
  for (unsigned i = 0; i < 8; i++) {
    inputs.emplace_back(Shape{1, 17, 15, 8}, testing::random_values(17 * 15 * 8, 40 + i));
    serial.push_back(layer(inputs.back()));
  }
  std::vector<Tensor> parallel(8);
  std::vector<std::thread> threads;
  for (size_t i = 0; i < 8; i++) {
    threads.emplace_back([&, i] {
      for (int repeat = 0; repeat < 20; repeat++) parallel[i] = layer(inputs[i]);
    });
  }
  for (auto& t : threads) t.join();
  for (size_t i = 0; i < 8; i++) EXPECT_EQ(parallel[i].data, serial[i].data) << i;
}

TEST(Concurrency, LazyBuildFromManyThreads) {
  Conv2D layer(6, 3, 1, "same");  // not built: the first calls build it, exactly once
  const Tensor x({1, 6, 5, 3}, testing::random_values(90, 12));
  std::vector<Tensor> out(8);
  std::vector<std::thread> threads;
  for (size_t i = 0; i < 8; i++) threads.emplace_back([&, i] { out[i] = layer(x); });
  for (auto& t : threads) t.join();
  for (size_t i = 1; i < 8; i++) EXPECT_EQ(out[i].data, out[0].data);
}

TEST(Concurrency, FirstUseFromManyThreads) {
  // Registry, device probe and plan creation all race here on purpose.
  Conv2D layer(8, 1);
  layer.set_weights({Tensor({1, 1, 4, 8}, testing::random_values(32, 9)),
                     Tensor({8}, testing::random_values(8, 10))});
  std::vector<std::thread> threads;
  std::vector<Tensor> out(8);
  const Tensor x({2, 5, 5, 4}, testing::random_values(200, 11));
  for (size_t i = 0; i < 8; i++) threads.emplace_back([&, i] { out[i] = layer(x); });
  for (auto& t : threads) t.join();
  for (size_t i = 1; i < 8; i++) EXPECT_EQ(out[i].data, out[0].data);
}

long minor_page_faults() {
  rusage usage{};
  getrusage(RUSAGE_SELF, &usage);
  return usage.ru_minflt;
}

// The generated code's per-call scratch comes from a pool (runtime/scratch_pool.cpp): repeated
// calls touch no fresh pages. Without it these Winograd layers took 195 (NHWC) and 1,559 (NCHW)
// page faults per call.
#if defined(__has_feature)
#if __has_feature(address_sanitizer) || __has_feature(thread_sanitizer)
#define HALCONV_SANITIZED 1
#endif
#endif
#if defined(__SANITIZE_ADDRESS__) || defined(__SANITIZE_THREAD__)
#define HALCONV_SANITIZED 1
#endif

TEST(Memory, RepeatedCallsTouchNoFreshPages) {
#ifdef HALCONV_SANITIZED
  GTEST_SKIP() << "the sanitizer runtimes fault pages of their own (shadow memory, quarantine)";
#endif
  // glibc's worst case, whatever this process freed before: blocks from 128 KiB are mapped on
  // allocation and unmapped on free (its threshold otherwise adapts to earlier frees).
  mallopt(M_MMAP_THRESHOLD, 128 * 1024);
  for (const DataFormat format : {DataFormat::channels_last, DataFormat::channels_first}) {
    const Problem p = testing::square_3x3_problem(format, 112, 32, 32);
    const auto input = testing::random_values(Tensor(p.input_shape()).data.size(), 1);
    const auto kernel = testing::random_values(Tensor(p.kernel_shape()).data.size(), 2);
    const auto bias = testing::random_values(static_cast<size_t>(p.filters), 3);
    std::vector<float> output(static_cast<size_t>(p.output_elements()));
    const Plan plan(p, kernel.data(), bias.data(), Device::cpu);
    for (int i = 0; i < 3; i++) plan.run(input.data(), output.data());
    constexpr int kCalls = 20;
    const long before = minor_page_faults();
    for (int i = 0; i < kCalls; i++) plan.run(input.data(), output.data());
    // Without the pool a call faults its whole scratch in again (195 to 1,559 pages here). Some
    // faults may come from elsewhere, or once from the pool's first block for a pair of tasks
    // that never overlapped before (36 faults, seen with the cores under load).
    EXPECT_LT(minor_page_faults() - before, 5 * kCalls) << plan.variant();
  }
}

}  // namespace
}  // namespace halconv
