// Generated code allocates its per-task scratch (staged input rows, Winograd transforms, chunked
// accumulators) with halide_malloc on every call, and glibc hands large freed blocks back to the
// system (mmap above its threshold, heap trimming), so every call faulted the same pages in again:
// measured 2026-12-01, a 112x112x32 3x3 layer through the Winograd variants took 195 (NHWC) and
// 1,559 (NCHW) page faults per call, at about 10 us each here. This pool keeps freed blocks and
// hands them out again: after a plan's first call, its calls touch no fresh pages.
#include "scratch_pool.h"

#include <HalideRuntime.h>

#include <cstdint>
#include <cstdlib>
#include <iterator>
#include <map>
#include <mutex>

#include "halconv/memory.h"

namespace halconv::detail {
namespace {

// Halide wants vector alignment and 8 readable bytes on either side of a block; a block carries
// its size in a header of one alignment unit before it and as much slack after it.
constexpr size_t kAlignment = 128;
// Past this many cached bytes (by default), freed blocks go back to the system.
constexpr size_t kDefaultCachedBytes = size_t{256} << 20;
// A cached block serves requests down to half its size, not smaller (bounded waste).
constexpr size_t kMaxWasteFactor = 2;

struct Pool {
  std::mutex mutex;
  std::multimap<size_t, void*> free_blocks;  // block size -> its user pointer
  size_t cached_bytes = 0;
  size_t max_cached_bytes = kDefaultCachedBytes;

  // Frees cached blocks, largest first, until at most `keep` bytes stay cached; needs the lock.
  size_t trim_to(size_t keep) {
    size_t released = 0;
    while (cached_bytes > keep && !free_blocks.empty()) {
      auto largest = std::prev(free_blocks.end());
      cached_bytes -= largest->first;
      released += largest->first;
      std::free(static_cast<char*>(largest->second) - kAlignment);
      free_blocks.erase(largest);
    }
    return released;
  }
};

Pool& pool() {
  static Pool* p = new Pool;  // never destroyed: generated code may free during static teardown
  return *p;
}

size_t& size_of(void* block) {
  return *reinterpret_cast<size_t*>(static_cast<char*>(block) - kAlignment);
}

void* pooled_malloc(void* /*user_context*/, size_t bytes) {
  const size_t size = (bytes + kAlignment - 1) / kAlignment * kAlignment;
  Pool& p = pool();
  {
    const std::lock_guard<std::mutex> lock(p.mutex);
    const auto fit = p.free_blocks.lower_bound(size);
    if (fit != p.free_blocks.end() && fit->first <= kMaxWasteFactor * size) {
      void* block = fit->second;
      p.cached_bytes -= fit->first;
      p.free_blocks.erase(fit);
      return block;
    }
  }
  char* base = static_cast<char*>(std::aligned_alloc(kAlignment, size + 2 * kAlignment));
  if (base == nullptr) return nullptr;
  void* block = base + kAlignment;
  size_of(block) = size;
  return block;
}

void pooled_free(void* /*user_context*/, void* block) {
  if (block == nullptr) return;
  const size_t size = size_of(block);
  Pool& p = pool();
  {
    const std::lock_guard<std::mutex> lock(p.mutex);
    if (p.cached_bytes + size <= p.max_cached_bytes) {
      p.free_blocks.emplace(size, block);
      p.cached_bytes += size;
      return;
    }
  }
  std::free(static_cast<char*>(block) - kAlignment);
}

}  // namespace

void install_scratch_pool() {
  static const bool installed = [] {
    halide_set_custom_malloc(&pooled_malloc);
    halide_set_custom_free(&pooled_free);
    return true;
  }();
  (void)installed;
}

namespace {
// Also at load time: a block the default allocator made must never reach pooled_free, and the
// device probing may allocate through the runtime before the registry exists.
const bool installed_at_load = (install_scratch_pool(), true);
}  // namespace

}  // namespace halconv::detail

namespace halconv {

size_t set_scratch_cache_limit(size_t bytes) {
  detail::Pool& p = detail::pool();
  const std::lock_guard<std::mutex> lock(p.mutex);
  const size_t previous = p.max_cached_bytes;
  p.max_cached_bytes = bytes;
  p.trim_to(bytes);
  return previous;
}

size_t release_cached_memory() {
  size_t released = 0;
  {
    detail::Pool& p = detail::pool();
    const std::lock_guard<std::mutex> lock(p.mutex);
    released = p.trim_to(0);
  }
  // Turning reuse off releases Halide's unused device allocations; plans that use a device turn
  // it on again.
  if (halide_can_reuse_device_allocations(nullptr)) {
    halide_reuse_device_allocations(nullptr, false);
    halide_reuse_device_allocations(nullptr, true);
  }
  return released;
}

}  // namespace halconv
