# cmake -DMANIFEST=<manifest.json> -DHALCONV_VARIANT_CMAKE=<halconvVariant.cmake> -DOUTPUT=<md>
#       -P halconvVariantsDoc.cmake
# Writes the variant catalogue (docs/variants.md) from the manifest. With -DCHECK=<file>, writes
# OUTPUT and fails unless it equals <file> (the test that keeps the committed copy current).
get_filename_component(cmake_dir "${HALCONV_VARIANT_CMAKE}" DIRECTORY)
include("${cmake_dir}/halconvSchedules.cmake")
include("${HALCONV_VARIANT_CMAKE}")
file(READ "${MANIFEST}" manifest)
# The groups modes' bounds, from their one home beside the manifest.
get_filename_component(generators_dir "${MANIFEST}" DIRECTORY)
file(STRINGS "${generators_dir}/variant_domain.h" domain REGEX "^constexpr int k[A-Za-z]+ = [0-9]+;")
foreach (line IN LISTS domain)
  string(REGEX REPLACE "^constexpr int (k[A-Za-z]+) = ([0-9]+);.*" "\\1;\\2" pair "${line}")
  list(GET pair 0 name)
  list(GET pair 1 value)
  set(${name} ${value})
endforeach ()
string(JSON grammar GET "${manifest}" grammar)
string(JSON count LENGTH "${manifest}" variants)
math(EXPR last "${count} - 1")
set(rows "")
foreach (i RANGE ${last})
  string(JSON record GET "${manifest}" variants ${i})
  halconv_parse_record("${record}" R)
  string(JSON reason GET "${record}" reason)
  set(names "")
  foreach (backend IN LISTS R_BACKENDS)
    list(APPEND names "`conv2d_${R_KEY}_${backend}`")
  endforeach ()
  list(JOIN names "<br>" names)
  set(lanes "${R_LAYOUT}")
  if (R_LAYOUT STREQUAL "nchw")
    set(lanes "nchw, along width")
    if (R_BY_CHANNELS)
      set(lanes "nchw, along channels")
    endif ()
  endif ()
  set(fixed "")
  foreach (field KERNEL STRIDE DILATION)
    string(TOLOWER ${field} label)
    if (R_${field} EQUAL 0)
      list(APPEND fixed "${label} any")
    else ()
      list(APPEND fixed "${label} ${R_${field}}")
    endif ()
  endforeach ()
  list(JOIN fixed ", " fixed)
  set(bounds "")
  foreach (field MAX_FILTERS MAX_OUTPUT_PIXELS MAX_IN_CHANNELS)
    if (R_${field} GREATER 0)
      string(TOLOWER ${field} label)
      list(APPEND bounds "${label} ${R_${field}}")
    endif ()
  endforeach ()
  list(JOIN bounds ", " bounds)
  math(EXPR n "${i} + 1")
  string(APPEND rows "| ${n} | ${names} | ${lanes}; ${fixed}; ${R_GROUPS}; ${R_ALGORITHM} | ${bounds} | `${R_KEY}` | ${reason} |\n")
endforeach ()
file(WRITE "${OUTPUT}"
"<!-- Generated from generators/manifest.json by cmake/halconvVariantsDoc.cmake (target
     variants_doc); edit the manifest, not this file. -->
# Compiled variants

Selection takes the first variant, in this order, that serves the problem (`halconv explain` prints
the choice and why each earlier variant declined); the generic variants accept every valid problem.
A variant serves its layout, its fixed kernel, stride and dilation (or any, at run time), its groups
mode's layers and its shape class (the bounds below). Each CPU variant is compiled for every CPU
target (AVX-512, AVX2, SSE4.1) and Halide's dispatch picks the best the CPU has.

Names follow `${grammar}`: `_cv` marks an NCHW variant vectorized along channels, `r` a run-time
value, and the groups mode is omitted for dense layers. Schedule parameters are the entry under the
variant's key in `schedules/cpu.json` (every ISA), `schedules/cpu-avx512.json` (the AVX-512 object)
and `schedules/gpu.json`; see [tuning.md](tuning.md).

Groups modes: `dense` groups 1; `grouped` any groups; `depthwise` groups = input channels = filters;
`narrow` at most ${kNarrowGroupChannels} input channels per group; `block_diagonal` at least ${kBlockDiagonalMinFilters} filters per group;
`rotated` (NHWC) and `whole_groups` (NCHW) ${kRotatedGroupChannels} input channels and ${kRotatedGroupChannels} filters per group.

| # | variant | code (lanes; kernel, stride, dilation; groups; algorithm) | shape class | schedule key | why |
|---|---|---|---|---|---|
${rows}")
if (CHECK)
  file(READ "${OUTPUT}" generated)
  file(READ "${CHECK}" committed)
  if (NOT generated STREQUAL committed)
    message(FATAL_ERROR "${CHECK} is out of date with ${MANIFEST}: run "
                        "`cmake --build --preset release --target variants_doc`")
  endif ()
endif ()
