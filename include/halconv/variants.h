// The compiled variants and how one is chosen for a Problem.
//
// Thread-safety: any thread may call these at any time, also while variants are registered.
#pragma once

#include <string>
#include <vector>

#include "halconv/config.h"
#include "halconv/decision.h"
#include "halconv/device.h"

namespace halconv {

struct VariantDescription {
  std::string name;      // by the grammar of docs/variants.md
  std::string backend;   // cpu, cuda or opencl
  std::string targets;   // the ISA targets compiled into it, dispatched at run time
  std::string isas;      // CPU: its objects' levels (isa_name), best first, comma-separated
  std::string host_isa;  // CPU: the best of them this CPU runs (empty: none, or not a CPU variant)
};

struct Selection {
  std::string chosen;
  Device device = Device::cpu;  // where it runs
  bool forced = false;          // by Options::variant
  // Each better variant that declined, with its reason.
  std::vector<std::pair<std::string, std::string>> declined;
};

std::vector<VariantDescription> list_variants();

// Picks the first variant, best first, that supports the problem on the device. Options::variant
// forces one (and its device) and is an Error when that variant does not exist, cannot run the
// problem, or its device is absent.
Selection select_variant(const Problem& problem, Device device = Device::automatic,
                         const Options& options = {});

// decide() as readable text (Decision::to_text): the chosen variant, why each better one declined,
// and how it runs.
std::string explain(const Problem& problem, Device device = Device::automatic,
                    const Options& options = {});

}  // namespace halconv
