// The Conv2D generator family. One algorithm, specialized at generate time by GeneratorParams:
// layout, which of kernel size / stride / dilation are compile-time constants (fast paths) or
// run-time inputs (generic), the groups mode, and the schedule's blocking parameters (tuning data).
//
// Semantics follow Keras 3 Conv2D: the input is read with zero fill outside its bounds, padding
// arrives as explicit top/left offsets (the runtime resolves TensorFlow's SAME rule), bias and the
// element-wise activation are fused into the output stage.
#pragma once

#include <functional>
#include <iterator>
#include <map>
#include <string>

#include "Halide.h"
#include "conv2d_common.h"
#include "isa_schedule.h"
#include "register_tile.h"
#include "weight_packing.h"

namespace halconv::generators {

using namespace Halide;
using halconv::Activation;
using halconv::GroupsMode;

class Conv2D : public Generator<Conv2D> {
 public:
  GeneratorParam<Layout> layout{
      "layout", Layout::NHWC, {{"nhwc", Layout::NHWC}, {"nchw", Layout::NCHW}}};
  // 0 means "a run-time value": the kernel size from the weights, stride and dilation from inputs.
  GeneratorParam<int> kernel_size{"kernel_size", 0};
  GeneratorParam<int> stride{"stride", 0};
  GeneratorParam<int> dilation{"dilation", 0};
  GeneratorParam<GroupsMode> groups_mode{
      "groups_mode", GroupsMode::grouped,
      std::map<std::string, GroupsMode>(std::begin(halconv::kGroupsModeNames),
                                        std::end(halconv::kGroupsModeNames))};
  // NCHW only: vectorize along output channels, as NHWC does, instead of along width. The input
  // rows are transposed as they are staged and the output tile as it is stored, so layers with
  // many channels run the NHWC inner loop; the width-vectorized form stays better for a few.
  GeneratorParam<bool> nchw_by_channels{"nchw_by_channels", false};
  // winograd: F(2x2, 3x3) for dense 3x3 stride 1 dilation 1 on the CPU, NHWC or NCHW by channels;
  // the weights arrive transformed, as (filter % pack, cin, 4, 4, filter / pack).
  GeneratorParam<Algorithm> algorithm{
      "algorithm",
      Algorithm::Direct,
      {{"direct", Algorithm::Direct}, {"winograd", Algorithm::Winograd}}};
  // Schedule parameters (tuning data, set from schedules/*.json by the build).
  // Accumulator block along the vectorized dimension, in vectors (channels for NHWC, x for NCHW).
  GeneratorParam<int> vectors_per_block{"vectors_per_block", 2};
  // Accumulator block along the other dimension (x for NHWC, output channels for NCHW).
  GeneratorParam<int> block_size{"block_size", 6};
  // Which activations the output stage handles: all of them (the shipped variants), or only
  // linear, which the tuner uses to compile candidates quickly (the same code as the shipped
  // variants' piecewise-linear copy; see schedule_activations()).
  GeneratorParam<bool> linear_only{"linear_only", false};
  // Output rows per parallel CPU task (the band; see shared_staging).
  GeneratorParam<int> rows_per_task{"rows_per_task", 4};
  // A parallel task: one channel block over a band of rows (false), or the band over every channel
  // block (true), which then share the task's staged input (for NCHW a gather per element, for
  // Winograd a transform).
  GeneratorParam<bool> shared_staging{"shared_staging", false};
  // Input channels per reduction chunk (0: the whole reduction at once). Chunked, a channel
  // block's accumulators for its whole band live in memory and each chunk's weights are reused
  // across all of the band's tiles while in cache: for few pixels and many channels, where a
  // tile's pass would otherwise stream the whole block's weights from memory.
  GeneratorParam<int> reduction_chunk{"reduction_chunk", 0};
  // Each ISA's own values of the parameters above (isa_schedule.h; schedules/cpu-avx512.json):
  // twice the vector registers and other caches move the optimum (ResNet's 56x56 1x1 layer: 12
  // columns on AVX2, 3 on AVX-512). The weight packing stays common to every ISA, so an ISA's
  // vectors_per_block is its register tile along channels, a multiple of the packed block's that
  // spans several blocks (the runtime pads the weights to whole tiles: detail::filter_padding), or
  // in width-vectorized dense NCHW the tile's width, which packs nothing; and its block_size
  // applies only where the block is not the packed one. vector_lanes: 8 runs AVX-512 on 8-float
  // vectors with all 32 registers, which halves the zeros block-diagonal variants multiply and,
  // where a CPU splits a 512-bit FMA in two, costs half as much per FMA.
  GeneratorParam<std::string> isa_schedules{"isa_schedules", ""};
  // GPU thread-block shape: threads along the vectorized dimension, and along the blocked one.
  GeneratorParam<int> gpu_threads_v{"gpu_threads_v", 32};
  GeneratorParam<int> gpu_threads_b{"gpu_threads_b", 4};
  // The most filters the variant serves (0: any); the runtime's selection enforces it.
  GeneratorParam<int> max_filters{"max_filters", 0};

