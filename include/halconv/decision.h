// How a problem runs: one decision, made once, that Plan executes and explain prints.
//
// Thread-safety: decide() and the Options and Decision members may be called from any thread.
#pragma once

#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include "halconv/config.h"
#include "halconv/device.h"

namespace halconv {

// The CPU levels each CPU variant is compiled for, best first after automatic: avx512_zen4 is
// AVX-512 with BF16 and VNNI (Zen 4, Zen 5, Sapphire Rapids), avx512 is Skylake-class AVX-512, then
// AVX2 with FMA, then SSE4.1.
enum class Isa { automatic, avx512_zen4, avx512, avx2, sse41 };
// Parses "auto" or a level's name (isa_name); anything else is an Error naming it.
Isa parse_isa(const std::string& name);
std::string isa_name(Isa isa);

// What a caller decides instead of the rules. The defaults leave every choice to them. Nothing in
// the library reads the environment: Options::from_environment() turns the HALCONV_* variables into
// options, and the CLI and Conv2D's defaults call it once.
struct Options {
  // A compiled variant by name (halconv variants), which must serve the problem; empty: the first
  // variant, best first, that serves it.
  std::string variant;
  // The best CPU ISA object to run: the best this CPU has up to this one. An ISA the CPU lacks is
  // an Error when the plan is made.
  Isa isa = Isa::automatic;
  // Halide's CPU worker threads for this plan's calls; 0: Halide's default (HL_NUM_THREADS, else
  // one per core). Halide's pool is process-wide: a plan with a count sets it before each call,
  // so plans with different counts called concurrently share whichever was set last. To run on
  // an engine's own pool instead, install halide_set_custom_do_par_for (HalideRuntime.h) once.
  int threads = 0;
  // Streamed output bands (large write-bound outputs computed in bands of rows and streamed out):
  // -1 the rule (detail::streamed_band_rows), 0 never, n > 0 bands of n rows.
  int64_t stream_rows = -1;

  // HALCONV_VARIANT, HALCONV_ISA, HALCONV_THREADS and HALCONV_STREAM_ROWS, each where set and not
  // empty; an unparsable value is an Error naming it.
  static Options from_environment();
};

// Everything about how a problem runs on a device.
struct Decision {
  Problem problem;              // as asked
  Device device = Device::cpu;  // where it runs
  std::string variant;          // the compiled variant
  bool forced = false;          // by Options::variant
  // Each better variant that declined, with its reason (empty when forced).
  std::vector<std::pair<std::string, std::string>> declined;
  // The problem the variant runs: without the kernel rows and columns that read only padding, and
  // at stride 1 on an axis with one output (or as asked, for a forced variant of fixed kernel).
  Problem window;
  int64_t first_row_tap = 0, first_col_tap = 0;  // the window's first tap in the caller's kernel
  // What the variant's code is called with: the window, or, for a 1x1 stride-1 problem on a
  // width-vectorized NCHW variant, its image planes as rows of another width.
  Problem run;
  // A dilated problem that a variant runs as undilated phases: one call per phase (0: one call).
  int64_t dilation_phases = 0;
  // Streamed output: rows per band (0: the output is written directly).
  int64_t band_rows = 0;
  // The object that runs: the CPU ISA (isa_name's names), "dispatch" for a registered variant
  // without per-ISA objects (Halide's dispatch picks), or the device's name.
  std::string isa;
  // The packed weights: `blocks` blocks of `pack` filters each (padding to whole register tiles
  // included), as the compiled object reads them.
  int64_t pack = 0, blocks = 0;
  bool winograd = false;  // the weights are transformed for Winograd F(2x2, 3x3) first
  int threads = 0;        // Options::threads

  std::string to_text() const;
  std::string to_json() const;  // one JSON object with every field above
};

// The decision for a problem on a device (automatic: the CPU) under options. Errors: no such
// variant, a forced variant that cannot run the problem or runs on another device, an absent
// device, an ISA this CPU lacks.
Decision decide(const Problem& problem, Device device = Device::automatic,
                const Options& options = {});

}  // namespace halconv
