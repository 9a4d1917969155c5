// The compiled variants and how one is chosen for a Problem.
#pragma once

#include <string>
#include <vector>

#include "halconv/config.h"
#include "halconv/device.h"

namespace halconv {

struct VariantDescription {
  std::string name;     // by the grammar of docs/variants.md
  std::string backend;  // cpu, cuda or opencl
  std::string targets;  // the ISA targets compiled into it, dispatched at run time
};

struct Selection {
  std::string chosen;
  Device device = Device::cpu;  // where it runs
  bool forced = false;          // by HALCONV_VARIANT
  // Each better variant that declined, with its reason.
  std::vector<std::pair<std::string, std::string>> declined;
};

std::vector<VariantDescription> list_variants();

// Picks the first variant, best first, that supports the problem on the device. HALCONV_VARIANT=
// <name> forces one (and its device) and is an Error when that variant does not exist, cannot run
// the problem, or its device is absent.
Selection select_variant(const Problem& problem, Device device = Device::automatic);

// select_variant() as readable text: the chosen variant and why each better one declined.
std::string explain(const Problem& problem, Device device = Device::automatic);

}  // namespace halconv
