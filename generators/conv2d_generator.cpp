// The Conv2D generator family. One algorithm, specialized at generate time by GeneratorParams:
// layout, which of kernel size / stride / dilation are compile-time constants (fast paths) or
// run-time inputs (generic), the groups mode, and the schedule's blocking parameters (tuning data).
//
// Semantics follow Keras 3 Conv2D: the input is read with zero fill outside its bounds, padding
// arrives as explicit top/left offsets (the runtime resolves TensorFlow's SAME rule), bias and the
// element-wise activation are fused into the output stage.
#include <functional>

#include "Halide.h"
#include "halconv/activation.h"
#include "halconv/extension.h"
#include "register_tile.h"

namespace {

using namespace Halide;
using halconv::Activation;

enum class Layout { NHWC, NCHW };
enum class GroupsMode { Dense, Grouped, Depthwise, Narrow, BlockDiagonal, Rotated, WholeGroups };
enum class Algorithm { Direct, Winograd };

// Winograd F(2x2, 3x3) (Lavin and Gray, 2016): a 4x4 input tile, transformed by B^T d B and
// multiplied element-wise with the transformed weights G g G^T (the runtime packs those, see
// runtime/winograd.cpp), gives a 2x2 output tile by A^T m A: 16 multiplies instead of 36. The
// coefficients are 0 and +-1, so it rounds like the direct form.
constexpr float kWinogradBt[4][4] = {{1, 0, -1, 0}, {0, 1, 1, 0}, {0, -1, 1, 0}, {0, 1, 0, -1}};
constexpr float kWinogradAt[2][4] = {{1, 1, 1, 0}, {0, 1, -1, -1}};

Expr sigmoid(const Expr& v) {
  // Split on the sign so that exp never overflows.
  Expr e = exp(-abs(v));
  return select(v >= 0.0f, 1.0f / (1.0f + e), e / (1.0f + e));
}

Expr softplus(const Expr& v) { return max(v, 0.0f) + log(1.0f + exp(-abs(v))); }

Expr hard_sigmoid(const Expr& v) { return clamp(v / 6.0f + 0.5f, 0.0f, 1.0f); }

// Keras 3's element-wise activations (keras/src/backend/numpy/nn.py is the reference reading).
Expr activate_finite(Activation a, const Expr& x);

// NaN in, NaN out, as NumPy and TensorFlow give it. Halide compiles float math with fast-math
// flags and may fold max(NaN, 0) or exp(NaN) to numbers; is_nan is always evaluated strictly.
// The shrink functions are the exception: Keras' np.where chains map NaN to 0.
Expr activate(Activation a, const Expr& x) {
  if (a == Activation::soft_shrink || a == Activation::hard_shrink) {
    return activate_finite(a, x);
  }
  return select(is_nan(x), x, activate_finite(a, x));
}

Expr activate_finite(Activation a, const Expr& x) {
  switch (a) {
    case Activation::linear:
      return x;
    case Activation::relu:
      return max(x, 0.0f);
    case Activation::relu6:
      return clamp(x, 0.0f, 6.0f);
    case Activation::leaky_relu:
      return select(x >= 0.0f, x, 0.2f * x);
    case Activation::elu:
      return select(x >= 0.0f, x, exp(x) - 1.0f);
    case Activation::celu:
      return max(x, 0.0f) + (exp(min(x, 0.0f)) - 1.0f);
    case Activation::selu: {
      const float alpha = 1.6732632423543772f, scale = 1.0507009873554805f;
      return scale * select(x > 0.0f, x, alpha * (exp(x) - 1.0f));
    }
    case Activation::sigmoid:
      return sigmoid(x);
    case Activation::tanh:
      return tanh(x);
    case Activation::softplus:
      return softplus(x);
    case Activation::softsign:
      return x / (1.0f + abs(x));
    case Activation::silu:
      return x * sigmoid(x);
    case Activation::hard_silu:
      return x * hard_sigmoid(x);
    case Activation::gelu:
      return 0.5f * x * (1.0f + erf(x * 0.70710678118654752f));
    case Activation::exponential:
      return exp(x);
    case Activation::mish:
      return x * tanh(softplus(x));
    case Activation::log_sigmoid:
      return -softplus(-x);
    case Activation::hard_tanh:
      return clamp(x, -1.0f, 1.0f);
    case Activation::tanh_shrink:
      return x - tanh(x);
    case Activation::soft_shrink:
      return select(x > 0.5f, x - 0.5f, x < -0.5f, x + 0.5f, 0.0f);
    case Activation::hard_shrink:
      return select(abs(x) > 0.5f, x, 0.0f);
    case Activation::squareplus:
      return (x + sqrt(x * x + 4.0f)) * 0.5f;
    case Activation::sparse_plus:
      return select(x <= -1.0f, 0.0f, x < 1.0f, 0.25f * (x + 1.0f) * (x + 1.0f), x);
    case Activation::sparse_sigmoid:
      return select(x <= -1.0f, 0.0f, x >= 1.0f, 1.0f, 0.5f * (x + 1.0f));
    case Activation::hard_sigmoid:
      return hard_sigmoid(x);
    case Activation::hard_sigmoid_keras2:
      return clamp(0.2f * x + 0.5f, 0.0f, 1.0f);
    default:
      // Axis activations run as a separate stage; the conv stage is linear for them.
      return x;
  }
}

class Conv2D : public Generator<Conv2D> {
 public:
  GeneratorParam<Layout> layout{
      "layout", Layout::NHWC, {{"nhwc", Layout::NHWC}, {"nchw", Layout::NCHW}}};
  // 0 means "a run-time value": the kernel size from the weights, stride and dilation from inputs.
  GeneratorParam<int> kernel_size{"kernel_size", 0};
  GeneratorParam<int> stride{"stride", 0};
  GeneratorParam<int> dilation{"dilation", 0};
  GeneratorParam<GroupsMode> groups_mode{"groups_mode",
                                         GroupsMode::Grouped,
                                         {{"dense", GroupsMode::Dense},
                                          {"grouped", GroupsMode::Grouped},
                                          {"depthwise", GroupsMode::Depthwise},
                                          {"narrow", GroupsMode::Narrow},
                                          {"block_diagonal", GroupsMode::BlockDiagonal},
                                          {"rotated", GroupsMode::Rotated},
                                          {"whole_groups", GroupsMode::WholeGroups}}};
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
  // The AVX-512 object's own values of the four above (schedules/cpu-avx512.json): twice the
  // vector registers and other caches move the optimum (ResNet's 56x56 1x1 layer: 12 columns on
  // AVX2, 3 on AVX-512). The weight packing stays common to every ISA, so block_size has no
  // AVX-512 value where it is the packed block (width-vectorized NCHW).
  // 0 (block, rows) or -1 (chunk, shared staging): as the common value.
  GeneratorParam<int> avx512_block_size{"avx512_block_size", 0};
  // The AVX-512 object's register tile along channels, in vectors, where it spans several packed
  // blocks (a multiple of vectors_per_block; 0: one block). 24 accumulators hide the FMA latency;
  // with a 2-vector block they take 12 columns, a general register each for its input pointer,
  // more than x86 has, so the tuner had settled on 2 x 3 (6 accumulators). 4 x 6 needs 6. The
  // runtime pads the weights to whole tiles (detail::filter_padding). Width-vectorized dense NCHW:
  // the AVX-512 tile's width in vectors, which packs nothing (AVX2's 16 registers hold 2 x 6
  // accumulators, AVX-512's 32 hold 4 x 6).
  GeneratorParam<int> avx512_vectors_per_block{"avx512_vectors_per_block", 0};
  GeneratorParam<int> avx512_rows_per_task{"avx512_rows_per_task", 0};
  // The AVX-512 object's vector width in floats: 16 (0), or 8 (AVX-512VL on 256-bit vectors, with
  // all 32 registers). Block-diagonal grouped variants multiply by zero weights across the groups
  // a vector spans, so 8 lanes halve that waste; on CPUs that split a 512-bit FMA in two (AMD Zen
  // 4) an 8-lane FMA also costs half as much. ResNeXt's 4-filter groups on an AMD EPYC VM, 2
  // threads: 0.56 ms against 0.75 (tuner head-to-head).
  GeneratorParam<int> avx512_vector_lanes{"avx512_vector_lanes", 0};
  GeneratorParam<int> avx512_reduction_chunk{"avx512_reduction_chunk", -1};
  GeneratorParam<int> avx512_shared_staging{"avx512_shared_staging", -1};
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