  // NHWC: (c, x, y, n); NCHW: (x, y, c, n). Halide lists dimensions innermost first.
  Input<Buffer<float, 4>> input{"input"};
  // The weights, packed by the runtime from Keras' (kh, kw, in_channels / groups, filters) into
  // blocks of filter_pack() filters, each block contiguous: (filter % pack, cin_g, kw, kh,
  // filter / pack) here. A block's weights then span few pages and stream well from cache.
  Input<Buffer<float, 5>> kernel{"kernel"};
  Input<Buffer<float, 1>> bias{"bias"};  // (filters); zeros when use_bias is false
  Input<int32_t> stride_x{"stride_x"};
  Input<int32_t> stride_y{"stride_y"};
  Input<int32_t> dilation_x{"dilation_x"};
  Input<int32_t> dilation_y{"dilation_y"};
  Input<int32_t> pad_top{"pad_top"};
  Input<int32_t> pad_left{"pad_left"};
  Input<int32_t> groups{"groups"};
  Input<int32_t> filters{"filters"};        // the real count; the weights may be padded past it
  Input<int32_t> activation{"activation"};  // halconv::Activation, element-wise ones only
  Output<Buffer<float, 4>> output{"output"};

  void generate();

  // M v M^T for a rows x 4 matrix M and a 4x4 v given by value(i, j): the entries, index a + rows *
  // b, each a sum over the nonzero coefficients only.
  template <int rows>
  static std::vector<Expr> transform_2d(const float (&m)[rows][4],
                                        const std::function<Expr(int, int)>& value) {
    std::vector<Expr> entries;
    for (int b = 0; b < rows; b++) {
      for (int a = 0; a < rows; a++) {
        Expr sum = 0.0f;
        for (int j = 0; j < 4; j++) {
          for (int i = 0; i < 4; i++) {
            const float coefficient = m[a][i] * m[b][j];
            if (coefficient != 0) sum += coefficient * value(i, j);
          }
        }
        entries.push_back(sum);
      }
    }
    return entries;
  }

  // conv += the F(2x2, 3x3) output tile holding (x, y). Input tiles start at even coordinates.
  // in_channels_first: the zero-filled input as (c, x, y, n).
  void define_winograd(Func in_channels_first,
                       const std::function<Expr(Expr, Expr, Expr, Expr)>& weight);

  void schedule();

 private:
  // The input's and output's channel dimension (innermost for NHWC).
  int channel_dim() const { return layout == Layout::NHWC ? 0 : 2; }
  // The input's and output's row (height) dimension.
  int row_dim() const { return layout == Layout::NHWC ? 2 : 1; }

