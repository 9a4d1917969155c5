#include "variant_rules.h"

#include <algorithm>
#include <cstdlib>

#include "variant_domain.h"

namespace halconv::detail {
namespace {

std::string pair_text(int64_t a, int64_t b) { return std::to_string(a) + "x" + std::to_string(b); }

// One axis of a dilation phase, for the undilated stride-1 convolution over it.
struct AxisPhase {
  int64_t in_first, in_extent, out_extent, pad_before, pad_after;
};

// Output o = phase + dilation j reads input o - pad_before + dilation k (tap k), which is
// in_first + dilation (j + k - phase_pad) with in_first in [0, dilation).
AxisPhase axis_phase(int64_t phase, int64_t in, int64_t out, int64_t kernel, int64_t dilation,
                     int64_t pad_before) {
  const auto count_from = [dilation](int64_t first, int64_t extent) {
    return extent > first ? (extent - first + dilation - 1) / dilation : 0;
  };
  const int64_t shifted = phase - pad_before;
  const int64_t in_first = (shifted % dilation + dilation) % dilation;
  AxisPhase a{};
  a.in_first = in_first;
  a.in_extent = count_from(in_first, in);
  a.out_extent = count_from(phase, out);
  a.pad_before = (in_first - shifted) / dilation;
  // Undilated stride 1: out = in + pad_before + pad_after - kernel + 1.
  a.pad_after = a.out_extent - a.in_extent + kernel - 1 - a.pad_before;
  return a;
}

// One axis of a KernelWindow: tap k reads input k dilation - pad_before + o stride for the outputs
// o in [0, out).
struct AxisTaps {
  int64_t first, count, pad_before, pad_after;
};

AxisTaps axis_taps(int64_t in, int64_t out, int64_t kernel, int64_t stride, int64_t dilation,
                   int64_t pad_before, int64_t pad_after) {
  const int64_t span = (out - 1) * stride;
  // The first tap whose last read is inside, the last whose first read is.
  const int64_t first = std::max<int64_t>(pad_before - span + dilation - 1, 0) / dilation;
  const int64_t last = std::min((in - 1 + pad_before) / dilation, kernel - 1);
  if (first == 0 && last == kernel - 1) return {0, kernel, pad_before, pad_after};
  if (first > last) return {0, 1, span + 1, -in};  // reads -span - 1 .. -1
  const int64_t kept_pad_before = pad_before - first * dilation;
  const int64_t last_read = span + (last - first) * dilation - kept_pad_before;
  return {first, last - first + 1, kept_pad_before, last_read - (in - 1)};
}

}  // namespace

std::string shape_decline_reason(const VariantSpec& v, const Problem& p) {
  if (p.data_format != v.layout) {
    return std::string("data_format ") +
           (p.data_format == DataFormat::channels_last ? "channels_last" : "channels_first") +
           " (variant is " + (v.layout == DataFormat::channels_last ? "nhwc" : "nchw") + ")";
  }
  if (v.kernel > 0 && (p.kernel_h != v.kernel || p.kernel_w != v.kernel)) {
    return "kernel_size " + pair_text(p.kernel_h, p.kernel_w) + " (needs " +
           pair_text(v.kernel, v.kernel) + ")";
  }
  // Keras never pads a 1x1 kernel, and the 1x1 variants read their input in place; a KernelWindow
  // cut to one tap may still be padded.
  if (v.kernel == 1 && (p.pad_top != 0 || p.pad_left != 0)) {
    return "padding " + pair_text(p.pad_top, p.pad_left) + " before (1x1 variants take none)";
  }
  if (v.stride > 0 && (p.stride_h != v.stride || p.stride_w != v.stride)) {
    return "strides " + pair_text(p.stride_h, p.stride_w) + " (needs " +
           pair_text(v.stride, v.stride) + ")";
  }
  // Dilation has no effect on a 1x1 kernel.
  const bool dilation_matters = p.kernel_h > 1 || p.kernel_w > 1;
  if (v.dilation > 0 && dilation_matters &&
      (p.dilation_h != v.dilation || p.dilation_w != v.dilation)) {
    return "dilation_rate " + pair_text(p.dilation_h, p.dilation_w) + " (needs " +
           pair_text(v.dilation, v.dilation) + ")";
  }
  if (v.groups == GroupsMode::dense && p.groups != 1) {
    return "groups " + std::to_string(p.groups) + " (needs 1)";
  }
  if (v.groups == GroupsMode::depthwise && (p.groups != p.in_c || p.filters != p.in_c)) {
    return "not depthwise with multiplier 1 (groups " + std::to_string(p.groups) +
           ", input channels " + std::to_string(p.in_c) + ", filters " + std::to_string(p.filters) +
           ")";
  }
  const int64_t cin_per_group = p.in_c / p.groups;
  if (v.groups == GroupsMode::narrow && (p.groups == 1 || cin_per_group > kNarrowGroupChannels)) {
    return "groups " + std::to_string(p.groups) + " with " + std::to_string(cin_per_group) +
           " input channels per group (needs groups > 1, at most " +
           std::to_string(kNarrowGroupChannels) + " per group)";
  }
  const int64_t filters_per_group = p.filters / p.groups;
  if (v.groups == GroupsMode::block_diagonal &&
      (p.groups == 1 || filters_per_group < kBlockDiagonalMinFilters)) {
    return "groups " + std::to_string(p.groups) + " with " + std::to_string(filters_per_group) +
           " filters per group (needs groups > 1, at least " +
           std::to_string(kBlockDiagonalMinFilters) + " per group)";
  }
  const bool four_per_group =
      v.groups == GroupsMode::rotated || v.groups == GroupsMode::whole_groups;
  if (four_per_group && (p.groups == 1 || cin_per_group != kRotatedGroupChannels ||
                         filters_per_group != kRotatedGroupChannels)) {
    return "groups " + std::to_string(p.groups) + " with " + std::to_string(cin_per_group) +
           " input channels and " + std::to_string(filters_per_group) +
           " filters per group (needs groups > 1, " + std::to_string(kRotatedGroupChannels) +
           " of each per group)";
  }
  // Winograd saves multiplies per input channel but transforms every tile: with few input channels
  // the transforms dominate. Measured 2026-11-24 (AVX2, 2 threads): 3 channels at 0.55x the direct
  // variant, ResNet's 64-512 at 1.1-1.6x.
  if (v.winograd && p.in_c < kWinogradMinChannels) {
    return std::to_string(p.in_c) + " input channels (Winograd needs at least " +
           std::to_string(kWinogradMinChannels) + ")";
  }
  if (v.max_in_channels > 0 && cin_per_group > v.max_in_channels) {
    return std::to_string(cin_per_group) + " input channels per group (variant serves at most " +
           std::to_string(v.max_in_channels) + ")";
  }
  if (v.max_filters > 0 && filters_per_group > v.max_filters) {
    return std::to_string(filters_per_group) + " filters per group (variant serves at most " +
           std::to_string(v.max_filters) + ")";
  }
  if (!serves_output_pixels(v, p)) {
    if (p.out_h * p.out_w <= v.max_output_pixels) {
      return "output width " + std::to_string(p.out_w) +
             " (variant serves odd widths; Winograd's 2x2 tiles cover even ones)";
    }
    return std::to_string(p.out_h * p.out_w) + " output pixels per image (variant serves at most " +
           std::to_string(v.max_output_pixels) + ")";
  }
  // With few input channels, stores dominate and the width-vectorized NCHW variants win.
  if (v.layout == DataFormat::channels_first && v.nchw_by_channels &&
      cin_per_group < kNchwByChannelsMinChannels && v.groups != GroupsMode::narrow &&
      v.groups != GroupsMode::block_diagonal && v.groups != GroupsMode::rotated) {
    return std::to_string(cin_per_group) + " input channels per group (needs at least " +
           std::to_string(kNchwByChannelsMinChannels) + " to vectorize along channels)";
  }
  return {};
}

KernelWindow taps_reading_input(const Problem& p) {
  KernelWindow window{0, 0, p};
  const AxisTaps rows =
      axis_taps(p.in_h, p.out_h, p.kernel_h, p.stride_h, p.dilation_h, p.pad_top, p.pad_bottom);
  const AxisTaps cols =
      axis_taps(p.in_w, p.out_w, p.kernel_w, p.stride_w, p.dilation_w, p.pad_left, p.pad_right);
  window.first_row_tap = rows.first;
  window.first_col_tap = cols.first;
  Problem& q = window.problem;
  q.kernel_h = rows.count;
  q.kernel_w = cols.count;
  q.pad_top = rows.pad_before;
  q.pad_bottom = rows.pad_after;
  q.pad_left = cols.pad_before;
  q.pad_right = cols.pad_after;
  if (q.out_h == 1) q.stride_h = 1;
  if (q.out_w == 1) q.stride_w = 1;
  return window;
}

std::vector<DilationPhase> dilation_phases(const Problem& p) {
  std::vector<DilationPhase> phases;
  const bool dilated = (p.dilation_h > 1 && p.kernel_h > 1) || (p.dilation_w > 1 && p.kernel_w > 1);
  if (!dilated || p.stride_h != 1 || p.stride_w != 1) return phases;
  // Phases from the output's extent on have no output: the loops stop there, however large the
  // dilation.
  for (int64_t row = 0; row < std::min(p.dilation_h, p.out_h); row++) {
    const AxisPhase v = axis_phase(row, p.in_h, p.out_h, p.kernel_h, p.dilation_h, p.pad_top);
    for (int64_t col = 0; col < std::min(p.dilation_w, p.out_w); col++) {
      const AxisPhase h = axis_phase(col, p.in_w, p.out_w, p.kernel_w, p.dilation_w, p.pad_left);
      if (v.out_extent == 0 || h.out_extent == 0) continue;
      DilationPhase phase{row, col, v.in_first, h.in_first, p};
      Problem& q = phase.problem;
      q.dilation_h = q.dilation_w = 1;
      q.in_h = v.in_extent;
      q.in_w = h.in_extent;
      q.out_h = v.out_extent;
      q.out_w = h.out_extent;
      q.pad_top = v.pad_before;
      q.pad_bottom = v.pad_after;
      q.pad_left = h.pad_before;
      q.pad_right = h.pad_after;
      phases.push_back(phase);
    }
  }
  return phases;
}

bool runs_by_phases(const VariantSpec& v, const Problem& p) {
  // Each phase at least one Winograd tile (2x2 outputs): a larger dilation makes many tiny phases,
  // one call each. This also bounds a view's strides (dilation times the dense stride) by the
  // tensor's own size.
  if (!v.winograd || p.in_c < kDilationPhasesMinChannels || 2 * p.dilation_h > p.out_h ||
      2 * p.dilation_w > p.out_w) {
    return false;
  }
  const std::vector<DilationPhase> phases = dilation_phases(p);
  if (phases.empty()) return false;
  for (const DilationPhase& phase : phases) {
    // A phase whose output reads no input row (possible only for tiny images) is left to the
    // dilated variants.
    if (phase.problem.in_h == 0 || phase.problem.in_w == 0) return false;
    if (!shape_decline_reason(v, phase.problem).empty()) return false;
  }
  return true;
}

bool serves_output_pixels(const VariantSpec& v, const Problem& p) {
  if (v.max_output_pixels <= 0) return true;
  // The direct deep-layer variants' tile spans the image's width (ResNet's 7x7 maps): they take
  // the odd widths, where a Winograd tile computes a padded column (64 outputs for 49 at 7x7).
  const bool width_in_class = v.winograd || p.out_w % 2 == 1;
  return p.out_h * p.out_w <= v.max_output_pixels && width_in_class;
}

namespace {
// Whether v runs p as pixel rows (see problem_as_run): each output pixel reads only its own input
// pixel, and v's tile runs along width.
bool runs_as_pixel_rows(const VariantSpec& v, const Problem& p) {
  return v.backend == Device::cpu && v.layout == DataFormat::channels_first &&
         !v.nchw_by_channels && !v.winograd && p.kernel_h == 1 && p.kernel_w == 1 &&
         p.stride_h == 1 && p.stride_w == 1 && p.pad_top == 0 && p.pad_left == 0 &&
         p.out_h == p.in_h && p.out_w == p.in_w;  // not a window's single-output axis
}

// The row width for a plane of `pixels` in rows of `width` (see problem_as_run).
int64_t pixel_row_width(int64_t pixels, int64_t width) {
  const auto waste = [](int64_t w) {
    const int64_t tiles = (w + kWidthTileFloats - 1) / kWidthTileFloats;
    return static_cast<double>(tiles * kWidthTileFloats) / static_cast<double>(w);
  };
  // Long rows keep each band's stores per channel long (the seed's 600x600 plane: rows of 576,
  // not 64).
  const int64_t widest = std::min(std::max(width, 4 * kWidthTileFloats), pixels);
  int64_t best = width;
  for (int64_t w = 1; w <= widest; w++) {
    if (pixels % w == 0 && waste(w) <= waste(best)) best = w;
  }
  return best;
}
}  // namespace

Problem problem_as_run(const VariantSpec& v, const Problem& p) {
  if (!runs_as_pixel_rows(v, p)) return p;
  Problem q = p;
  const int64_t pixels = p.in_h * p.in_w;
  q.in_w = q.out_w = pixel_row_width(pixels, p.in_w);
  q.in_h = q.out_h = pixels / q.in_w;
  return q;
}

bool streaming_pays_on_this_cpu() {
  static const bool intel = __builtin_cpu_is("intel");
  return intel;
}

int64_t streamed_band_rows(const VariantSpec& v, const Problem& p, int64_t forced_rows,
                           bool streaming_pays) {
  if (v.backend != Device::cpu || runs_by_phases(v, p) || is_axis_activation(p.activation) ||
      forced_rows == 0) {
    return 0;
  }
  if (forced_rows > 0) return std::min(forced_rows, p.out_h);
  const int64_t reduction = p.kernel_h * p.kernel_w * p.in_c / p.groups;
  if (!streaming_pays || reduction > kMaxStreamedReduction ||
      (p.data_format == DataFormat::channels_first && !runs_as_pixel_rows(v, p))) {
    return 0;
  }
  const int64_t row_bytes = p.out_w * p.filters * static_cast<int64_t>(sizeof(float));
  if (row_bytes * p.out_h * p.batch < kStreamedOutputMinBytes) return 0;
  return std::min(p.out_h, std::max<int64_t>(2, kStreamBandBytes / row_bytes / 2 * 2));
}

}  // namespace halconv::detail