  void generate() {
    const bool nhwc = layout == Layout::NHWC;
    const int c_dim = channel_dim(), x_dim = nhwc ? 1 : 0, y_dim = row_dim();

    // Zero fill outside the input, channels included: tiles past the last output channel (the
    // runtime pads the weights to whole tiles) then read zeros instead of out-of-range memory.
    Region bounded(4);
    for (int d : {c_dim, x_dim, y_dim}) {
      bounded[d] = Range(0, input.dim(d).extent());
    }
    Func zero_filled = BoundaryConditions::constant_exterior(input, 0.0f, bounded);
    const Expr kw = kernel_size > 0 ? Expr(kernel_size.value()) : kernel.dim(2).extent();
    const Expr kh = kernel_size > 0 ? Expr(kernel_size.value()) : kernel.dim(3).extent();
    const Expr sx = stride > 0 ? Expr(stride.value()) : stride_x;
    const Expr sy = stride > 0 ? Expr(stride.value()) : stride_y;
    const Expr dx = dilation > 0 ? Expr(dilation.value()) : dilation_x;
    const Expr dy = dilation > 0 ? Expr(dilation.value()) : dilation_y;
    // The last output column whose first tap reads the input: Keras' output (valid or same) never
    // ends past it, so columns computed beyond it are never stored.
    const Expr last_reading_column = (input.dim(x_dim).extent() - 1 + pad_left) / sx;

    // A 1x1 kernel stages its input at output coordinates: only the pixels a strided kernel reads
    // are copied (a quarter for stride 2), and the tile's loads are dense whatever the run-time
    // stride (width vectors at x * stride_x would be gathers in the inner loop).
    const bool staged_at_output = kernel_size == 1;
    // Winograd NCHW stages (transposes) each input pixel once, not once per overlapping tile.
    const bool winograd_staged = algorithm == Algorithm::Winograd && !nhwc;
    if (staged_by_phase()) {
      in_phases(c, x, phase, y, n) = zero_filled(2 * x + phase - pad_left, y, c, n);
    } else if ((groups_mode != GroupsMode::Narrow && algorithm == Algorithm::Direct) ||
               winograd_staged) {
      const Expr in_x = staged_at_output ? x * sx - pad_left : x;
      const Expr in_y = staged_at_output ? y * sy - pad_top : y;
      if (reads_input_in_place()) {
        // A whole tile computes columns past the output's edge, which are never stored; they
        // read the last reading column's pixel. Bounding the output column (likely), not clamping
        // the input one, lets Halide split off the tiles inside the bound, whose columns then
        // step by a constant: with a clamp per column LLVM kept a tile's column addresses in a
        // vector register and extracted one per FMA (MobileNet's 112x112x32 -> 16 layer,
        // AVX-512: 0.125 against 0.163 ms at 1 thread, 0.064 against 0.083 at 2). The row clamp
        // is per row, off the inner loop.
        const Expr column = min(likely(x), last_reading_column) * sx - pad_left;
        const Expr row = clamp(in_y, 0, input.dim(y_dim).extent() - 1);
        if (nhwc) {
          in_rows(c, x, y, n) = input(c, column, row, n);
        } else {
          in_rows(c, x, y, n) = input(column, row, c, n);
        }
      } else if (nhwc) {
        in_rows(c, x, y, n) = zero_filled(c, in_x, in_y, n);
      } else if (rows_tile()) {
        // Zeros, then the input's columns copied over them by dense vectors (a row's last one
        // masked). Zero-filled per element, each vector that straddles a row's edge was a
        // gather: a third of the whole-groups variant's time (ResNeXt's 56x56x128 layer, 1
        // thread, Halide profiler: 0.22 of 0.56 ms, then 0.07 of 0.43).
        Region rows_and_channels(4);
        rows_and_channels[y_dim] = bounded[y_dim];
        rows_and_channels[c_dim] = bounded[c_dim];
        Func rows_filled = BoundaryConditions::constant_exterior(input, 0.0f, rows_and_channels);
        in_rows(c, x, y, n) = 0.0f;
        in_columns = RDom(0, input.dim(x_dim).extent(), "in_columns");
        in_rows(c, in_columns, y, n) = rows_filled(in_columns, y, c, n);
      } else {
        in_rows(c, x, y, n) = zero_filled(in_x, in_y, c, n);
      }
    }
    // The staged input under kernel tap (kx, ky) for output (x, y).
    const auto tap = [&](const Expr& channel, const Expr& kx, const Expr& ky) {
      if (staged_at_output) return in_rows(channel, x, y, n);
      if (staged_by_phase()) {
        // Input column 2 x + kx dx - pad_left, as (column pair, phase) of the staged copy.
        const Expr offset = kx * dx;
        return in_phases(channel, x + offset / 2, offset % 2, y * sy + ky * dy - pad_top, n);
      }
      return in_rows(channel, x * sx + kx * dx - pad_left, y * sy + ky * dy - pad_top, n);
    };

    const int pack = filter_pack();
    auto weight = [&](const Expr& f, const Expr& ci, const Expr& kx, const Expr& ky) {
      return kernel(f % pack, ci, kx, ky, f / pack);
    };
    // The first input channel of filter f's group: one rule for every grouped form.
    const auto group_first_channel_of = [&](const Expr& f) {
      return f / (filters / groups) * kernel.dim(1).extent();
    };
    if (groups_mode == GroupsMode::Narrow || groups_mode == GroupsMode::BlockDiagonal) {
      // A Func, so the schedule computes it once per filter and task: a vector division by a
      // run-time value is a division per lane.
      group_first_channel(c) = group_first_channel_of(c);
    }
    conv(c, x, y, n) = bias(c);
    if (algorithm == Algorithm::Winograd) {
      _halide_user_assert(channel_vectors() && kernel_size == 3 && stride == 1 && dilation == 1 &&
                          groups_mode == GroupsMode::Dense && !get_target().has_gpu_feature())
          << "algorithm=winograd is for dense 3x3 stride 1 dilation 1 CPU variants along channels";
      define_winograd(winograd_staged ? in_rows : zero_filled, weight);
    } else if (groups_mode == GroupsMode::Narrow) {
      // Grouped with few input channels per group: a vector of output channels needs a different
      // input channel in each group, so the input is staged once per output channel,
      // (filter, channel of its group, x, y, n), and the inner loop loads it as a dense vector.
      // Out-of-range channels (padded filters) read the zero fill.
      const Expr cin_per_group = kernel.dim(1).extent();
      const Expr in_channel = group_first_channel(c) + ci;
      if (nhwc) {
        in_by_filter(c, ci, x, y, n) = zero_filled(in_channel, x, y, n);
      } else {
        in_by_filter(c, ci, x, y, n) = zero_filled(x, y, in_channel, n);
      }
      RDom r(0, cin_per_group, 0, kw, 0, kh, "r");
      conv(c, x, y, n) +=
          weight(c, r.x, r.y, r.z) *
          in_by_filter(c, r.x, x * sx + r.y * dx - pad_left, y * sy + r.z * dy - pad_top, n);
      reductions = {r};
    } else if (groups_mode == GroupsMode::BlockDiagonal) {
      // Grouped with several filters per group, as a dense convolution with block-diagonal
      // weights: each channel vector reduces over the input channels of every group its lanes
      // touch, with zero weights across groups, so the input under a tap is one value broadcast
      // to the vector, as in the dense path, where narrow staging gathers one channel per lane.
      // The cost is groups_per_vector times the multiplies, hence the runtime's lower bound on
      // filters per group.
      _halide_user_assert(channel_vectors() && !get_target().has_gpu_feature())
          << "groups_mode=block_diagonal is for CPU variants vectorized along channels";
      const int vec = vector_floats();
      const Expr cin_per_group = kernel.dim(1).extent();
      const Expr filters_per_group = filters / groups;
      // One form per span of vectors that share a group, each its own update whose predicate is
      // fixed for the call, so Halide runs one and skips the others and everything only they use
      // (the block-diagonal weights):
      // - filters per group a multiple of `span` floats (vec, 2 vec, 4 vec, ... within the
      //   register tile; the largest such span): the span's vectors share one broadcast per tap,
      //   and the packed weights are read in place (without zeros they are the block-diagonal
      //   ones);
      // - vectors spanning groups: block-diagonal weights built per task.
      std::vector<int> spans;
      for (int span = vec; span <= pack && pack % span == 0; span *= 2) {
        spans.push_back(span);
      }
      std::vector<RDom> forms;
      for (size_t i = 0; i < spans.size(); i++) {
        const int span = spans[i];
        // The first input channel under the span holding filter c; inline, not the Func: the
        // same for every lane of the span, so one scalar per span.
        const Expr span_first_channel = group_first_channel_of(c / span * span);
        RDom in_span(0, cin_per_group, 0, kw, 0, kh, "r_span" + std::to_string(span));
        Expr largest_span = filters_per_group % span == 0;
        if (i + 1 < spans.size()) {
          largest_span = largest_span && filters_per_group % spans[i + 1] != 0;
        }
        in_span.where(largest_span);
        conv(c, x, y, n) += weight(c, in_span.x, in_span.y, in_span.z) *
                            tap(span_first_channel + in_span.x, in_span.y, in_span.z);
        forms.push_back(in_span);
      }
      const Expr whole_vectors_per_group = filters_per_group % vec == 0;
      const Expr vector_first_channel = group_first_channel_of(c / vec * vec);
      // A vector's lanes fall in whole groups or (neither count divides the other) in at most
      // this many groups.
      const Expr groups_per_vector = select(vec % filters_per_group == 0, vec / filters_per_group,
                                            (vec - 2) / filters_per_group + 2);
      // Laid out as the packed weights: (filter % pack, input channel of the filter's vector's
      // span, kx, ky, filter / pack), so a vector of filters is a dense load of either.
      const Expr filter = n * pack + c;
      const Expr channel_in_group =
          group_first_channel(filter / vec * vec) + ci - group_first_channel(filter);
      block_diagonal(c, ci, x, y, n) =
          select(channel_in_group >= 0 && channel_in_group < cin_per_group,
                 kernel(c, clamp(channel_in_group, 0, cin_per_group - 1), x, y, n), 0.0f);
      RDom across(0, groups_per_vector * cin_per_group, 0, kw, 0, kh, "r_across");
      across.where(!whole_vectors_per_group);
      conv(c, x, y, n) += block_diagonal(c % pack, across.x, across.y, across.z, c / pack) *
                          tap(vector_first_channel + across.x, across.y, across.z);
      forms.push_back(across);
      reductions = forms;
    } else if (groups_mode == GroupsMode::Rotated) {
      // Grouped with g = kRotatedGroupChannels input channels and g filters per group. Input lane
      // c = g q + i feeds filters g q + j of its group; under rotation r in [0, g) it feeds
      // j = (i - r) mod g. So each input vector, loaded once per tap as in the dense path, is
      // multiplied by g weight vectors (the weights permuted once per task) into g accumulators,
      // every product useful, where block-diagonal weights multiply vector / g times the work,
      // most of it by zero. Filter f = g q + j then sums accumulator r at lane g q + (j + r) % g:
      // one lane rotation within groups per accumulator and output pixel.
      _halide_user_assert(nhwc && !get_target().has_gpu_feature() && !staged_at_output &&
                          chunk_channels() == 0)
          << "groups_mode=rotated is for NHWC CPU variants, kernels over 1x1, no reduction_chunk "
             "(it reduces over taps only); NCHW layers take groups_mode=whole_groups";
      const int g = halconv::kRotatedGroupChannels;
      rotated_weight(c, ci, x, y, n) = kernel(c / g * g + (c % g + g - ci) % g, c % g, x, y, n);
      RDom taps(0, kw, 0, kh, "taps");
      rotated_sums(c, ci, x, y, n) = 0.0f;
      rotated_sums(c, ci, x, y, n) +=
          rotated_weight(c % pack, ci, taps.x, taps.y, c / pack) * tap(c, taps.x, taps.y);
      rotated_taps = taps;
      RDom rotation(0, g, "rotation");
      conv(c, x, y, n) += rotated_sums(c / g * g + (c % g + rotation) % g, rotation, x, y, n);
      reductions = {rotation};
    } else if (groups_mode == GroupsMode::WholeGroups) {
      // Grouped with g = kRotatedGroupChannels input channels and g filters per group, both
      // constants: a width-vectorized NCHW tile holds a whole group's filters over a band of rows,
      // so each input row vector it loads serves g filters and every output row under it (see
      // rows_tile()).
      _halide_user_assert(rows_tile())
          << "groups_mode=whole_groups is for width-vectorized NCHW CPU variants of a constant "
             "kernel size";
      const int g = halconv::kRotatedGroupChannels;
      RDom r(0, g, 0, kw, 0, kh, "r");
      conv(c, x, y, n) += weight(c, r.x, r.y, r.z) * tap(c / g * g + r.x, r.y, r.z);
      reductions = {r};
    } else if (groups_mode == GroupsMode::Depthwise) {
      // One input channel per output channel (depth multiplier 1; the generic variant covers
      // others).
      RDom r(0, kw, 0, kh, "r");
      conv(c, x, y, n) += weight(c, 0, r.x, r.y) * tap(c, r.x, r.y);
      reductions = {r};
    } else {
      const Expr cin_per_group = kernel.dim(1).extent();
      RDom r(0, cin_per_group, 0, kw, 0, kh, "r");
      Expr in_channel = r.x;
      if (groups_mode == GroupsMode::Grouped) {
        // The schedule specializes groups == 1, where this folds to a broadcastable r.x.
        in_channel = select(groups == 1, r.x, group_first_channel_of(c) + r.x);
      }
      conv(c, x, y, n) += weight(c, r.x, r.y, r.z) * tap(in_channel, r.y, r.z);
      reductions = {r};
    }
    // All activations as one select ladder on the run-time id; the schedule specializes this stage
    // per id, and Halide folds the ladder to the one branch inside each specialization.
    Expr activated = conv(c, x, y, n);
    for (int id = activation_count() - 1; id > 0; id--) {
      activated = select(activation == id, activate(static_cast<Activation>(id), conv(c, x, y, n)),
                         activated);
    }
    conv(c, x, y, n) = activated;

    if (nhwc) {
      output(c, x, y, n) = conv(c, x, y, n);
    } else {
      output(x, y, c, n) = conv(c, x, y, n);
    }

    for (int d = 0; d < 4; d++) {
      input.dim(d).set_min(0);
      output.dim(d).set_min(0);
    }
    for (int d = 0; d < 5; d++) {
      kernel.dim(d).set_min(0);
    }
    kernel.dim(0).set_extent(pack);
    // Dense blocks (the runtime packs them so): a filter's weights for consecutive input channels
    // sit a constant distance apart, so the inner loop steps its weight pointer by a constant.
    kernel.dim(1).set_stride(pack);
    if (groups_mode == GroupsMode::Rotated || groups_mode == GroupsMode::WholeGroups)
      kernel.dim(1).set_extent(halconv::kRotatedGroupChannels);
    if (winograd_staged) {
      // Any width stride: the runtime passes a dilated layer's phases as strided views of the
      // caller's tensors (runtime/variant_rules.h). The staging gathers along channels and the
      // store scatters along them, so a unit stride would buy no dense access here.
      input.dim(0).set_stride(Expr());
      output.dim(0).set_stride(Expr());
    }
    _halide_user_assert(avx512_vector_lanes == 0 || avx512_vector_lanes == 8 ||
                        avx512_vector_lanes == 16)
        << "avx512_vector_lanes: 8 or 16 floats (0: 16)";
    _halide_user_assert(avx512_block_size == 0 || channel_vectors() || rows_tile())
        << "avx512_block_size: the block is the packed filter block here, common to every ISA";
    _halide_user_assert(
        avx512_vectors_per_block == 0 ||
        (channel_vectors() && avx512_vectors_per_block.value() % vectors_per_block.value() == 0 &&
         (groups_mode == GroupsMode::Dense || groups_mode == GroupsMode::Grouped)) ||
        (!channel_vectors() && (groups_mode == GroupsMode::Dense || rows_tile())))
        << "avx512_vectors_per_block: a multiple of vectors_per_block, for dense or grouped "
           "variants vectorized along channels, or any for dense or row-tiled depthwise "
           "width-vectorized NCHW ones";
    bias.dim(0).set_min(0);
    if (kernel_size > 0) {
      const int extent = algorithm == Algorithm::Winograd ? 4 : kernel_size.value();
      kernel.dim(2).set_extent(extent);
      kernel.dim(3).set_extent(extent);
    }
  }

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
                       const std::function<Expr(Expr, Expr, Expr, Expr)>& weight) {
    const auto input_value = [&](int i, int j) {
      return in_channels_first(c, 2 * tx + i - pad_left, 2 * ty + j - pad_top, n);
    };
    transformed_in(c, e, tx, ty, n) = mux(e, transform_2d(kWinogradBt, input_value));
    RDom rc(0, kernel.dim(1).extent(), "rc");
    reductions = {rc};
    winograd_m(c, e, tx, ty, n) = 0.0f;
    winograd_m(c, e, tx, ty, n) += weight(c, rc, e % 4, e / 4) * transformed_in(rc, e, tx, ty, n);
    const auto product = [&](int ex, int ey) {
      return winograd_m(c, ex + 4 * ey, x / 2, y / 2, n);
    };
    const std::vector<Expr> tile = transform_2d(kWinogradAt, product);  // index ox + 2 * oy
    conv(c, x, y, n) += mux(x % 2 + 2 * (y % 2), tile);
  }

