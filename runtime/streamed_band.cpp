// Streamed output bands: see streamed_band.h.
#include "streamed_band.h"

#include <immintrin.h>

#include <algorithm>
#include <cstddef>
#include <cstdint>

namespace halconv::detail {
namespace {

// dst[0, count) = src[0, count) with non-temporal stores where dst is aligned to the vector (the
// widest this CPU has: 64-byte stores write whole cache lines). The caller fences.
__attribute__((target("avx512f"))) void stream_copy_avx512(float* dst, const float* src,
                                                           size_t count) {
  size_t i = 0;
  for (; i < count && reinterpret_cast<uintptr_t>(dst + i) % 64 != 0; i++) dst[i] = src[i];
  for (; i + 16 <= count; i += 16) _mm512_stream_ps(dst + i, _mm512_loadu_ps(src + i));
  for (; i < count; i++) dst[i] = src[i];
}

void stream_copy_sse(float* dst, const float* src, size_t count) {
  size_t i = 0;
  for (; i < count && reinterpret_cast<uintptr_t>(dst + i) % 16 != 0; i++) dst[i] = src[i];
  for (; i + 4 <= count; i += 4) _mm_stream_ps(dst + i, _mm_loadu_ps(src + i));
  for (; i < count; i++) dst[i] = src[i];
}

void stream_copy(float* dst, const float* src, size_t count) {
  static const bool avx512 = __builtin_cpu_supports("avx512f");
  avx512 ? stream_copy_avx512(dst, src, count) : stream_copy_sse(dst, src, count);
}

}  // namespace

int64_t bands_per_image(const Problem& p, int64_t band_rows) {
  return (p.out_h + band_rows - 1) / band_rows;
}

BandSpan band_span(const Problem& p, int64_t band_rows, int64_t index) {
  const int64_t per_image = bands_per_image(p, band_rows);
  const int64_t first_row = index % per_image * band_rows;
  return {index / per_image, first_row, std::min(band_rows, p.out_h - first_row)};
}

Problem band_problem(const Problem& p, int64_t first_row, int64_t rows) {
  Problem band = p;
  band.batch = 1;
  band.out_h = rows;
  band.pad_top = p.pad_top - first_row * p.stride_h;
  return band;
}

void stream_band_out(const Problem& p, int64_t first_row, int64_t rows, const float* band,
                     float* image_output) {
  if (p.data_format == DataFormat::channels_last) {  // the band's rows are contiguous there too
    stream_copy(image_output + first_row * p.out_w * p.filters, band,
                static_cast<size_t>(rows * p.out_w * p.filters));
  } else {  // one run of rows per channel
    for (int64_t c = 0; c < p.filters; c++) {
      stream_copy(image_output + (c * p.out_h + first_row) * p.out_w, band + c * rows * p.out_w,
                  static_cast<size_t>(rows * p.out_w));
    }
  }
  _mm_sfence();
}

}  // namespace halconv::detail
