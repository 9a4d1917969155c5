// What loading libhalconv does to the whole process, and the knobs for it.
//
// At load, libhalconv installs its own Halide runtime hooks, process-wide: the host allocator
// (halide_set_custom_malloc/free), which keeps freed scratch blocks for reuse up to a cap, and the
// error handler (halide_set_error_handler), whose messages become halconv::Error texts. Other
// Halide pipelines in the process share that runtime only if they link libhalconv's; CUDA and
// OpenCL device allocations are cached by Halide's own runtime (halide_reuse_device_allocations).
// Halide's CPU thread pool is process-wide too (Options::threads, HL_NUM_THREADS).
//
// Thread-safety: both functions may be called at any time from any thread.
#pragma once

#include <cstddef>

namespace halconv {

// The most bytes of freed scratch kept for reuse (default 256 MiB); 0 keeps none. Lowering it
// releases the cached blocks above the new cap. Returns the previous cap.
size_t set_scratch_cache_limit(size_t bytes);

// Releases every cached scratch block to the system, and Halide's cached device allocations.
// Returns the host bytes released.
size_t release_cached_memory();

}  // namespace halconv
