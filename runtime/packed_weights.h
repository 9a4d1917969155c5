// Packed weights apart from the plans that read them (internal), so that a layer packs once per
// packing and makes a cheap plan per input shape (XNNPACK's create / reshape / setup / run).
#pragma once

#include <cstdint>
#include <memory>
#include <string>

#include "execution.h"
#include "halconv/plan.h"

namespace halconv::detail {

struct PackedWeights;

// What packed weights depend on: decisions with equal keys read the same packed weights (device,
// block and block count, the window's taps, Winograd, and the layer's shape of weights).
std::string packing_key(const Decision& d);

// The weights, in Keras layout (kh, kw, in_channels / groups, filters), packed as d's object
// reads them; bias may be null when d's problem has use_bias false.
std::shared_ptr<const PackedWeights> pack_weights(const Decision& d, const float* kernel,
                                                  const float* bias);

// Packings made in this process so far (tests count them).
int64_t weight_packs();

class PlanAccess {
 public:
  // A plan that executes `e` on weights packed for it (packing_key(e.decision) equal to theirs).
  static Plan make(Execution e, std::shared_ptr<const PackedWeights> weights);
};

}  // namespace halconv::detail
