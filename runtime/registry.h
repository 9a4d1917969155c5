// The table of compiled variants (internal): what each supports and how to call it.
#pragma once

#include <HalideRuntime.h>

#include <string>
#include <vector>

#include "halconv/config.h"
#include "halconv/extension.h"
#include "halconv/variants.h"
#include "variant_rules.h"

namespace halconv::detail {

struct Variant : VariantSpec {
  // Empty when the variant can run the problem on the device, otherwise why not.
  std::string decline_reason(const Problem& problem, Device device) const;
};

// The window v runs p over: p without the taps that read only padding (taps_reading_input) where
// v serves that problem, as every automatic choice does; otherwise p itself (a variant forced by
// Options::variant whose kernel size is p's).
KernelWindow run_window(const Variant& v, const Problem& p);

// A snapshot of the table, best first: registered variants, then the built-in ones.
std::vector<Variant> variants();
const Variant& find_variant(const std::string& name);

// Calls generated code; throws Error (of `kind`) with Halide's message when it reports a failure.
void check_halide_status(int status, const char* what, ErrorKind kind = ErrorKind::internal);

}  // namespace halconv::detail