  void schedule() {
    if (auto_schedule) {
      return;
    }
    if (algorithm == Algorithm::Winograd) {
      schedule_winograd();
      return;
    }
    const int block = std::max(1, tile_block());
    // The vectorized (CPU) or thread-parallel (GPU) dimension, vdim: channels for NHWC and NCHW by
    // channels, else width (the innermost one in memory). The register tile's other one, bdim:
    // width along channel vectors, else output channels, or rows where the tile spans rows.
    const Var& vdim = channel_vectors() ? c : x;
    const Var& bdim = channel_vectors() ? x : (rows_tile() ? y : c);
    std::function<void(Stage)> register_tile;
    if (get_target().has_gpu_feature()) {
      register_tile = schedule_gpu(vdim, bdim, block);
    } else {
      register_tile = schedule_cpu(vdim, bdim, block);
    }

    // The tile's stages: bias, the reductions (accumulators innermost, reduction loops outside),
    // then the activation, specialized per id.
    register_tile(conv);
    // The reduction loops sit between the tile's loops and those that move the tile.
    const auto reduce_order = [this](const std::vector<VarOrRVar>& reduction) {
      std::vector<VarOrRVar> order(tile_vars.begin(), tile_vars.end());
      order.insert(order.end(), reduction.begin(), reduction.end());
      order.insert(order.end(), tile_outer_vars.begin(), tile_outer_vars.end());
      order.push_back(rows_tile() ? c : y);
      return order;
    };
    // RGB input (the seed's shapes, network stems): three input channels as constants,
    // unrolled, where a run-time trip count of 3 costs loop overhead per FMA group. A
    // specialization copies the schedule made so far, so these stay unchunked.
    const Expr rgb = kernel.dim(1).extent() == 3;
    const int reduction_count = static_cast<int>(reductions.size());
    for (int stage = 0; stage < reduction_count; stage++) {
      const RDom& r = reductions[stage];
      Stage reduce = conv.update(stage);
      register_tile(reduce);
      std::vector<VarOrRVar> reduction;
      for (int i = 0; i < r.dimensions(); i++) {
        reduction.push_back(r[i]);
      }
      std::vector<VarOrRVar> order = reduce_order(reduction);
      order.push_back(n);
      if (whole_groups()) {
        // The group's filters innermost, sharing each input vector, then the output rows inside
        // the taps' rows, so a row vector serves its output rows in adjacent instructions and
        // stays in a register: ResNeXt's 56x56x128 layer, 1 thread, 0.49 against 0.68 ms with
        // every tap outside the tile's rows and filters.
        order = {lanes, vblocks, c, r[2], y, r[1], r[0], n};
      }
      reduce.reorder(order);
      if (groups_mode == GroupsMode::Dense) {
        reduce.specialize(rgb).unroll(r[0]);
      }
      if (rows_tile()) {
        // All taps in one block: a row vector loaded once serves every output row under it (and,
        // for whole groups, every filter of the group). Whole groups keep their input channels a
        // loop: unrolled, LLVM hoisted all 144 weight broadcasts out of the tile loops and
        // spilled them (ResNeXt's 56x56x128 layer, 2 threads: 0.22-0.25 ms against 0.25-0.30).
        for (int i = whole_groups() ? 1 : 0; i < r.dimensions(); i++) reduce.unroll(r[i]);
      }
      if (groups_mode == GroupsMode::Grouped) {
        reduce.specialize(groups == 1 && rgb).unroll(r[0]);
      }
      if (groups_mode == GroupsMode::Rotated) {
        // Constant rotations: each accumulator's lane rotation is then a shuffle of one vector.
        reduce.unroll(r[0]);
      }
      if (chunked_reduction()) {
        reduction[0] = rci;
        order = reduce_order(reduction);
        order.push_back(rco);
        order.push_back(n);
        reduce.split(r[0], rco, rci, chunk_channels(), TailStrategy::GuardWithIf).reorder(order);
      }
      if (groups_mode == GroupsMode::Grouped) {
        // The same schedule, with the channel index folded for groups 1.
        reduce.specialize(groups == 1);
      }
    }
    schedule_activations(register_tile, reduction_count);
  }

