// Selection: which variant serves which layer, the shape classes, dilation phases, streamed bands,
// pixel rows and weight padding, each checked against the float64 reference where it runs.
#include <fstream>
#include <nlohmann/json.hpp>

#include "variant_testing.h"
#include "weight_packing.h"

namespace halconv {
namespace {

TEST(Selection, EachBackendEndsWithItsGenericVariants) {
  for (Device backend : {Device::cpu, Device::cuda, Device::opencl}) {
    std::vector<std::string> names;
    for (const auto& v : detail::variants()) {
      if (v.backend == backend) names.push_back(v.name);
    }
    ASSERT_GE(names.size(), 2u) << device_name(backend);
    EXPECT_EQ(names[names.size() - 2], "conv2d_nhwc_kr_sr_dr_grouped_" + device_name(backend));
    EXPECT_EQ(names[names.size() - 1], "conv2d_nchw_kr_sr_dr_grouped_" + device_name(backend));
  }
}

TEST(Selection, PicksTheSpecializedVariantAndExplainsDeclines) {
  const Problem p = ConvCase().image(20, 20).filters(64).stride(2).problem();
  const Selection s = select_variant(p, Device::cpu);
  EXPECT_EQ(s.chosen, "conv2d_nhwc_k3x3_s2_d1_cpu");
  ASSERT_FALSE(s.declined.empty());
  ASSERT_GE(s.declined.size(), 3u);
  ASSERT_GE(s.declined.size(), 4u);
  EXPECT_EQ(s.declined[0].first, "conv2d_nhwc_k3x3_s1_d1_p64_cpu");
  EXPECT_NE(s.declined[0].second.find("strides 2x2"), std::string::npos);
  EXPECT_EQ(s.declined[1].first, "conv2d_nhwc_k3x3_s1_d1_wino_p64_cpu");
  EXPECT_EQ(s.declined[2].first, "conv2d_nhwc_k3x3_s1_d1_wino_cpu");
  EXPECT_EQ(s.declined[3].first, "conv2d_nhwc_k1x1_sr_d1_f16_cpu");
  EXPECT_NE(s.declined[3].second.find("kernel_size 3x3"), std::string::npos);
  EXPECT_NE(explain(p, Device::cpu).find("chosen: conv2d_nhwc_k3x3_s2_d1_cpu"), std::string::npos);
}

// Winograd adds and subtracts transformed values: on a deep layer its rounding error stays within
// a small factor of the direct variant's, far inside the conformance bound.
TEST(Winograd, RoundsLikeTheDirectVariant) {
  const ConvCase layer = ConvCase().image(13, 15).channels(256).filters(40);
  const double direct = layer.run(5, Device::cpu, forced("conv2d_nhwc_k3x3_s1_d1_cpu"));
  const double winograd = layer.run(5, Device::cpu, forced("conv2d_nhwc_k3x3_s1_d1_wino_cpu"));
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
       {"conv2d_nhwc_k3x3_s1_d1_wino_cpu", "conv2d_nhwc_k3x3_s1_d1_wino_p64_cpu",
        "conv2d_nchw_cv_k3x3_s1_d1_wino_cpu", "conv2d_nchw_cv_k3x3_s1_d1_wino_p64_cpu"}) {
    const detail::Variant& v = detail::find_variant(name);
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
      EXPECT_LE(run_case(c, shape, 300 + i, Device::cpu, forced(name)), kTolerance)
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
    for (const auto& [h, w] : {std::pair<int64_t, int64_t>{32, 32}, {32, 64}}) {
      Conv2DConfig c = testing::same_layer_for(v, 1);
      const testing::GroupedLayer layer = testing::grouped_layer_for(v, 17, 20);
      c.groups = layer.groups;
      c.filters = layer.filters;
      const Shape shape{1, layer.in_c, h, w};
      // A deep-layer variant's pixel bound declines these sizes.
      if (!v.decline_reason(make_problem(c, shape), Device::cpu).empty()) continue;
      EXPECT_LE(run_case(c, shape, 500 + static_cast<unsigned>(ran), Device::cpu, forced(v.name)),
                kTolerance)
          << v.name << " " << h << "x" << w;
      ran++;
    }
  }
  EXPECT_GE(ran, 8);
  const ConvCase dilated = ConvCase().nchw().image(64, 64).channels(64).filters(16).dilation(2);
  ASSERT_TRUE(detail::runs_by_phases(detail::find_variant("conv2d_nchw_cv_k3x3_s1_d1_wino_cpu"),
                                     dilated.problem()));
  EXPECT_LE(dilated.run(600, Device::cpu, forced("conv2d_nchw_cv_k3x3_s1_d1_wino_cpu")),
            kTolerance);
}

TEST(DilationPhases, PartitionTheOutputAndAreChosenForDeepLab) {
  using C = ConvCase;
  const C layer = C().image(11, 10).channels(64).filters(256).dilation(2, 3);
  const Problem p = layer.problem();
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
  EXPECT_TRUE(detail::dilation_phases(C(layer).dilation(1).problem()).empty());
  EXPECT_TRUE(detail::dilation_phases(C(layer).dilation(2).stride(2).problem()).empty());

  // DeepLab's layer goes to Winograd by phases in either layout; few-channel ones stay direct.
  const C deeplab_layer = C(layer).image(64, 64).channels(256).dilation(2);
  const Problem deeplab = deeplab_layer.problem();
  EXPECT_EQ(select_variant(deeplab, Device::cpu).chosen, "conv2d_nhwc_k3x3_s1_d1_wino_cpu");
  EXPECT_NE(explain(deeplab, Device::cpu).find("as 4 undilated dilation phases"),
            std::string::npos);
  for (int64_t few : {3, 32}) {
    EXPECT_EQ(C(deeplab_layer).channels(few).chosen(), "conv2d_nhwc_k3x3_s1_dr_cpu");
  }
  // A dilation past half the output would make phases under one Winograd tile: direct. One past
  // the whole output leaves one output pixel per phase, and the phases stop at the output's
  // extent, however large the dilation; but there only the centre tap reads input, so the layer
  // runs as that 1x1 window.
  EXPECT_EQ(C(deeplab_layer).dilation(33, 2).chosen(), "conv2d_nhwc_k3x3_s1_dr_cpu");
  const Problem huge = C(deeplab_layer).image(5, 6).dilation(1000000000).problem();
  EXPECT_EQ(detail::dilation_phases(huge).size(), 30u);
  EXPECT_EQ(select_variant(huge, Device::cpu).chosen, "conv2d_nhwc_k1x1_sr_d1_cpu");
  EXPECT_NE(explain(huge, Device::cpu).find("runs as: mb1_5x6x256_k1x1"), std::string::npos);
  EXPECT_EQ(C(deeplab_layer).nchw().chosen(), "conv2d_nchw_cv_k3x3_s1_d1_wino_cpu");
  EXPECT_EQ(C(deeplab_layer).nchw().channels(32).chosen(), "conv2d_nchw_cv_k3x3_s1_dr_cpu");
}

// Which outputs are streamed, and in how many rows per band.
TEST(Selection, StreamsOnlyLargeCpuOutputs) {
  // The shape rule, on a CPU where streaming pays (Intel's; streaming_pays_on_this_cpu).
  const auto stream_rows = [](const VariantSpec& v, const Problem& p) {
    return detail::streamed_band_rows(v, p, -1, true);
  };
  using C = ConvCase;
  const C layer = C().valid().kernel(2).filters(64).channels(3);
  const C seed_layer = C(layer).batch(4).image(600, 600);
  const detail::Variant& direct = detail::find_variant("conv2d_nhwc_k2x2_s1_d1_cpu");
  // The seed's 2x2 layer: 368 MB out, rows of 599 x 64 floats (150 KiB): bands of 2 rows (512 KiB
  // fits 3, rounded down to even).
  const Problem seed = seed_layer.problem();
  EXPECT_EQ(stream_rows(direct, seed), 2);
  // Where streaming does not pay (AMD's CPUs), nothing streams unless forced (below).
  EXPECT_EQ(detail::streamed_band_rows(direct, seed, -1, false), 0);
  // Its 3x3 layer: a reduction of 27 (past kMaxStreamedReduction), stored in place.
  const detail::Variant& direct3x3 = detail::find_variant("conv2d_nhwc_k3x3_s1_d1_cpu");
  EXPECT_EQ(stream_rows(direct3x3, C(seed_layer).kernel(3).problem()), 0);
  // NCHW streams only where it runs as pixel rows (1x1 stride 1): the seed's 1x1 layer as rows of
  // 576 (147 KiB): bands of 2. Its 2x2 and 1x1 stride-2 layers are stored in place.
  const C nchw_seed_layer = C(seed_layer).nchw();
  const detail::Variant& nchw_pointwise = detail::find_variant("conv2d_nchw_k1x1_s1_d1_cpu");
  const Problem nchw_seed = C(nchw_seed_layer).kernel(1).problem();
  EXPECT_EQ(stream_rows(nchw_pointwise, detail::problem_as_run(nchw_pointwise, nchw_seed)), 2);
  const detail::Variant& nchw_strided = detail::find_variant("conv2d_nchw_k1x1_sr_d1_cpu");
  EXPECT_EQ(stream_rows(nchw_strided, C(nchw_seed_layer).kernel(1).stride(2).problem()), 0);
  EXPECT_EQ(
      stream_rows(detail::find_variant("conv2d_nchw_k2x2_s1_d1_cpu"), nchw_seed_layer.problem()),
      0);
  // A row past the band size still makes a band: 2 rows, never fewer.
  EXPECT_EQ(stream_rows(direct, C(layer).image(100, 600).filters(1024).problem()), 2);
  // 12.5 MB out: under kStreamedOutputMinBytes, stored in place.
  EXPECT_EQ(stream_rows(direct, C(layer).image(224, 224).problem()), 0);
  // The axis activations write a workspace first; GPU outputs are the device's.
  EXPECT_EQ(stream_rows(direct, C(seed_layer).activation("softmax").problem()), 0);
  EXPECT_EQ(stream_rows(detail::find_variant("conv2d_nhwc_kr_sr_dr_grouped_opencl"), seed), 0);
  // Options::stream_rows forces bands on any CPU, and 0 forbids them.
  EXPECT_EQ(detail::streamed_band_rows(direct, C(layer).image(9, 9).problem(), 5, false), 5);
  EXPECT_EQ(detail::streamed_band_rows(direct, seed, 0, true), 0);
}

// Width-vectorized NCHW variants run 1x1 stride-1 problems over each plane's pixels in rows of a
// width that fills whole tiles (detail::problem_as_run).
TEST(PixelRows, WidthsFillWholeTiles) {
  using C = ConvCase;
  const C layer = C().valid().kernel(1).filters(64).channels(8).image(56, 56);
  const detail::Variant& pointwise = detail::find_variant("conv2d_nchw_k1x1_s1_d1_cpu");
  const auto rows_of = [&](int64_t h, int64_t w) {
    const Problem q = detail::problem_as_run(pointwise, C(layer).nchw().image(h, w).problem());
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
  const Problem nchw = C(layer).nchw().problem();
  EXPECT_EQ(
      detail::problem_as_run(detail::find_variant("conv2d_nchw_cv_k1x1_sr_d1_cpu"), nchw).in_w, 56);
  EXPECT_EQ(detail::problem_as_run(detail::find_variant("conv2d_nchw_k1x1_sr_d1_cpu"),
                                   C(layer).nchw().stride(2).problem())
                .in_w,
            56);
  EXPECT_EQ(
      detail::problem_as_run(detail::find_variant("conv2d_nhwc_k1x1_sr_d1_cpu"), layer.problem())
          .in_w,
      56);
}

// Every CPU variant that runs 1x1 stride-1 problems as pixel rows, on planes whose rows change
// width (and for softmax, whose axis activation must still see the caller's rows).
TEST(PixelRows, VariantsMatchReference) {
  const ConvCase pointwise = ConvCase().nchw().valid().kernel(1).filters(24).batch(2).channels(17);
  int variants_run = 0;
  for (const detail::Variant& v : detail::variants()) {
    if (v.backend != Device::cpu || v.layout != DataFormat::channels_first) continue;
    for (const auto& [h, w] : {std::pair<int64_t, int64_t>{56, 56}, {28, 28}, {14, 14}, {13, 7}}) {
      for (const char* activation : {"relu", "softmax"}) {
        const ConvCase layer = ConvCase(pointwise).image(h, w).activation(activation);
        const Problem p = layer.problem();
        if (!v.decline_reason(p, Device::cpu).empty()) continue;
        const Problem q = detail::problem_as_run(v, p);
        if (q.in_w == p.in_w) continue;
        EXPECT_LE(layer.run(11, Device::cpu, forced(v.name)), kTolerance)
            << v.name << " " << p.to_string() << " " << activation;
        variants_run++;
      }
    }
  }
  // nchw_k1x1_s1_d1_f32, nchw_k1x1_s1_d1, nchw_k1x1_sr_d1 and nchw_kr_sr_dr_grouped, each 4 planes
  // x 2.
  EXPECT_EQ(variants_run, 4 * 4 * 2);
}

// The packing each CPU object asks for (a bounds query: detail::packed_layout) is the generator's
// rule (weight_packing.h) applied to the committed schedule data: blocks of the common packing,
// padded to whole register tiles of the ISA object this host runs. Random served problems per
// variant, so filter counts cross block and tile edges.
TEST(Selection, PackingAskedOfTheCompiledCodeFollowsTheScheduleData) {
  const auto read = [](const std::string& name) {
    std::ifstream file(std::string(HALCONV_SCHEDULE_DIR) + "/" + name);
    return nlohmann::json::parse(file);
  };
  const nlohmann::json common = read("cpu.json"), avx512 = read("cpu-avx512.json");
  __builtin_cpu_init();
  const bool avx512_host = __builtin_cpu_supports("avx512f") &&
                           __builtin_cpu_supports("avx512cd") &&
                           __builtin_cpu_supports("avx512vl") &&
                           __builtin_cpu_supports("avx512bw") && __builtin_cpu_supports("avx512dq");
  int checked = 0;
  for (const detail::Variant& v : detail::variants()) {
    if (v.backend != Device::cpu) continue;
    std::string key = v.name;
    key = key.substr(7, key.size() - 7 - 4);  // conv2d_<key>_cpu
    const auto value = [&](const nlohmann::json& file, const char* name, int fallback) {
      const auto entry = file["variants"].find(key);
      if (entry != file["variants"].end() && entry->contains(name))
        return (*entry)[name].get<int>();
      return file.contains("default") ? file["default"][name].get<int>() : fallback;
    };
    const bool channel_vectors = v.layout == DataFormat::channels_last || v.nchw_by_channels;
    const int vectors = value(common, "vectors_per_block", 0);
    const int block = value(common, "block_size", 0);
    const int tile_vectors =
        avx512_host && channel_vectors ? value(avx512, "vectors_per_block", 0) : 0;
    const int64_t pack = packing::filters_per_block(false, channel_vectors, vectors, block);
    const int64_t padding =
        packing::filter_padding(false, channel_vectors, vectors, block, tile_vectors);
    CaseGenerator cases{v, std::mt19937(7)};
    for (int i = 0; i < 8; i++) {
      const auto [config, shape] = cases.next();
      const Problem p = make_problem(config, shape);
      if (!v.decline_reason(p, Device::cpu).empty()) continue;
      const Problem run = detail::problem_as_run(v, p);
      const Problem asked =
          detail::runs_by_phases(v, run) ? detail::dilation_phases(run).front().problem : run;
      const auto [asked_pack, blocks] =
          detail::packed_layout(v.function, v.name, Device::cpu, asked);
      EXPECT_EQ(asked_pack, pack) << v.name << " " << p.to_string();
      EXPECT_EQ(blocks * asked_pack, (p.filters + padding - 1) / padding * padding)
          << v.name << " " << p.to_string();
      checked++;
    }
  }
  EXPECT_GT(checked, 100);
}

// Shape classes: the rules that send a layer to the variant measured fastest for it.
TEST(Selection, ShapeClassesFollowChannelCounts) {
  using C = ConvCase;
  EXPECT_EQ(C().channels(64).filters(64).chosen(), "conv2d_nhwc_k3x3_s1_d1_wino_cpu");
  EXPECT_EQ(C().channels(3).filters(64).chosen(),
            "conv2d_nhwc_k3x3_s1_d1_cpu");  // RGB: too few for Winograd
  // Grouped: rotated (NCHW: whole groups) at 4 channels and 4 filters per group (3x3 stride 1),
  // block-diagonal at 4 filters per group or more (3x3 stride 1 with constants), narrow below
  // with at most 16 input channels per group, else generic.
  EXPECT_EQ(C().channels(128).filters(128).groups(32).chosen(),
            "conv2d_nhwc_k3x3_s1_d1_rotated_cpu");  // ResNeXt
  EXPECT_EQ(C().channels(128).filters(256).groups(32).chosen(),
            "conv2d_nhwc_k3x3_s1_d1_block_diagonal_cpu");  // 8 filters each
  EXPECT_EQ(C().channels(64).filters(64).groups(2).chosen(),
            "conv2d_nhwc_k3x3_s1_d1_block_diagonal_cpu");
  EXPECT_EQ(C().channels(64).filters(128).groups(64).chosen(), "conv2d_nhwc_kr_sr_dr_narrow_cpu");
  EXPECT_EQ(C().channels(128).filters(128).groups(32).stride(2).chosen(),
            "conv2d_nhwc_kr_sr_dr_block_diagonal_cpu");
  EXPECT_EQ(C().channels(64).filters(64).groups(2).kernel(5).chosen(),
            "conv2d_nhwc_kr_sr_dr_block_diagonal_cpu");  // 32 channels per group
  EXPECT_EQ(C().channels(64).filters(64).groups(32).kernel(5).chosen(),
            "conv2d_nhwc_kr_sr_dr_narrow_cpu");  // 2 filters per group
  EXPECT_EQ(C().channels(128).filters(4).groups(2).chosen(), "conv2d_nhwc_kr_sr_dr_grouped_cpu");
  EXPECT_EQ(C().nchw().channels(64).filters(64).chosen(), "conv2d_nchw_cv_k3x3_s1_d1_wino_cpu");
  EXPECT_EQ(C().nchw().channels(3).filters(64).chosen(), "conv2d_nchw_k3x3_s1_d1_cpu");
  EXPECT_EQ(C().nchw().channels(128).filters(128).groups(32).chosen(),
            "conv2d_nchw_k3x3_s1_d1_whole_groups_cpu");
  EXPECT_EQ(C().nchw().channels(128).filters(256).groups(32).chosen(),
            "conv2d_nchw_cv_k3x3_s1_d1_block_diagonal_cpu");
  EXPECT_EQ(C().nchw().channels(64).filters(128).groups(64).chosen(),
            "conv2d_nchw_cv_kr_sr_dr_narrow_cpu");
  EXPECT_EQ(C().nchw().channels(32).filters(32).groups(32).chosen(),
            "conv2d_nchw_k3x3_s1_d1_depthwise_cpu");
  const DataFormat nhwc = DataFormat::channels_last, nchw = DataFormat::channels_first;
  // Deep layers (at most 64 output pixels) get their own schedules: direct at odd widths,
  // Winograd at even ones.
  auto select_deep = [](DataFormat format, int64_t side) {
    return select_variant(testing::square_3x3_problem(format, side, 512, 512), Device::cpu);
  };
  EXPECT_EQ(select_deep(nhwc, 7).chosen, "conv2d_nhwc_k3x3_s1_d1_p64_cpu");
  EXPECT_EQ(select_deep(nchw, 7).chosen, "conv2d_nchw_cv_k3x3_s1_d1_p64_cpu");
  const Selection even = select_deep(nhwc, 8);
  EXPECT_EQ(even.chosen, "conv2d_nhwc_k3x3_s1_d1_wino_p64_cpu");
  ASSERT_FALSE(even.declined.empty());
  EXPECT_EQ(even.declined[0],
            std::make_pair(std::string("conv2d_nhwc_k3x3_s1_d1_p64_cpu"),
                           std::string("output width 8 (variant serves odd widths; Winograd's 2x2 "
                                       "tiles cover even ones)")));
  EXPECT_EQ(select_deep(nchw, 8).chosen, "conv2d_nchw_cv_k3x3_s1_d1_wino_p64_cpu");
  const Selection past_bound = select_deep(nhwc, 9);
  EXPECT_EQ(past_bound.chosen, "conv2d_nhwc_k3x3_s1_d1_wino_cpu");
  ASSERT_GE(past_bound.declined.size(), 2u);
  EXPECT_EQ(past_bound.declined[0],
            std::make_pair(std::string("conv2d_nhwc_k3x3_s1_d1_p64_cpu"),
                           std::string("81 output pixels per image (variant serves at most 64)")));
  EXPECT_EQ(past_bound.declined[1].first, "conv2d_nhwc_k3x3_s1_d1_wino_p64_cpu");
  // Pointwise.
  const C pointwise = C().kernel(1);
  EXPECT_EQ(C(pointwise).channels(32).filters(16).chosen(),
            "conv2d_nhwc_k1x1_sr_d1_f16_cpu");  // MobileNet's projections
  EXPECT_EQ(C(pointwise).channels(32).filters(17).chosen(), "conv2d_nhwc_k1x1_sr_d1_f32_cpu");
  EXPECT_EQ(C(pointwise).channels(32).filters(33).chosen(), "conv2d_nhwc_k1x1_sr_d1_cpu");
  // Stride 2 has its own schedule; other strides take the run-time-stride variant; RGB input
  // (up to 4 channels) at any other stride its own schedule class.
  EXPECT_EQ(C(pointwise).channels(32).filters(64).stride(2).chosen(), "conv2d_nhwc_k1x1_s2_d1_cpu");
  EXPECT_EQ(C(pointwise).channels(32).filters(64).stride(3).chosen(), "conv2d_nhwc_k1x1_sr_d1_cpu");
  EXPECT_EQ(C(pointwise).channels(3).filters(64).chosen(), "conv2d_nhwc_k1x1_sr_d1_c4_cpu");
  EXPECT_EQ(C(pointwise).channels(4).filters(64).stride(3).chosen(),
            "conv2d_nhwc_k1x1_sr_d1_c4_cpu");
  EXPECT_EQ(C(pointwise).channels(5).filters(64).chosen(), "conv2d_nhwc_k1x1_sr_d1_cpu");
  EXPECT_EQ(C(pointwise).channels(3).filters(64).stride(2).chosen(), "conv2d_nhwc_k1x1_s2_d1_cpu");
  EXPECT_EQ(C(pointwise).nchw().channels(32).filters(24).chosen(),
            "conv2d_nchw_k1x1_s1_d1_f32_cpu");
  // It reads its planes in place, stride 1 only; strided ones stage theirs.
  EXPECT_EQ(C(pointwise).nchw().channels(32).filters(24).stride(2).chosen(),
            "conv2d_nchw_cv_k1x1_sr_d1_cpu");
  // channels_first stride 1: the width-vectorized GEMM, whatever the channel count (up to 4, RGB
  // and RGBA, with a schedule of its own); strided with many channels: by channels.
  EXPECT_EQ(C(pointwise).nchw().channels(32).filters(64).chosen(), "conv2d_nchw_k1x1_s1_d1_cpu");
  EXPECT_EQ(C(pointwise).nchw().channels(5).filters(64).chosen(), "conv2d_nchw_k1x1_s1_d1_cpu");
  EXPECT_EQ(C(pointwise).nchw().channels(3).filters(64).chosen(), "conv2d_nchw_k1x1_s1_d1_c4_cpu");
  EXPECT_EQ(C(pointwise).nchw().channels(4).filters(64).chosen(), "conv2d_nchw_k1x1_s1_d1_c4_cpu");
  EXPECT_EQ(C(pointwise).nchw().channels(32).filters(64).stride(2).chosen(),
            "conv2d_nchw_cv_k1x1_sr_d1_cpu");
  EXPECT_EQ(C(pointwise).nchw().channels(3).filters(64).stride(2).chosen(),
            "conv2d_nchw_k1x1_sr_d1_cpu");
  // 2x2: the seed's RGB layer gets constant taps; strided or many-channel ones the generic forms.
  const C two = C().kernel(2).filters(64);
  EXPECT_EQ(C(two).channels(3).chosen(), "conv2d_nhwc_k2x2_s1_d1_cpu");
  EXPECT_EQ(C(two).nchw().channels(3).chosen(), "conv2d_nchw_k2x2_s1_d1_cpu");
  EXPECT_EQ(C(two).channels(3).stride(2).chosen(), "conv2d_nhwc_kr_sr_dr_grouped_cpu");
  EXPECT_EQ(C(two).nchw().channels(64).chosen(), "conv2d_nchw_cv_kr_sr_dr_cpu");
}

TEST(Selection, ForcingAVariantThatCannotRunIsAnError) {
  const Problem p = ConvCase().valid().kernel(5).filters(4).image(9, 9).channels(2).problem();
  const auto kind_of = [&](const Options& options, Device device) {
    try {
      select_variant(p, device, options);
    } catch (const Error& e) {
      return std::string(error_kind_name(e.kind()));
    }
    return std::string("none");
  };
  EXPECT_EQ(kind_of(forced("conv2d_nhwc_k3x3_s1_d1_cpu"), Device::cpu), "unsupported");
  EXPECT_EQ(kind_of(forced("no_such_variant"), Device::cpu), "invalid_config");
  const Options generic = forced("conv2d_nhwc_kr_sr_dr_grouped_cpu");
  EXPECT_EQ(select_variant(p, Device::cpu, generic).chosen, "conv2d_nhwc_kr_sr_dr_grouped_cpu");
  EXPECT_EQ(kind_of(generic, Device::opencl), "invalid_config");
}

}  // namespace
}  // namespace halconv