  // The schedule parameters for this target: its ISA's own (isa_schedules) where it has them.
  bool avx512() const { return get_target().has_feature(Target::AVX512); }
  // This target's value of a schedule parameter, or `common` where its ISA sets none.
  int isa_value(const char* name, int common) const {
    if (get_target().has_gpu_feature()) return common;
    const auto isas = parse_isa_schedules(isa_schedules);
    const auto isa = isas.find(avx512() ? "avx512" : "");
    if (isa == isas.end()) return common;
    const auto value = isa->second.find(name);
    return value == isa->second.end() ? common : value->second;
  }
  int tile_block() const { return isa_value("block_size", block_size); }
  int band_rows() const { return isa_value("rows_per_task", rows_per_task); }
  int chunk_channels() const { return isa_value("reduction_chunk", reduction_chunk); }
  bool staging_shared() const {
    if (reads_zero_filled_input_in_place() || reads_planes_in_place()) return true;
    return isa_value("shared_staging", shared_staging) != 0;
  }
  // This ISA's tile in vectors where it differs from the packed block (0: as packed).
  int isa_tile_vectors() const { return isa_value("vectors_per_block", 0); }

  // Floats per vector of this target's CPU tile.
  int vector_floats() const { return isa_value("vector_lanes", natural_vector_size<float>()); }

  // Filters per register tile along channels: one packed block, or on AVX-512 several (the packed
  // filters are padded to whole tiles: weight_packing.h).
  int tile_filters() const {
    return static_cast<int>(packing::filter_padding(get_target().has_gpu_feature(),
                                                    channel_vectors(), vectors_per_block,
                                                    block_size, isa_tile_vectors()));
  }

  int activation_count() const { return linear_only ? 1 : static_cast<int>(Activation::softmax); }

  // Filters per packed weight block (weight_packing.h, the rule the runtime packs by).
  int filter_pack() const {
    return static_cast<int>(packing::filters_per_block(
        get_target().has_gpu_feature(), channel_vectors(), vectors_per_block, block_size));
  }

  // The CPU tile's vector runs along output channels (NHWC, or NCHW by channels), else width.
  bool channel_vectors() const {
    return layout == Layout::NHWC || (nchw_by_channels && !get_target().has_gpu_feature());
  }

  // CPU: a (wide along vdim) x (block along bdim) accumulator tile in vector registers; NHWC
  // broadcasts one input value against a vector of weights per FMA, NCHW one weight against a
  // vector of inputs. Measured 2026-11-24 (2-core AMD EPYC, AVX2, 1 thread; bench/RESULTS.md):
  // NHWC 3x3 56x56x64 -> 64 at 88 GFLOP/s, 60% of the measured FMA peak, 0.98x oneDNN; NHWC 1x1
  // 56x56x64 -> 256 at 49%; NCHW 3x3 at 38%; depthwise 3x3 at 18% (1.03x oneDNN).
  std::function<void(Stage)> schedule_cpu(const Var& vdim, const Var& bdim, int block);

  // Makes the CPU tasks (loop `task`, parallel) from the output's yo, n and channel_blocks loops,
  // which sit in that order, outermost last; returns the loop of one channel block's work.
  LoopLevel parallel_tasks(const Var& channel_blocks) {
    if (staging_shared()) {
      output.fuse(yo, n, task).parallel(task);
      return LoopLevel(output, channel_blocks);
    }
    output.fuse(channel_blocks, yo, block_rows).fuse(block_rows, n, task).parallel(task);
    return LoopLevel(output, task);
  }

  // Width-vectorized depthwise CPU kernels of constant size tile a channel's rows (`block` of
  // them) instead of channels: a row vector loaded once serves every output row of the tile under
  // it, where a channel tile loads one per FMA. MobileNet's 112x112x32 3x3 layer, 2 threads, JIT:
  // 0.23 ms tuned, against 0.35 ms for the channel tile tuned.
  bool rows_tile() const {
    return halconv::generators::tiles_rows(
        layout == Layout::NCHW && !channel_vectors() && !get_target().has_gpu_feature(),
        groups_mode == GroupsMode::depthwise || groups_mode == GroupsMode::whole_groups,
        kernel_size);
  }

  // A rows tile over a whole group's filters (groups_mode=whole_groups).
  bool whole_groups() const { return groups_mode == GroupsMode::whole_groups; }