 private:
  // The input's and output's channel dimension (innermost for NHWC).
  int channel_dim() const { return layout == Layout::NHWC ? 0 : 2; }
  // The input's and output's row (height) dimension.
  int row_dim() const { return layout == Layout::NHWC ? 2 : 1; }

  // The schedule parameters for this target: the AVX-512 object's own where it has them.
  bool avx512() const { return get_target().has_feature(Target::AVX512); }
  int tile_block() const {
    return avx512() && avx512_block_size > 0 ? avx512_block_size.value() : block_size.value();
  }
  int band_rows() const {
    return avx512() && avx512_rows_per_task > 0 ? avx512_rows_per_task.value()
                                                : rows_per_task.value();
  }
  int chunk_channels() const {
    return avx512() && avx512_reduction_chunk >= 0 ? avx512_reduction_chunk.value()
                                                   : reduction_chunk.value();
  }
  bool staging_shared() const {
    if (reads_zero_filled_input_in_place() || reads_planes_in_place()) return true;
    return avx512() && avx512_shared_staging >= 0 ? avx512_shared_staging == 1
                                                  : shared_staging.value();
  }

  // Floats per vector of this target's CPU tile.
  int vector_floats() const {
    return avx512() && avx512_vector_lanes > 0 ? avx512_vector_lanes.value()
                                               : natural_vector_size<float>();
  }

