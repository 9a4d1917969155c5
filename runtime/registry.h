// The table of compiled variants (internal): what each supports and how to call it.
#pragma once

#include <HalideRuntime.h>

#include <string>
#include <vector>

#include "halconv/config.h"
#include "halconv/variants.h"

namespace halconv::detail {

enum class GroupsMode { dense, grouped, depthwise };

// The uniform signature every generated Conv2D variant has (the generator's Inputs, in order).
using ConvFunction = int (*)(halide_buffer_t* input, halide_buffer_t* kernel, halide_buffer_t* bias,
                             int32_t stride_x, int32_t stride_y, int32_t dilation_x,
                             int32_t dilation_y, int32_t pad_top, int32_t pad_left, int32_t groups,
                             int32_t filters, int32_t activation, halide_buffer_t* output);

struct Variant {
  const char* name;
  DataFormat layout;
  int kernel;    // square kernel size, 0 = any
  int stride;    // both axes, 0 = any
  int dilation;  // both axes, 0 = any
  GroupsMode groups;
  Device backend;
  int vectors_per_block;
  int block_size;
  const char* targets;
  ConvFunction function;

  // Empty when the variant can run the problem on the device, otherwise why not.
  std::string decline_reason(const Problem& problem, Device device) const;
  // The packed weights' filter count is padded to a multiple of this: one whole register tile at
  // the widest ISA, so tiles never read past the weights.
  int64_t filter_tile() const;
};

const std::vector<Variant>& variants();
const Variant& find_variant(const std::string& name);
// The variant select_variant() picks, as a table entry.
const Variant& selected_variant(const Problem& problem, Device device);

// Calls generated code; throws Error with Halide's message when it reports a failure.
void check_halide_status(int status, const char* what);

}  // namespace halconv::detail
