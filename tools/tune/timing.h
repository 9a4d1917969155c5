// The timing: a candidate JIT-compiled for one problem and run as the runtime runs it, the
// interleaved medians the search and the final round compare, and the target they compile for.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <vector>

#include "Halide.h"
#include "aligned_floats.h"
#include "candidates.h"
#include "halconv/config.h"
#include "variants.h"

namespace halconv::tune {

// Variant v with candidate cand: the generator's parameters (as the build passes them) and the
// runtime's description of the compiled variant (its packing follows from it).
// fixed_pack: the packing the candidate keeps (AVX-512 mode: the common file's; a wider channel
// tile spans several packed blocks, a row tile takes its own rows), else none: its own.
struct CandidateParams {
  Halide::GeneratorParamsMap generator;
  halconv::VariantSpec spec;
  // The weights' packing its tiles read (generators/weight_packing.h): filters per block, and the
  // multiple the packed filter count is padded to.
  int64_t pack = 1, padding = 1;
};
CandidateParams candidate_params(const VariantInfo& v, const Candidate& cand,
                                 const std::optional<Candidate>& fixed_pack);

// The variant with these parameters, JIT-compiled for one problem, with its buffers, timed as the
// runtime runs it. A problem the runtime streams (halconv::detail::streamed_band_rows) runs as its
// bands of rows, as parallel tasks, each computed into a scratch band and copied out with
// non-temporal stores; measured 2026-12-04, timing such a problem whole picked a tile 1.8x slower
// as built. Each task thread then has its own compiled pipeline: a JIT pipeline's realize is not
// reentrant, and each band sets its own top padding.
// fixed_pack: the packing the candidate keeps (AVX-512 mode: the common file's; a wider channel
// tile spans several packed blocks, a row tile takes its own rows), else none: its own.
class CompiledCandidate {
 public:
  CompiledCandidate(const VariantInfo& v, const Candidate& cand,
                    const std::optional<Candidate>& fixed_pack, const halconv::Problem& p,
                    const Halide::Target& target);
  double run_ms();

 private:
  struct Instance {
    Halide::Internal::AbstractGeneratorPtr generator;
    // stride_w, stride_h, dilation_w, dilation_h, pad_top, pad_left, groups, filters, activation:
    // Params, not constants: the AOT variants see run-time values, and constants would let the
    // JIT fold what they cannot (measured: up to 4x faster on few-channel shapes).
    std::vector<Halide::Param<int32_t>> scalars;
    Halide::Pipeline pipeline;
    // Streamed: the input it is compiled with, a view of one image that each band points at its
    // image (the generator takes whole images from 0), and the band's scratch.
    Halide::Buffer<float> image_view;
    halconv::detail::AlignedFloats band;
  };
  static constexpr int kPadTop = 4;  // its scalar's index
  Instance compile(const Halide::GeneratorParamsMap& params,
                   const Halide::Buffer<float>& input) const;
  void run_band(Instance& instance, int64_t index) const;

  Halide::Target target_;
  halconv::Problem problem_;
  int64_t band_rows_ = 0;  // 0: not streamed
  Halide::Buffer<float> input_, kernel_, bias_, output_;
  std::vector<Instance> instances_;  // one, or one per task thread when streamed
};

// Median ms of each run, timed in rounds of one call each, for at least min_rounds rounds and
// min_seconds (at most 1,000 rounds): this VM's speed drifts by 20-50% over seconds, and
// interleaving makes a drift hit every candidate alike.
std::vector<double> median_ms_interleaved(const std::vector<std::function<double()>>& runs,
                                          size_t min_rounds, double min_seconds);

// The search's measure: the candidate's median time relative to the reference's (the default's),
// the two interleaved for at least 0.25 s.
double relative_time(CompiledCandidate& reference, const VariantInfo& v, const Candidate& cand,
                     const std::optional<Candidate>& fixed_pack, const halconv::Problem& p,
                     const Halide::Target& target);

// The JIT target: the build's CPU object that Halide's dispatch runs on this host (the first of
// the build's CPU targets, best first, that the runtime finds this CPU runs), so candidates
// compile as that object does, with its flags (the host's own target differs).
// HL_JIT_TARGET overrides.
Halide::Target tuning_target();

}  // namespace halconv::tune
