// Streamed output bands (internal): a band's problem and its copy-out, shared by the runtime
// (Plan's streamed calls) and halconv tune, which times streamed problems the way they run.
#pragma once

#include <cstdint>

#include "halconv/config.h"

namespace halconv::detail {

// Band `index` of a call over p (a problem as run) streamed in bands of band_rows rows, the bands
// numbered image by image, top to bottom: its image and rows.
struct BandSpan {
  int64_t image, first_row, rows;
};
int64_t bands_per_image(const Problem& p, int64_t band_rows);
BandSpan band_span(const Problem& p, int64_t band_rows, int64_t index);

// Rows [first_row, first_row + rows) of one image of p (a problem as run): the convolution of
// that image with the top padding moved up by the rows above, into a dense band of those rows.
Problem band_problem(const Problem& p, int64_t first_row, int64_t rows);

// Copies that band, computed into `band` (dense, band_problem's conv_shape), to its place in
// `image_output` (one image of p's dense output) with non-temporal stores, and fences them so that
// they reach memory before this returns.
void stream_band_out(const Problem& p, int64_t first_row, int64_t rows, const float* band,
                     float* image_output);

}  // namespace halconv::detail
