// Which problems a variant's generate-time constants allow (internal). Shared by the registry and
// halconv tune, which picks each variant's shape class with the same rule.
#pragma once

#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include "halconv/config.h"
#include "halconv/extension.h"

namespace halconv::detail {

// The kernel taps that read input for some output pixel, and the problem over them. TensorFlow's
// SAME rule pads a dilated kernel that is wider than its input, so some of its taps read only
// padding for every output: they add zeros, yet a variant stages everything its taps read (a
// dilation of 3888888 on 6 columns stages 7.8 million zero columns per row). The window keeps the
// taps between the first and the last that read input, on each axis: the kernel is cut to them and
// the padding before shifted by the first one's offset. Below zero, that padding means the first
// rows or columns are never read; the variants take it as is. Where every tap of an axis reads only
// padding, the axis keeps its first tap, padded so that it reads just before the input: every
// output is then the activated bias, as in TensorFlow (for finite weights).
// An axis with one output never applies its stride, so the window runs it at stride 1: a variant
// multiplies the stride by its tile's extent, and a stride of 2^30 on 6 columns overflowed the
// int32 coordinates of the staged input (a wild read), where 1222222 staged 6 GB.
struct KernelWindow {
  int64_t first_row_tap = 0, first_col_tap = 0;  // the window's origin in the caller's kernel
  Problem problem;  // the caller's problem when no tap is dropped and no stride is unused
};
KernelWindow taps_reading_input(const Problem& p);

// Empty when the variant's layout, kernel, stride, dilation and groups mode fit the problem,
// otherwise why not. The backend is not considered here.
std::string shape_decline_reason(const VariantSpec& v, const Problem& p);

// A dilated stride-1 convolution splits into independent undilated ones, one per phase: the output
// rows p, p + d, p + 2d, ... read only input rows q, q + d, ... (TensorFlow's space-to-batch form),
// and likewise for columns.
struct DilationPhase {
  int64_t out_row = 0, out_col = 0;  // the phase's first output row and column
  int64_t in_row = 0, in_col = 0;    // the first input row and column it reads
  Problem problem;                   // undilated, over the phase's rows and columns
};

// Empty unless p is dilated with stride 1; then its phases that have output, row-major.
std::vector<DilationPhase> dilation_phases(const Problem& p);

// Input channels from which the Winograd phases beat the direct dilated variant. Measured
// 2026-11-25 (AVX2, 2 threads, NHWC, dilation 2): 1.3x to 1.7x at 64 to 512 channels (DeepLab's
// 64x64x256 layer 23 ms against 30), but 0.6x to 0.7x at 16 and 32.
constexpr int64_t kDilationPhasesMinChannels = 64;

// Whether v, which takes no dilation, runs the dilated problem p as its dilation phases, each a
// strided view of the caller's tensors. Only the Winograd variants do, from
// kDilationPhasesMinChannels, where every phase has at least 2x2 outputs: in channels_last a view
// keeps the innermost dimension (channels) dense, and the channels_first ones take any width
// stride.
bool runs_by_phases(const VariantSpec& v, const Problem& p);

// Whether the variant's bound on output pixels per image (max_output_pixels; 0: none) admits p,
// and for a direct variant with a bound, p's output width is odd. The variant tests skip sizes
// outside the class with this same rule.
bool serves_output_pixels(const VariantSpec& v, const Problem& p);

// Outputs from this size leave every cache on their way to memory, where each plain store first
// reads its cache line (read for ownership). A CPU call then computes its output in bands of rows
// into a cache-resident scratch buffer and copies each band out with non-temporal stores, which
// skip that read. Measured 2026-12-01 (2-core AVX-512 Xeon VM): 368 MB written in 11 ms streamed,
// 31 ms plain, 2 threads; the seed's 600x600 layers write 92 to 368 MB.
constexpr int64_t kStreamedOutputMinBytes = int64_t{16} << 20;
// A band's scratch size to aim for: well inside a core's L2 (1 to 4 MiB on the machines here).
constexpr int64_t kStreamBandBytes = int64_t{512} << 10;
// Streaming runs each band's arithmetic and then its copy, where plain stores let the reads for
// ownership overlap the arithmetic, so it pays only where writing dominates: NHWC outputs whose
// reduction (kernel taps x input channels per group) is this short or shorter. Measured
// 2026-12-02 (same VM, the seed's 600x600 RGB layers, 2 threads, streamed vs plain ms): NHWC 1x1
// (reduction 3) 25 vs 36, 2x2 (12) 33-37 vs 39-40, 3x3 (27) 42 vs 33, 3x3 stride 2 (27) 15 vs 13.5.
// NCHW gains only where it runs as pixel rows (problem_as_run; 1x1 stride 1): 21-23 vs 26-31;
// slower or equal streamed on 2x2 (25-39 vs 27), 3x3 (42-57 vs 28-39), 1x1 stride 2 (6.5-7.5 vs
// 6.6-7.2).
constexpr int64_t kMaxStreamedReduction = 16;

// Whether streaming pays on this CPU: Intel's, where the figures above were measured. Not on AMD's:
// measured 2026-12-02 (2-core AVX-512 EPYC VM, the seed's 600x600 RGB layers, streamed vs plain
// ms): NHWC 2x2 26-28 vs 19-21 at 2 threads and 51-58 vs 40-43 at 1, 1x1 stride 2 4.4-5.3 vs
// 3.3-3.4, 1x1 16 vs 15-16 at 2 threads and 24-25 vs 19 at 1; NCHW 1x1 18-19 vs 18.
bool streaming_pays_on_this_cpu();

// Output rows per streamed band for a CPU problem of variant v as run (problem_as_run), 0 when its
// output is not streamed: where streaming pays (by default, on this CPU), from
// kStreamedOutputMinBytes with a reduction up to kMaxStreamedReduction, NHWC or NCHW run as pixel
// rows, bands of about kStreamBandBytes in an even row count (whole Winograd tiles). Not for
// dilation phases (their output is a strided view) nor the axis activations (their convolution
// writes a workspace, not the output). forced_rows (Options::stream_rows): 0 streams nothing, n > 0
// streams every such problem in bands of n rows on any CPU (tests use it), -1 follows the rule.
// Never more than the output's rows.
int64_t streamed_band_rows(const VariantSpec& v, const Problem& p, int64_t forced_rows = -1,
                           bool streaming_pays = streaming_pays_on_this_cpu());

// The width-vectorized NCHW CPU variants' widest tile along width, in floats (AVX-512: 4 vectors).
constexpr int64_t kWidthTileFloats = 64;

// The problem variant v runs for p: p itself, or, for a 1x1 stride-1 problem on a width-vectorized
// NCHW CPU variant, the same problem over each image plane's pixels laid out in rows of another
// width (both planes are dense and a pixel's output reads only that pixel). The width is the
// divisor of the plane's pixel count whose kWidthTileFloats tiles waste the fewest lanes, the
// widest of equals, up to the larger of the image's width and 4 tiles: ResNet's 56x56 plane as
// rows of 64 fills every lane, where rows of 56 leave 8 of 64 idle (28x28, as rows of 112: 16 of
// 128 against 36 of 64). Measured 2026-12-02 (2-core AVX-512 VM, 2 threads): ResNet's 56x56x64 ->
// 256 0.58-0.63 ms against 0.75-0.82, MobileNet's 56x56x144 -> 24 0.15-0.18 against 0.27-0.33.
Problem problem_as_run(const VariantSpec& v, const Problem& p);

// The packed weights' layout a variant's compiled object (entry point `function`, named `name`)
// reads for p (the problem as run, or its first dilation phase): (filters per block, blocks),
// padding to whole register tiles included. Asked of the code itself, by a bounds query (the
// kernel buffer without memory), which returns one block along dimension 0 and the blocks along
// dimension 4. GPU objects are not asked (their query would start the device): their blocks are
// packing::kGpuChannelSpan filters. Defined in plan.cpp, beside the buffers it wraps.
std::pair<int64_t, int64_t> packed_layout(GeneratedConv2D function, const char* name, Device device,
                                          const Problem& p);

}  // namespace halconv::detail
