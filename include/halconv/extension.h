// Registering variants generated outside halconv (see halconv_add_conv2d in the CMake package).
#pragma once

#include <cstdint>
#include <utility>

#include "halconv/config.h"
#include "halconv/device.h"

struct halide_buffer_t;

namespace halconv {

// The signature every Conv2D variant from halconv's generator has (its Inputs, in order).
using GeneratedConv2D = int (*)(halide_buffer_t* input, halide_buffer_t* kernel,
                                halide_buffer_t* bias, int32_t stride_x, int32_t stride_y,
                                int32_t dilation_x, int32_t dilation_y, int32_t pad_top,
                                int32_t pad_left, int32_t groups, int32_t filters,
                                int32_t activation, halide_buffer_t* output);

// dense: groups 1. grouped: any groups. depthwise: groups == input channels == filters.
// narrow: groups > 1 with at most kNarrowGroupChannels input channels per group.
// block_diagonal: groups > 1 with at least kBlockDiagonalMinFilters filters per group (the
// variant multiplies zeros across the groups a channel vector spans: 8 / filters per group times
// the work with AVX2, when that is above 1).
// rotated: groups > 1 with kRotatedGroupChannels input channels and as many filters per group
// (ResNeXt 32x4d's first stage); every multiply is useful (see the generator's groups_mode). NHWC.
// whole_groups: the same layers in NCHW, vectorized along width, each register tile over a whole
// group's filters and several rows.
enum class GroupsMode { dense, grouped, depthwise, narrow, block_diagonal, rotated, whole_groups };
// Each mode's name, as variant records, the generator's groups_mode and variant names spell it.
inline constexpr std::pair<const char*, GroupsMode> kGroupsModeNames[] = {
    {"dense", GroupsMode::dense},
    {"grouped", GroupsMode::grouped},
    {"depthwise", GroupsMode::depthwise},
    {"narrow", GroupsMode::narrow},
    {"block_diagonal", GroupsMode::block_diagonal},
    {"rotated", GroupsMode::rotated},
    {"whole_groups", GroupsMode::whole_groups}};
constexpr int kNarrowGroupChannels = 16;
constexpr int kRotatedGroupChannels = 4;
constexpr int kBlockDiagonalMinFilters = 4;
constexpr int kWinogradMinChannels = 16;
constexpr int kNchwByChannelsMinChannels = 16;

// What a variant was generated for; 0 for kernel, stride or dilation means a run-time value.
struct VariantSpec {
  const char* name;
  DataFormat layout;
  int kernel;
  int stride;
  int dilation;
  GroupsMode groups;
  Device backend;
  int vectors_per_block;  // the generator's schedule parameters, which fix the weight padding
  int block_size;
  const char* targets;
  GeneratedConv2D function;
  // NCHW variants generated with nchw_by_channels=true vectorize along channels, as NHWC does;
  // unless narrow-grouped, they serve layers with kNchwByChannelsMinChannels inputs per group.
  bool nchw_by_channels = false;
  // Generated with algorithm=winograd (F(2x2, 3x3)): the runtime transforms the weights. Such a
  // variant serves layers with at least kWinogradMinChannels input channels.
  bool winograd = false;
  // Serves only layers with at most this many filters per group (0: any). A variant with a
  // narrower filter tile computes fewer padded filters for layers that have few.
  int max_filters = 0;
  // Serves only layers with at most this many output pixels per image (0: any): a schedule for
  // deep layers, where few pixels share each weight and weight traffic decides. A direct (not
  // Winograd) such variant serves only odd output widths, which Winograd's 2x2 tiles pad.
  int max_output_pixels = 0;
  // The AVX-512 object's channel tile in vectors where it spans several packed blocks (0: one):
  // the weights are padded to whole tiles of it. Width-vectorized NCHW: its tile's width in
  // vectors, which pads nothing.
  int avx512_vectors_per_block = 0;
  // Serves only layers with at most this many input channels per group (0: any): a schedule of
  // its own for RGB input, where stores decide, beside one for deep inputs, where the GEMM does.
  int max_in_channels = 0;
};

// Adds a variant ahead of every built-in one, so selection prefers it wherever it applies.
// Thread-safe; meant for static initializers (halconv_add_conv2d generates one). Registering a
// name twice is an Error.
bool register_variant(const VariantSpec& spec);

}  // namespace halconv
