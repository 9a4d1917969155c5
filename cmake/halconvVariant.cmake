# A Conv2D variant from its record, the one form shared by halconv's manifest
# (generators/manifest.json) and by consumers' halconv_add_conv2d. See the manifest's "about"
# for the fields; this file is where they become a name, GeneratorParams and a table entry.
# Needs halconvSchedules.cmake (included first).

# halconv_record_field(<record> <field> <default> <out>): the field's value, or the default.
function(halconv_record_field RECORD FIELD DEFAULT OUT)
  string(JSON value ERROR_VARIABLE missing GET "${RECORD}" ${FIELD})
  if (missing)
    set(value "${DEFAULT}")
  endif ()
  halconv_json_bool("${value}" value)
  set(${OUT} "${value}" PARENT_SCOPE)
endfunction()

# halconv_parse_record(<record> <prefix>): sets <prefix>_LAYOUT, _BY_CHANNELS, _KERNEL, _STRIDE,
# _DILATION (0 for "any"), _GROUPS, _ALGORITHM, _MAX_FILTERS, _MAX_OUTPUT_PIXELS,
# _MAX_IN_CHANNELS, _BACKENDS and _KEY (the name by the manifest's grammar, without conv2d_ and
# the backend), failing with a message that names any bad value.
function(halconv_parse_record RECORD P)
  string(JSON type ERROR_VARIABLE bad TYPE "${RECORD}")
  if (bad OR NOT type STREQUAL "OBJECT")
    message(FATAL_ERROR "halconv variant record is not a JSON object: ${RECORD}")
  endif ()
  halconv_record_field("${RECORD}" layout "" layout)
  if (NOT layout MATCHES "^(nhwc|nchw)$")
    message(FATAL_ERROR "halconv variant record: layout must be nhwc or nchw, got '${layout}' in ${RECORD}")
  endif ()
  halconv_record_field("${RECORD}" by_channels false by_channels)
  if (by_channels AND NOT layout STREQUAL "nchw")
    message(FATAL_ERROR "halconv variant record: by_channels applies to nchw only: ${RECORD}")
  endif ()
  set(key ${layout})
  if (by_channels)
    string(APPEND key _cv)
  endif ()
  foreach (field kernel stride dilation)
    halconv_record_field("${RECORD}" ${field} "" value)
    string(SUBSTRING ${field} 0 1 letter)
    if (value STREQUAL "any")
      set(value 0)
      set(token ${letter}r)
    elseif (value MATCHES "^[1-9][0-9]*$")
      set(token ${letter}${value})
      if (field STREQUAL "kernel")
        set(token k${value}x${value})
      endif ()
    else ()
      message(FATAL_ERROR "halconv variant record: ${field} must be a positive number or \"any\", "
                          "got '${value}' in ${RECORD}")
    endif ()
    string(TOUPPER ${field} upper)
    set(${P}_${upper} ${value} PARENT_SCOPE)
    string(APPEND key _${token})
  endforeach ()
  # The groups mode is checked by the generator (its GeneratorParam takes halconv::GroupsMode's
  # names) and by the compiler (the table entry names the enumerator).
  halconv_record_field("${RECORD}" groups dense groups)
  if (NOT groups STREQUAL "dense")
    string(APPEND key _${groups})
  endif ()
  halconv_record_field("${RECORD}" algorithm direct algorithm)
  if (algorithm STREQUAL "winograd")
    string(APPEND key _wino)
  elseif (NOT algorithm STREQUAL "direct")
    message(FATAL_ERROR "halconv variant record: algorithm must be direct or winograd, got "
                        "'${algorithm}' in ${RECORD}")
  endif ()
  foreach (bound "max_filters;f" "max_output_pixels;p" "max_in_channels;c")
    list(GET bound 0 field)
    list(GET bound 1 letter)
    string(JSON value ERROR_VARIABLE none GET "${RECORD}" class ${field})
    if (none)
      set(value 0)
    elseif (NOT value MATCHES "^[1-9][0-9]*$")
      message(FATAL_ERROR "halconv variant record: class.${field} must be a positive number, got "
                          "'${value}' in ${RECORD}")
    else ()
      string(APPEND key _${letter}${value})
    endif ()
    string(TOUPPER ${field} upper)
    set(${P}_${upper} ${value} PARENT_SCOPE)
  endforeach ()
  string(JSON count ERROR_VARIABLE none LENGTH "${RECORD}" backends)
  set(backends cpu)
  if (NOT none)
    set(backends "")
    math(EXPR last "${count} - 1")
    foreach (i RANGE ${last})
      string(JSON backend GET "${RECORD}" backends ${i})
      if (NOT backend MATCHES "^(cpu|cuda|opencl)$")
        message(FATAL_ERROR "halconv variant record: backends are cpu, cuda or opencl, got "
                            "'${backend}' in ${RECORD}")
      endif ()
      list(APPEND backends ${backend})
    endforeach ()
  endif ()
  set(${P}_LAYOUT ${layout} PARENT_SCOPE)
  set(${P}_BY_CHANNELS ${by_channels} PARENT_SCOPE)
  set(${P}_GROUPS ${groups} PARENT_SCOPE)
  set(${P}_ALGORITHM ${algorithm} PARENT_SCOPE)
  set(${P}_BACKENDS ${backends} PARENT_SCOPE)
  set(${P}_KEY ${key} PARENT_SCOPE)
