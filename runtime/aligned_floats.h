// Float storage aligned to a cache line (internal).
#pragma once

#include <cstddef>
#include <new>
#include <vector>

namespace halconv::detail {

// C++17's aligned operator new behind std::vector's allocator interface. std::vector<float>'s
// malloc block is 16-byte aligned (a large one starts 16 bytes into its page), so each 64-byte
// AVX-512 load or store of packed weights or of a streamed band touched two cache lines: ResNet's
// 7x7x512 layer ran 12-15% slower on such weights (JIT, AVX-512, 2 threads, both orders).
template <typename T>
struct CacheLineAllocator {
  using value_type = T;
  static constexpr std::align_val_t kAlignment{64};

  CacheLineAllocator() = default;
  template <typename U>
  explicit CacheLineAllocator(const CacheLineAllocator<U>& /*other*/) noexcept {}

  T* allocate(size_t count) {
    return static_cast<T*>(::operator new(count * sizeof(T), kAlignment));
  }
  void deallocate(T* block, size_t /*count*/) noexcept { ::operator delete(block, kAlignment); }

  template <typename U>
  bool operator==(const CacheLineAllocator<U>& /*other*/) const noexcept {
    return true;
  }
  template <typename U>
  bool operator!=(const CacheLineAllocator<U>& /*other*/) const noexcept {
    return false;
  }
};

using AlignedFloats = std::vector<float, CacheLineAllocator<float>>;

}  // namespace halconv::detail
