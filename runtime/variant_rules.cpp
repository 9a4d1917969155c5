#include "variant_rules.h"

namespace halconv::detail {
namespace {

std::string pair_text(int64_t a, int64_t b) { return std::to_string(a) + "x" + std::to_string(b); }

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
  // Winograd saves multiplies per input channel but transforms every tile: with few input channels
  // the transforms dominate. Measured 2026-11-24 (AVX2, 2 threads): 3 channels at 0.55x the direct
  // variant, ResNet's 64-512 at 1.1-1.6x.
  if (v.winograd && p.in_c < kWinogradMinChannels) {
    return std::to_string(p.in_c) + " input channels (Winograd needs at least " +
           std::to_string(kWinogradMinChannels) + ")";
  }
  if (v.max_filters > 0 && filters_per_group > v.max_filters) {
    return std::to_string(filters_per_group) + " filters per group (variant serves at most " +
           std::to_string(v.max_filters) + ")";
  }
  if (!serves_output_pixels(v, p)) {
    return std::to_string(p.out_h * p.out_w) + " output pixels per image (variant serves at most " +
           std::to_string(v.max_output_pixels) + ")";
  }
  // With few input channels, stores dominate and the width-vectorized NCHW variants win.
  if (v.layout == DataFormat::channels_first && v.nchw_by_channels &&
      cin_per_group < kNchwByChannelsMinChannels && v.groups != GroupsMode::narrow &&
      v.groups != GroupsMode::block_diagonal) {
    return std::to_string(cin_per_group) + " input channels per group (needs at least " +
           std::to_string(kNchwByChannelsMinChannels) + " to vectorize along channels)";
  }
  return {};
}

bool serves_output_pixels(const VariantSpec& v, const Problem& p) {
  return v.max_output_pixels <= 0 || p.out_h * p.out_w <= v.max_output_pixels;
}

int64_t filter_tile(const VariantSpec& v) {
  constexpr int kWidestVector = 16;  // floats in an AVX-512 register
  // A GPU thread block spans block_size * gpu_threads_b channels (NCHW); the build keeps that
  // within this bound (CMakeLists.txt checks it).
  constexpr int kGpuChannelSpan = 64;
  if (v.backend != Device::cpu) return kGpuChannelSpan;
  const bool by_channels = v.layout == DataFormat::channels_last || v.nchw_by_channels;
  return by_channels ? kWidestVector * v.vectors_per_block : v.block_size;
}

}  // namespace halconv::detail