  // Filters per register tile along channels: one packed block, or on AVX-512 several.
  int tile_filters() const {
    return avx512() && avx512_vectors_per_block > 0 ? 16 * avx512_vectors_per_block.value()
                                                    : filter_pack();
  }

  int activation_count() const { return linear_only ? 1 : static_cast<int>(Activation::softmax); }

  // Filters per packed weight block; the runtime's detail::filter_tile() is the same rule. NHWC
  // CPU: the register tile's channels at the widest ISA (16 floats per vector), NCHW CPU: the
  // channel block; GPU: 64, which bounds a thread block's channel span.
  int filter_pack() const {
    if (get_target().has_gpu_feature()) return 64;
    return channel_vectors() ? 16 * std::max(1, vectors_per_block.value())
                             : std::max(1, block_size.value());
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
  std::function<void(Stage)> schedule_cpu(const Var& vdim, const Var& bdim, int block) {
    const bool by_channels = channel_vectors();
    const int vec = vector_floats();
    int wide = vec * std::max(1, vectors_per_block.value());
    if (!by_channels && avx512() && avx512_vectors_per_block > 0) {
      wide = vec * avx512_vectors_per_block.value();
    } else if (by_channels) {
      // The tile spans one packed weight block on every ISA (AVX-512: maybe several). Narrower
      // ISAs need more vectors for it, so they take fewer columns.
      wide = tile_filters();
      block = halconv::generators::register_tile_columns(
          block,
          halconv::generators::accumulators_per_vector(groups_mode == GroupsMode::Rotated) * wide /
              vec,
          halconv::generators::vector_registers(avx512()));
    }
    // Partial tiles at the edges are guarded on the output; the tile itself always computes in
    // full (the runtime pads the weights' filter dimension to whole tiles) so it stays in
    // registers.
    const int rows = std::max(1, band_rows());
    const Var& channel_blocks = by_channels ? vo : (whole_groups() ? go : (rows_tile() ? c : bo));
    const Var& x_tiles = by_channels ? bo : vo;
    const Var& row_tiles = rows_tile() ? bo : yi;
    output.split(vdim, vo, vi, wide, TailStrategy::GuardWithIf);
    if (rows_tile()) {
      // A channel's band of rows, in tiles of `block` rows. Split into tiles first, then bands of
      // tiles: the bound on the image's rows then skips whole tiles of the last band, where
      // splitting the band's rows into tiles computed every tile of it (MobileNet's 112x112
      // depthwise layer in bands of 128 rows: 22 tiles of 6 for 19).
      output.split(y, yt, bi, block, TailStrategy::GuardWithIf)
          .split(yt, yo, bo, std::max(1, rows / block), TailStrategy::GuardWithIf);
      if (whole_groups()) {
        output.split(c, go, gi, halconv::kRotatedGroupChannels, TailStrategy::GuardWithIf)
            .reorder(vi, bi, gi, vo, bo);
      }
    } else {
      output.split(bdim, bo, bi, block, TailStrategy::GuardWithIf)
          .split(y, yo, yi, rows, TailStrategy::GuardWithIf);
    }
    // A channel block sweeps a band of `rows` output rows of one image tile by tile, its weights
    // staying in cache; a parallel task is one such sweep, or the band's sweeps of every block.
    if (reads_planes_in_place()) {
      output.reorder(vi, bi, channel_blocks, x_tiles, row_tiles, yo, n).vectorize(vi, vec);
    } else {
      output.reorder(vi, bi, x_tiles, row_tiles, channel_blocks, yo, n).vectorize(vi, vec);
    }
    const LoopLevel block_level = parallel_tasks(channel_blocks);

    // Stage the zero-filled input rows once per task, so the inner loop has no bounds tests; the
    // staged copy is laid out along the vectorized dimension (NCHW by channels transposes here).
    if (groups_mode == GroupsMode::BlockDiagonal) {
      // A channel block's weights (one packed block), each vector's channel indices computed
      // once for all its (ci, kx, ky).
      group_first_channel.compute_at(block_level).vectorize(c, vec);
      block_diagonal.compute_at(block_level)
          .split(c, vblocks, lanes, vec)
          .vectorize(lanes)
          .reorder(lanes, ci, x, y, vblocks);
    }
    if (groups_mode == GroupsMode::Rotated) {
      // The permuted weights once per channel block and task (a gather per vector, off the inner
      // loop).
      rotated_weight.compute_at(block_level)
          .split(c, vblocks, lanes, vec)
          .vectorize(lanes)
          .reorder(lanes, ci, x, y, vblocks);
    }
    if (groups_mode == GroupsMode::Narrow) {
      // Staged per output channel: at the channel block.
      group_first_channel.compute_at(block_level);
      in_by_filter.compute_at(block_level).vectorize(c, vec);
    } else if (staged_by_phase()) {
      in_phases.compute_at(output, task).vectorize(x, vec).reorder_storage(x, phase, y, c, n);
    } else if (!reads_input_in_place() && !reads_zero_filled_input_in_place()) {
      if (by_channels) {
        // RGB input: channel vectors of three real lanes would read past the channels through
        // the zero fill, a gather per pixel; a scalar copy is cheaper (4% on the seed's
        // shapes). Where every filter reads all three (dense), the copy's channel loop has the
        // constant trip count 3 and is unrolled: a run-time loop of 3 per pixel cost the seed's
        // 3x3 stride-2 layer 18% (AVX-512, 2 threads, 8.4 against 6.9 ms), ResNet's 7x7 stem
        // 10%.
        const Expr rgb_input = input.dim(channel_dim()).extent() == 3;
        if (groups_mode == GroupsMode::Dense) {
          in_rows.specialize(rgb_input && kernel.dim(1).extent() == 3).unroll(c);
        }
        in_rows.specialize(rgb_input);
      }
      in_rows.compute_at(output, task);
      if (layout == Layout::NCHW && by_channels) stage_across_planes(vec);
      in_rows.vectorize(vdim, vec);
      if (rows_tile()) {
        in_rows.update()
            .split(in_columns.x, rco, rci, vec, TailStrategy::Predicate)
            .vectorize(rci)
            .reorder(rci, rco, y, c, n);
      }
      if (!by_channels) {
        in_rows.reorder_storage(x, y, c, n);
        // Unit stride stages by dense copies.
        if (kernel_size == 1 && stride == 0) in_rows.specialize(stride_x == 1);
      }
    }
    if (chunked_reduction()) {
      // The accumulators of a channel block's whole band live in memory; the tile's loops (x in
      // tiles of `block`) then move inside each chunk of input channels.
      conv.compute_at(block_level).bound_extent(c, wide).reorder_storage(c, x, y, n);
      tile_vars = {lanes, vblocks, xi};
      tile_outer_vars = {xt};
      return [vec, block, this](Stage s) {
        s.split(x, xt, xi, block, TailStrategy::RoundUp)
            .split(c, vblocks, lanes, vec)
            .vectorize(lanes)
            .unroll(vblocks)
            .unroll(xi);
      };
    }
    // The tile is computed in the innermost loop that moves it.
    const Var& tile_moves = reads_planes_in_place() ? channel_blocks : x_tiles;
    conv.compute_at(output, tile_moves).bound_extent(vdim, wide).bound_extent(bdim, block);
    if (whole_groups()) conv.bound_extent(c, halconv::kRotatedGroupChannels);
    if (groups_mode == GroupsMode::Rotated) {
      // The g accumulators per output vector form the register tile, swept over the taps.
      const int g = halconv::kRotatedGroupChannels;
      rotated_sums.compute_at(output, x_tiles)
          .bound_extent(c, wide)
          .bound_extent(ci, g)
          .bound_extent(x, block)
          .reorder_storage(c, ci, x, y, n);
      for (Stage s : {Stage(rotated_sums), rotated_sums.update(0)}) {
        s.split(c, vblocks, lanes, vec).vectorize(lanes).unroll(vblocks).unroll(ci).unroll(x);
      }
      rotated_sums.update(0).reorder(lanes, vblocks, ci, x, rotated_taps.x, rotated_taps.y, y, n);
    }
    if (rows_tile()) {
      conv.reorder_storage(x, y, c, n);
    } else {
      conv.reorder_storage(vdim, bdim, y, n);
    }
    tile_vars = {lanes, vblocks, bdim};
    if (whole_groups()) tile_vars.push_back(c);
    return [vdim, bdim, vec, this](Stage s) {
      s.split(vdim, vblocks, lanes, vec).vectorize(lanes).unroll(vblocks).unroll(bdim);
      if (whole_groups()) s.reorder(lanes, vblocks, bdim, c).unroll(c);
    };
  }

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
        groups_mode == GroupsMode::Depthwise || groups_mode == GroupsMode::WholeGroups,
        kernel_size);
  }

  // A rows tile over a whole group's filters (groups_mode=whole_groups).
  bool whole_groups() const { return groups_mode == GroupsMode::WholeGroups; }

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
                                                             groups_mode == GroupsMode::Depthwise,
                                                             groups_mode == GroupsMode::Rotated);
  }

  // Width-vectorized stride-2 CPU kernels read every other input column: their input is staged as
  // two phases (even and odd columns), where each tap's width vector is a dense load, not a
  // strided one (a shuffle of two loads per vector on x86).
  bool staged_by_phase() const {
    return layout == Layout::NCHW && !channel_vectors() && stride == 2 && kernel_size > 1 &&
           groups_mode != GroupsMode::Narrow && algorithm == Algorithm::Direct &&
           !get_target().has_gpu_feature();
  }

  // Direct variants: chunking applies where the reduction's first dimension is input channels along
  // a channel vector (not depthwise, not the width-vectorized NCHW form, not the GPU).
  bool chunked_reduction() const {
    return chunk_channels() > 0 && channel_vectors() && groups_mode != GroupsMode::Depthwise &&
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
  void schedule_winograd() {
    const int vec = vector_floats();
    const int wide = tile_filters();
    const int tiles = halconv::generators::register_tile_columns(
        std::max(1, tile_block()), wide / vec, halconv::generators::vector_registers(avx512()));
    const int rows = std::max(2, band_rows() / 2 * 2);
    output.split(c, vo, vi, wide, TailStrategy::GuardWithIf)
        .split(x, bo, bi, 2 * tiles, TailStrategy::GuardWithIf)
        .split(y, yo, yi, rows, TailStrategy::GuardWithIf)
        .split(yi, yp, yq, 2, TailStrategy::GuardWithIf)
        .reorder(vi, bi, yq, bo, yp, vo, yo, n)
        .vectorize(vi, vec);
    const LoopLevel block_level = parallel_tasks(vo);
    if (staging_shared()) {
      // A band that is the whole image (ResNet's 7x7x512 layer) is one task per image: its channel
      // blocks, sharing the band's transformed input, then run in parallel (nested), or one core
      // would do it all. Only there: with several bands, nesting measured 10-20% slower (2
      // threads, ResNet's 14x14x256 layer).
      output.specialize(output.dim(row_dim()).extent() <= rows).parallel(vo);
    }

    if (layout == Layout::NCHW) {
      in_rows.compute_at(output, task);
      stage_across_planes(vec);
      in_rows.vectorize(c, vec);
    }
    // The 16 transformed values of one input tile share their 16 loads: the transform runs with
    // e unrolled inside each channel vector.
    transformed_in.compute_at(output, task)
        .split(c, vblocks, lanes, vec)
        .reorder(lanes, e, vblocks, tx, ty, n)
        .vectorize(lanes)
        .unroll(e);

    const int chunk = chunk_channels();
    if (chunk > 0) {
      winograd_m.compute_at(block_level).bound_extent(c, wide).reorder_storage(c, tx, e, ty, n);
      for (Stage s : {Stage(winograd_m), winograd_m.update(0)}) {
        s.split(c, vblocks, lanes, vec)
            .split(tx, txo, txi, tiles, TailStrategy::GuardWithIf)
            .vectorize(lanes)
            .unroll(vblocks)
            .unroll(txi);
      }
      winograd_m.update(0)
          .split(reductions[0][0], rco, rci, chunk, TailStrategy::GuardWithIf)
          .reorder(lanes, vblocks, txi, rci, e, txo, ty, rco, n);
    } else {
      winograd_m.compute_at(output, bo)
          .bound_extent(c, wide)
          .bound_extent(tx, tiles)
          .bound_extent(ty, 1)
          .reorder_storage(c, tx, e, ty, n);
      for (Stage s : {Stage(winograd_m), winograd_m.update(0)}) {
        s.split(c, vblocks, lanes, vec).vectorize(lanes).unroll(vblocks).unroll(tx);
      }
      winograd_m.update(0).reorder(lanes, vblocks, tx, reductions[0][0], e, ty, n);
    }

    conv.compute_at(output, bo)
        .bound_extent(c, wide)
        .bound_extent(x, 2 * tiles)
        .bound_extent(y, 2)
        .reorder_storage(c, x, y, n);
    auto output_tile = [this, vec](Stage s) {
      s.split(c, vblocks, lanes, vec).vectorize(lanes).unroll(vblocks).unroll(x).unroll(y);
    };
    output_tile(conv);
    output_tile(conv.update(0));
    schedule_activations(output_tile, 1);
  }

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
  std::function<void(Stage)> schedule_gpu(const Var& vdim, const Var& bdim, int block) {
    const int threads_v = std::max(1, gpu_threads_v.value());
    const int threads_b = std::max(1, gpu_threads_b.value());
    output.split(vdim, vo, vi, threads_v, TailStrategy::GuardWithIf)
        .split(bdim, bo, bt, block * threads_b, TailStrategy::GuardWithIf)
        .split(bt, bt, bi, block, TailStrategy::GuardWithIf)
        .reorder(bi, vi, bt, vo, bo, y, n)
        .fuse(y, n, yn)
        .gpu_blocks(vo, bo, yn)
        .gpu_threads(vi, bt)
        .unroll(bi);
    conv.compute_at(output, vi)
        .bound_extent(vdim, 1)
        .bound_extent(bdim, block)
        .bound_extent(y, 1)
        .bound_extent(n, 1)
        .store_in(MemoryType::Register);
    tile_vars = {bdim};
    return [bdim](Stage s) { s.unroll(bdim); };
  }

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

}  // namespace

HALIDE_REGISTER_GENERATOR(Conv2D, conv2d)
