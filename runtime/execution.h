// A Decision with what executing it takes (internal): the table entry, the entry point of the
// object that runs, and the dilation phases. decide() returns its decision; Plan executes it.
#pragma once

#include <vector>

#include "halconv/decision.h"
#include "registry.h"

namespace halconv::detail {

struct Execution {
  Decision decision;
  const Variant* variant = nullptr;
  GeneratedConv2D function = nullptr;  // the chosen ISA object's (or the device object's) entry
  std::vector<DilationPhase> phases;   // filled where the variant runs undilated phases
};

Execution decide_execution(const Problem& problem, Device device, const Options& options);

// The best of v's CPU objects this CPU runs, up to `cap`: (isa, entry point); ("dispatch",
// v.function) for a variant registered without per-ISA objects.
std::pair<std::string, GeneratedConv2D> cpu_object(const Variant& v, Isa cap);

// Whether this CPU has every feature of a build's CPU target string, by Halide's own test; tokens
// that name no CPU feature (enable_llvm_loop_opt, no_runtime) do not count. The tuner picks its
// target by it too.
bool cpu_runs(const std::string& target);

}  // namespace halconv::detail
