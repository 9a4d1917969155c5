// The final round as built: each finalist generated ahead of time by the build's generator with
// the product's target and every activation, loaded into this process, registered with halconv
// and run through halconv::Plan (packing, streamed bands, dilation phases as the runtime does).
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "Halide.h"
#include "candidates.h"
#include "halconv/config.h"
#include "variants.h"

namespace halconv::tune {

// One finalist, compiled and registered as the variant `name()`. Registered variants stay in
// halconv's table for the process's life, so its code stays loaded too.
class BuiltCandidate {
 public:
  BuiltCandidate(const VariantInfo& v, const Candidate& cand,
                 const std::optional<Candidate>& fixed_pack, const Halide::Target& target,
                 const std::string& work_dir, int index);
  const std::string& name() const { return name_; }

 private:
  std::string name_;
};

// Compiles the finalists concurrently (each is a generator run and a link).
std::vector<BuiltCandidate> build_candidates(const VariantInfo& v,
                                             const std::vector<Candidate>& cands,
                                             const std::optional<Candidate>& fixed_pack,
                                             const Halide::Target& target);

// Every built finalist's median ms on the caller's problem p (not the problem as run: Plan makes
// that), each forced through halconv::Plan, interleaved for at least 1.5 s.
std::vector<double> time_built(const std::vector<BuiltCandidate>& built, const halconv::Problem& p);

}  // namespace halconv::tune