endfunction()

# halconv_compile_variant(RECORD_VAR <var> BACKEND cpu|cuda|opencl FUNCTION <name>
#     LIBRARY <target> SCHEDULE_KEY <key> SCHEDULES_VAR <var> [AVX512_SCHEDULES_VAR <var>]
#     GENERATOR <generator target> [RUNTIME_ARGS ...] OUT_SPEC <var> [OUT_REACH <var>]
#     [OUT_ISA_OBJECTS <var>])
# The JSON texts travel by variable name: their strings may hold semicolons, which arguments split.
# Adds the Halide library of one variant and sets <var> to its halconv::VariantSpec initializer
# (function left nullptr: the caller's table fills it in). OUT_REACH: how many outputs past an
# axis' last one its tiles may compute, at most (the runtime's kTileOutputsPastEnd is the table's
# largest; a consumer's variant may not exceed the installed one's): a band's rows, or a tile's
# vectors of at most 16 floats times its block, or a GPU thread block's outputs.
# OUT_ISA_OBJECTS: for the CPU, C++ that declares each ISA object's entry point and defines the
# halconv::IsaObject array <function>_isa_objects, best first (empty for other backends), and
# <var>_NAME to that array's name (nullptr for other backends), for VariantSpec::isa_objects.
function(halconv_compile_variant)
  cmake_parse_arguments(A "" "RECORD_VAR;BACKEND;FUNCTION;LIBRARY;SCHEDULE_KEY;SCHEDULES_VAR;AVX512_SCHEDULES_VAR;GENERATOR;OUT_SPEC;OUT_REACH;OUT_ISA_OBJECTS"
                        "RUNTIME_ARGS" ${ARGN})
  halconv_parse_record("${${A_RECORD_VAR}}" R)
  string(TOUPPER ${A_BACKEND} backend)
  set(targets ${HALCONV_${backend}_TARGETS})
  halconv_schedule_params("${${A_SCHEDULES_VAR}}" ${A_SCHEDULE_KEY} schedule_params)
  foreach (name vectors_per_block block_size rows_per_task)
    set(avx512_${name} 0)
  endforeach ()
  if (A_BACKEND STREQUAL "cpu" AND A_AVX512_SCHEDULES_VAR AND NOT "${${A_AVX512_SCHEDULES_VAR}}" STREQUAL "")
    # A row-tiled tile's block is rows (generators/register_tile.h, tiles_rows()).
    set(block_is_pack true)
    if (R_LAYOUT STREQUAL "nhwc" OR R_BY_CHANNELS OR
        (R_GROUPS MATCHES "^(depthwise|whole_groups)$" AND R_KERNEL GREATER 0))
      set(block_is_pack false)
    endif ()
    halconv_isa_schedule_params("${${A_AVX512_SCHEDULES_VAR}}" avx512 ${A_SCHEDULE_KEY}
                                ${block_is_pack} avx512_params)
    list(APPEND schedule_params ${avx512_params})
  endif ()
  foreach (v block_size vectors_per_block rows_per_task)
    set(widest_${v} ${${v}})
    if (avx512_${v} GREATER ${v})
      set(widest_${v} ${avx512_${v}})
    endif ()
  endforeach ()
  math(EXPR reach "16 * ${widest_vectors_per_block} * ${widest_block_size}")
  if (NOT A_BACKEND STREQUAL "cpu")
    math(EXPR reach "${gpu_threads_v} * ${gpu_threads_b} * ${block_size}")
  endif ()
  if (widest_rows_per_task GREATER reach)
    set(reach ${widest_rows_per_task})
  endif ()
  if (DEFINED HALCONV_TILE_OUTPUTS_PAST_END AND reach GREATER HALCONV_TILE_OUTPUTS_PAST_END)
    message(FATAL_ERROR "${A_SCHEDULE_KEY}: its tiles compute up to ${reach} outputs past an axis' "
                        "end, more than the ${HALCONV_TILE_OUTPUTS_PAST_END} this halconv checks "
                        "strides for; take smaller tiles or bands")
  endif ()
  if (A_OUT_REACH)
    set(${A_OUT_REACH} ${reach} PARENT_SCOPE)
  endif ()
  if (R_MAX_FILTERS GREATER 0 AND (R_LAYOUT STREQUAL "nhwc" OR R_BY_CHANNELS))
    math(EXPR tile "16 * ${vectors_per_block}")
    if (NOT tile EQUAL R_MAX_FILTERS)
      message(FATAL_ERROR "${A_SCHEDULE_KEY}: class max_filters ${R_MAX_FILTERS} needs a filter "
                          "tile of as many filters (vectors_per_block ${vectors_per_block} makes ${tile})")
    endif ()
  endif ()
  if (NOT A_BACKEND STREQUAL "cpu")
    math(EXPR channel_span "${block_size} * ${gpu_threads_b}")
    if (channel_span GREATER 64)
      message(FATAL_ERROR "${A_SCHEDULE_KEY}: block_size * gpu_threads_b = ${channel_span} exceeds the 64 "
                          "channels GPU weights are packed by (packing::kGpuChannelSpan)")
    endif ()
  endif ()
  add_halide_library(${A_LIBRARY} FROM ${A_GENERATOR} GENERATOR conv2d FUNCTION_NAME ${A_FUNCTION}
    TARGETS ${targets} ${A_RUNTIME_ARGS}
    PARAMS layout=${R_LAYOUT} kernel_size=${R_KERNEL} stride=${R_STRIDE} dilation=${R_DILATION}
           groups_mode=${R_GROUPS} nchw_by_channels=${R_BY_CHANNELS} algorithm=${R_ALGORITHM}
           max_filters=${R_MAX_FILTERS} ${schedule_params})
  set(layout channels_last)
  if (R_LAYOUT STREQUAL "nchw")
    set(layout channels_first)
  endif ()
  set(winograd false)
  if (R_ALGORITHM STREQUAL "winograd")
    set(winograd true)
  endif ()
  list(JOIN targets "," target_list)
  # Each ISA object's symbol is the function and its target (Halide's multi-target naming, with
  # the no_runtime feature USE_RUNTIME adds).
  set(isa_objects nullptr)
  set(isa_text "")
  if (A_BACKEND STREQUAL "cpu")
    set(suffix "")
    if ("USE_RUNTIME" IN_LIST A_RUNTIME_ARGS)
      set(suffix "-no_runtime")
    endif ()
    set(entries "")
    set(index 0)
    foreach (target IN LISTS targets)
      # The level's name (halconv::Isa) is its highest x86 feature of those halconv builds for.
      if (target MATCHES "avx512_zen4")
        set(isa avx512_zen4)
      elseif (target MATCHES "avx512")
        set(isa avx512)
      elseif (target MATCHES "avx2")
        set(isa avx2)
      else ()
        set(isa sse41)
      endif ()
      string(APPEND isa_text "extern \"C\" halconv::GeneratedConv2DFunction ${A_FUNCTION}_isa${index} "
                             "HALCONV_OBJECT_SYMBOL(\"${A_FUNCTION}-${target}${suffix}\");\n")
      string(APPEND entries "{\"${isa}\", \"${target}\", &${A_FUNCTION}_isa${index}}, ")
      math(EXPR index "${index} + 1")
    endforeach ()
    set(isa_objects ${A_FUNCTION}_isa_objects)
    string(APPEND isa_text "[[maybe_unused]] const halconv::IsaObject ${isa_objects}[] = {${entries}{nullptr, nullptr, nullptr}};\n")
  endif ()
  if (A_OUT_ISA_OBJECTS)
    set(${A_OUT_ISA_OBJECTS} "${isa_text}" PARENT_SCOPE)
    set(${A_OUT_ISA_OBJECTS}_NAME ${isa_objects} PARENT_SCOPE)
  endif ()
  set(${A_OUT_SPEC}
      "{\"${A_FUNCTION}\", halconv::DataFormat::${layout}, ${R_KERNEL}, ${R_STRIDE}, ${R_DILATION}, halconv::GroupsMode::${R_GROUPS}, halconv::Device::${A_BACKEND}, \"${target_list}\", nullptr, ${R_BY_CHANNELS}, ${winograd}, ${R_MAX_FILTERS}, ${R_MAX_OUTPUT_PIXELS}, ${R_MAX_IN_CHANNELS}}"
      PARENT_SCOPE)
endfunction()
