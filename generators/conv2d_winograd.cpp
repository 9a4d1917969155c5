// The Winograd F(2x2, 3x3) family: its algorithm (the transforms are in conv2d_common.h), then its
// CPU schedule.
#include "conv2d_generator.h"

namespace halconv::generators {

void Conv2D::define_winograd(Func in_channels_first,
                             const std::function<Expr(Expr, Expr, Expr, Expr)>& weight) {
  const auto input_value = [&](int i, int j) {
    return in_channels_first(c, 2 * tx + i - pad_left, 2 * ty + j - pad_top, n);
  };
  transformed_in(c, e, tx, ty, n) = mux(e, transform_2d(kWinogradBt, input_value));
  RDom rc(0, kernel.dim(1).extent(), "rc");
  reductions = {rc};
  winograd_m(c, e, tx, ty, n) = 0.0f;
  winograd_m(c, e, tx, ty, n) += weight(c, rc, e % 4, e / 4) * transformed_in(rc, e, tx, ty, n);
  const auto product = [&](int ex, int ey) { return winograd_m(c, ex + 4 * ey, x / 2, y / 2, n); };
  const std::vector<Expr> tile = transform_2d(kWinogradAt, product);  // index ox + 2 * oy
  conv(c, x, y, n) += mux(x % 2 + 2 * (y % 2), tile);
}

void Conv2D::schedule_winograd() {
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

}  // namespace halconv::generators