  // NHWC 1x1 reads its input in place, unstaged: a 1x1 kernel never pads (TensorFlow's SAME
  // total, max((ceil(in / s) - 1) s + 1 - in, 0), is 0), so there is nothing to zero-fill, and a
  // pixel's channels are already the dense run the tile broadcasts from. Measured against the
  // staged copy, AOT, 2 threads: the seed's RGB 1x1 layer (1 image) 4.1-4.8 against 5.8-6.4 ms,
  // MobileNet's 112x112x32 -> 64 0.23-0.26 against 0.29-0.34 ms.
  bool reads_input_in_place() const {
    return (layout == Layout::NHWC && kernel_size == 1) || reads_planes_in_place();
  }

  // Width-vectorized NCHW 1x1 with the constant stride 1 and few filters reads its input planes in
  // place too: a plane's row is the dense run its width vectors load, where staging cost a third
  // of MobileNet's 112x112x32 -> 16 layer. Its tile moves over the channel blocks innermost (each
  // input tile loaded once for every filter), so that the x tiles' bound splits off before the
  // last, partial channel block, whose loop Halide does not partition (its columns stayed a gather
  // per lane: 0.14 ms). AVX-512, 2 threads, generated objects alone: 0.073-0.079 against
  // 0.11 ms staged. Not with many filters: the seed's 600x600 RGB layer then writes 64 output
  // planes per tile, 28 against 16 ms.
  bool reads_planes_in_place() const {
    return halconv::generators::reads_planes_in_place(
        layout == Layout::NCHW && !channel_vectors() && !get_target().has_gpu_feature(),
        kernel_size, stride, max_filters);
  }

  // NHWC depthwise and rotated variants load their input as whole channel vectors, one per tap
  // and column, so they read the zero-filled input in place (in_rows inlined): the bounds test is
  // one scalar condition per vector, where a staged copy per task costs a pass over the band.
  // Generated objects alone, AVX-512, 2 threads, in alternation: MobileNet's 112x112x32 depthwise
  // layer 0.062 against 0.113 ms staged, ResNeXt's 56x56x128 rotated 0.159 against 0.20 ms.
  // Variants that broadcast one input value per FMA group lose by it (block-diagonal, 8 filters
  // per group: 2.8x slower; dense 3x3: 5% slower). A task then spans every channel block
  // (staging_shared()): in that serial loop Halide splits off the blocks inside the input's
  // channels, whose loads need no per-lane test; as separate tasks every load was a gather
  // (depthwise 0.77 against 0.048 ms).
  bool reads_zero_filled_input_in_place() const {
    return halconv::generators::reads_input_vectors_in_place(layout == Layout::NHWC,
                                                             groups_mode == GroupsMode::depthwise,
                                                             groups_mode == GroupsMode::rotated);
  }

  // Width-vectorized stride-2 CPU kernels read every other input column: their input is staged as
  // two phases (even and odd columns), where each tap's width vector is a dense load, not a
  // strided one (a shuffle of two loads per vector on x86).
  bool staged_by_phase() const {
    return layout == Layout::NCHW && !channel_vectors() && stride == 2 && kernel_size > 1 &&
           groups_mode != GroupsMode::narrow && algorithm == Algorithm::Direct &&
           !get_target().has_gpu_feature();
  }

  // Direct variants: chunking applies where the reduction's first dimension is input channels along
  // a channel vector (not depthwise, not the width-vectorized NCHW form, not the GPU).
  bool chunked_reduction() const {
    return chunk_channels() > 0 && channel_vectors() && groups_mode != GroupsMode::depthwise &&
           algorithm == Algorithm::Direct && !get_target().has_gpu_feature();
  }

  // NCHW staged along channels: each vector gathers one pixel from each of `vec` planes. Where
  // the planes lie a multiple of 4 KiB apart (32x32 or 64x64 images, DeepLab's dilation phases),
  // those pixels share one L1 set, and 16 lines thrash its 12 ways (AMD Zen 4) at every column;
  // such inputs gather 8 planes at a time across a row's columns instead. Winograd 32x32x256, 2
  // threads, generated objects alone: 3.3-3.5 ms against 4.0-4.3; other sizes stay as they were
  // (56x56x64 lost 5-10% that way).
  void stage_across_planes(int vec) {
    constexpr int kPlanesPerGather = 8;
    if (vec <= kPlanesPerGather) return;
    const Expr plane_stride = input.dim(channel_dim()).stride();
    in_rows.specialize(plane_stride % 1024 == 0)
        .split(c, vblocks, lanes, kPlanesPerGather)
        .reorder(lanes, x, vblocks, y, n)
        .vectorize(lanes);
  }

