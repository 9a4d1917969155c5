// The GPU family's schedule (CUDA and OpenCL): the direct algorithm, threads along the vectorized
// dimension.
#include "conv2d_generator.h"

namespace halconv::generators {

std::function<void(Stage)> Conv2D::schedule_gpu(const Var& vdim, const Var& bdim, int block) {
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

}  // namespace halconv::generators
