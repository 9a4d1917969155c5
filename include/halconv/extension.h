// Registering variants generated outside halconv (see halconv_add_conv2d in the CMake package).
//
// Thread-safety: register_variant may run concurrently with any other call.
#pragma once

#include <cstdint>

#include "halconv/config.h"
#include "halconv/device.h"
#include "halconv/groups_mode.h"

struct halide_buffer_t;

namespace halconv {

// The signature every Conv2D variant from halconv's generator has (its Inputs, in order).
using GeneratedConv2DFunction = int(halide_buffer_t* input, halide_buffer_t* kernel,
                                    halide_buffer_t* bias, int32_t stride_x, int32_t stride_y,
                                    int32_t dilation_x, int32_t dilation_y, int32_t pad_top,
                                    int32_t pad_left, int32_t groups, int32_t filters,
                                    int32_t activation, halide_buffer_t* output);
using GeneratedConv2D = GeneratedConv2DFunction*;

// One ISA's object of a CPU variant: the ISA (isa_name of a halconv::Isa), the Halide target it was
// compiled for, and its entry point. The runtime picks among a variant's objects itself
// (Options::isa caps the choice); a spec without them runs Halide's dispatch wrapper.
struct IsaObject {
  const char* isa;
  const char* target;
  GeneratedConv2D function;  // Halide's dispatch wrapper (CPU) or the device's object
};

// Declares the entry point of one ISA object, whose symbol (the function name and its target
// joined by hyphens) is no C++ identifier; GCC's assembler needs such a name quoted.
#if defined(__clang__)
#define HALCONV_OBJECT_SYMBOL(name) __asm__(name)
#else
#define HALCONV_OBJECT_SYMBOL(name) __asm__("\"" name "\"")
#endif

// What a variant was generated for; 0 for kernel, stride or dilation means a run-time value. The
// weights' packing is asked of the compiled function itself (a bounds query), so no tile is here.
struct VariantSpec {
  const char* name;
  DataFormat layout;
  int kernel;
  int stride;
  int dilation;
  GroupsMode groups;
  Device backend;
  const char* targets;
  GeneratedConv2D function;
  // NCHW variants generated with nchw_by_channels=true vectorize along channels, as NHWC does,
  // for layers with many inputs per group.
  bool nchw_by_channels = false;
  // Generated with algorithm=winograd (F(2x2, 3x3)): the runtime transforms the weights. Such a
  // variant serves layers with many input channels.
  bool winograd = false;
  // Serves only layers with at most this many filters per group (0: any). A variant with a
  // narrower filter tile computes fewer padded filters for layers that have few.
  int max_filters = 0;
  // Serves only layers with at most this many output pixels per image (0: any): a schedule for
  // deep layers, where few pixels share each weight and weight traffic decides. A direct (not
  // Winograd) such variant serves only odd output widths, which Winograd's 2x2 tiles pad.
  int max_output_pixels = 0;
  // Serves only layers with at most this many input channels per group (0: any): a schedule of
  // its own for RGB input, where stores decide, beside one for deep inputs, where the GEMM does.
  int max_in_channels = 0;
  // A CPU variant's per-ISA objects, best first, ended by an entry with a null isa (null: none).
  const IsaObject* isa_objects = nullptr;
};

// Adds a variant ahead of every built-in one, so selection prefers it wherever it applies.
// Thread-safe; meant for static initializers (halconv_add_conv2d generates one). Registering a
// name twice is an Error.
bool register_variant(const VariantSpec& spec);

}  // namespace halconv