  // Winograd on the CPU: a channel block over a band of `rows` output rows (an even count, whole
  // tiles), or the band over every block (shared_staging), transforms its input tiles once, then
  // per run of `tiles` tiles accumulates the 16 element-wise products as 16 register-blocked GEMMs
  // over input channels (vector of filters x tiles, as the direct NHWC tile), and applies A^T m A,
  // bias and the activation.
  void schedule_winograd();

  // The tile's activation stage (conv's update `stage`), specialized per id. On the CPU the
  // piecewise-linear activations (linear to leaky_relu) also get a copy of the whole pipeline whose
  // tile holds only their rungs: with every activation's rungs in the tile, LLVM spills the
  // accumulators around them (seed 3x3 same, AVX-512, 2 threads: 44 ms against 34 ms). The
  // output's last scheduling call: a specialization copies the schedule made before it.
  void schedule_activations(const std::function<void(Stage)>& tile, int stage) {
    for (int id = 0; id < activation_count(); id++) {
      tile(conv.update(stage).specialize(activation == id));
    }
    conv.update(stage).specialize_fail("activation id out of range");
    constexpr int kLastPiecewiseLinear = static_cast<int>(Activation::leaky_relu);
    if (!get_target().has_gpu_feature() && activation_count() > kLastPiecewiseLinear + 1) {
      output.specialize(activation <= kLastPiecewiseLinear);
    }
  }

  // GPU: threads along vdim (adjacent threads touch adjacent memory, so loads and stores
  // coalesce), each thread accumulating `block` outputs along bdim in registers. Thread-block
  // shape is tuning data (gpu_threads_v x gpu_threads_b). Not yet measured on a GPU (none was
  // available; bench/RESULTS_GPU.md); correctness is tested through OpenCL on PoCL.
  std::function<void(Stage)> schedule_gpu(const Var& vdim, const Var& bdim, int block);

  Var c{"c"}, x{"x"}, y{"y"}, n{"n"};
  Var vo{"vo"}, vi{"vi"}, bo{"bo"}, bi{"bi"}, bt{"bt"}, yn{"yn"}, yo{"yo"}, yi{"yi"},
      block_rows{"block_rows"}, task{"task"}, lanes{"lanes"}, vblocks{"vblocks"};
  std::vector<Var> tile_vars;  // the tile's loops, innermost first, that sit inside the reduction
  // Loops that move the tile, between the reduction and y (c where the tile spans rows).
  std::vector<Var> tile_outer_vars;
  Var go{"go"}, gi{"gi"};  // groups, and filters within one (whole_groups)
  Var yt{"yt"};            // row tiles (rows_tile())
  Var ci{"ci"}, e{"e"}, phase{"phase"}, tx{"tx"}, ty{"ty"}, yp{"yp"}, yq{"yq"}, txo{"txo"},
      txi{"txi"}, xt{"xt"}, xi{"xi"};
  RVar rco{"rco"}, rci{"rci"};
  RDom in_columns;  // rows_tile(): the input's columns, copied into the zeroed staging
  Func in_rows{"in_rows"}, in_by_filter{"in_by_filter"}, block_diagonal{"block_diagonal"},
      conv{"conv"};
  // groups_mode=rotated: the accumulators (c, rotation, x, y, n), by input lane, their weights
  // permuted alike, and their taps' reduction.
  Func rotated_sums{"rotated_sums"}, rotated_weight{"rotated_weight"};
  RDom rotated_taps;
  Func in_phases{"in_phases"};  // (c, column pair, phase, y, n): see staged_by_phase()
  // A filter's first input channel: one division per filter and task, not per vector lane.
  Func group_first_channel{"group_first_channel"};
  Func transformed_in{"transformed_in"}, winograd_m{"winograd_m"};
  // conv's reduction updates, in order (Winograd: winograd_m's one).
  std::vector<RDom> reductions;
};

}  // namespace halconv::generators
