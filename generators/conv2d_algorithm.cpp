// The Conv2D generator's algorithm: what every family computes (see conv2d_generator.h).
#include "conv2d_generator.h"

namespace halconv::generators {

void Conv2D::generate() {
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
  } else if ((groups_mode != GroupsMode::narrow && algorithm == Algorithm::Direct) ||
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
  if (groups_mode == GroupsMode::narrow || groups_mode == GroupsMode::block_diagonal) {
    // A Func, so the schedule computes it once per filter and task: a vector division by a
    // run-time value is a division per lane.
    group_first_channel(c) = group_first_channel_of(c);
  }
  conv(c, x, y, n) = bias(c);
  if (algorithm == Algorithm::Winograd) {
    _halide_user_assert(channel_vectors() && kernel_size == 3 && stride == 1 && dilation == 1 &&
                        groups_mode == GroupsMode::dense && !get_target().has_gpu_feature())
        << "algorithm=winograd is for dense 3x3 stride 1 dilation 1 CPU variants along channels";
    define_winograd(winograd_staged ? in_rows : zero_filled, weight);
  } else if (groups_mode == GroupsMode::narrow) {
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
  } else if (groups_mode == GroupsMode::block_diagonal) {
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
  } else if (groups_mode == GroupsMode::rotated) {
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
  } else if (groups_mode == GroupsMode::whole_groups) {
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
  } else if (groups_mode == GroupsMode::depthwise) {
    // One input channel per output channel (depth multiplier 1; the generic variant covers
    // others).
    RDom r(0, kw, 0, kh, "r");
    conv(c, x, y, n) += weight(c, 0, r.x, r.y) * tap(c, r.x, r.y);
    reductions = {r};
  } else {
    const Expr cin_per_group = kernel.dim(1).extent();
    RDom r(0, cin_per_group, 0, kw, 0, kh, "r");
    Expr in_channel = r.x;
    if (groups_mode == GroupsMode::grouped) {
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
  if (groups_mode == GroupsMode::rotated || groups_mode == GroupsMode::whole_groups)
    kernel.dim(1).set_extent(halconv::kRotatedGroupChannels);
  if (winograd_staged) {
    // Any width stride: the runtime passes a dilated layer's phases as strided views of the
    // caller's tensors (runtime/variant_rules.h). The staging gathers along channels and the
    // store scatters along them, so a unit stride would buy no dense access here.
    input.dim(0).set_stride(Expr());
    output.dim(0).set_stride(Expr());
  }
  std::map<std::string, IsaValues> isas;
  try {
    isas = parse_isa_schedules(isa_schedules);
  } catch (const std::invalid_argument& e) {
    _halide_user_assert(false) << e.what();
  }
  // Not structured bindings: a C++17 lambda cannot capture them.
  for (const auto& entry : isas) {
    const std::string& isa = entry.first;
    const IsaValues& values = entry.second;
    const auto has = [&](const char* name) { return values.count(name) > 0; };
    _halide_user_assert(!has("vector_lanes") || values.at("vector_lanes") == 8 ||
                        values.at("vector_lanes") == 16)
        << isa << " vector_lanes: 8 or 16 floats";
    _halide_user_assert(!has("block_size") || channel_vectors() || rows_tile())
        << isa << " block_size: the block is the packed filter block here, common to every ISA";
    const int tile = has("vectors_per_block") ? values.at("vectors_per_block") : 0;
    _halide_user_assert(
        tile == 0 ||
        (channel_vectors() && tile % vectors_per_block.value() == 0 &&
         (groups_mode == GroupsMode::dense || groups_mode == GroupsMode::grouped)) ||
        (!channel_vectors() && (groups_mode == GroupsMode::dense || rows_tile())))
        << isa
        << " vectors_per_block: a multiple of vectors_per_block, for dense or grouped "
           "variants vectorized along channels, or any for dense or row-tiled depthwise "
           "width-vectorized NCHW ones";
  }
  bias.dim(0).set_min(0);
  if (kernel_size > 0) {
    const int extent = algorithm == Algorithm::Winograd ? 4 : kernel_size.value();
    kernel.dim(2).set_extent(extent);
    kernel.dim(3).set_extent(extent);
  }
}

}  // namespace halconv::generators
