// The direct CPU family's schedule and the dispatch to each family's (conv2d_winograd.cpp,
// conv2d_gpu.cpp). Channel-vector and width-vector tiles share this one schedule: they differ only
// in which dimension is vectorized and how a task stages its input, while the parallel tasks, the
// reduction order and each groups mode's staging are common, and two copies would drift.
#include "conv2d_generator.h"

namespace halconv::generators {

void Conv2D::schedule() {
  if (using_autoscheduler()) {
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
    if (groups_mode == GroupsMode::dense) {
      reduce.specialize(rgb).unroll(r[0]);
    }
    if (rows_tile()) {
      // All taps in one block: a row vector loaded once serves every output row under it (and,
      // for whole groups, every filter of the group). Whole groups keep their input channels a
      // loop: unrolled, LLVM hoisted all 144 weight broadcasts out of the tile loops and
      // spilled them (ResNeXt's 56x56x128 layer, 2 threads: 0.22-0.25 ms against 0.25-0.30).
      for (int i = whole_groups() ? 1 : 0; i < r.dimensions(); i++) reduce.unroll(r[i]);
    }
    if (groups_mode == GroupsMode::grouped) {
      reduce.specialize(groups == 1 && rgb).unroll(r[0]);
    }
    if (groups_mode == GroupsMode::rotated) {
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
    if (groups_mode == GroupsMode::grouped) {
      // The same schedule, with the channel index folded for groups 1.
      reduce.specialize(groups == 1);
    }
  }
  schedule_activations(register_tile, reduction_count);
}

std::function<void(Stage)> Conv2D::schedule_cpu(const Var& vdim, const Var& bdim, int block) {
  const bool by_channels = channel_vectors();
  const int vec = vector_floats();
  int wide = vec * std::max(1, vectors_per_block.value());
  if (!by_channels && isa_tile_vectors() > 0) {
    wide = vec * isa_tile_vectors();
  } else if (by_channels) {
    // The tile spans one packed weight block on every ISA (AVX-512: maybe several). Narrower
    // ISAs need more vectors for it, so they take fewer columns.
    wide = tile_filters();
    block = halconv::generators::register_tile_columns(
        block,
        halconv::generators::accumulators_per_vector(groups_mode == GroupsMode::rotated) * wide /
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
  if (groups_mode == GroupsMode::block_diagonal) {
    // A channel block's weights (one packed block), each vector's channel indices computed
    // once for all its (ci, kx, ky).
    group_first_channel.compute_at(block_level).vectorize(c, vec);
    block_diagonal.compute_at(block_level)
        .split(c, vblocks, lanes, vec)
        .vectorize(lanes)
        .reorder(lanes, ci, x, y, vblocks);
  }
  if (groups_mode == GroupsMode::rotated) {
    // The permuted weights once per channel block and task (a gather per vector, off the inner
    // loop).
    rotated_weight.compute_at(block_level)
        .split(c, vblocks, lanes, vec)
        .vectorize(lanes)
        .reorder(lanes, ci, x, y, vblocks);
  }
  if (groups_mode == GroupsMode::narrow) {
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
      if (groups_mode == GroupsMode::dense) {
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
  if (groups_mode == GroupsMode::rotated) {
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

}  // namespace halconv::generators

HALIDE_REGISTER_GENERATOR(halconv::generators::Conv2D, conv2d)
