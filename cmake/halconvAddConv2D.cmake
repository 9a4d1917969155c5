# halconv_add_conv2d(NAME <name> RECORD <variant record JSON>
#                    [TARGETS host|cuda|opencl ...] [SCHEDULE <schedule json>|defaults]
#                    [SCHEDULE_KEY <key>])
# halconv_add_conv2d(NAME <name> LAYOUT nhwc|nchw KERNEL <k>|<k>x<k>|any STRIDE <s>|any
#                    DILATION <d>|any [GROUPS <groups mode>] [TARGETS ...] [SCHEDULE ...])
#
# Generates a Conv2D variant specialized for your problem at your build time, with halconv's own
# generator, and makes an INTERFACE library <name>. The variant is a record of the same form as
# halconv's manifest (generators/manifest.json: layout, by_channels, kernel, stride, dilation,
# groups, algorithm, class); the keyword form builds one. Linking the library into a program
# registers the variant (named <name> for host, <name>_cuda / <name>_opencl for GPU targets)
# ahead of halconv's built-in ones, so selection prefers it wherever it applies;
# `halconv::explain` shows the choice. SCHEDULE is a file in the format of halconv's
# schedules/*.json (a "default" object and optional "variants" overrides keyed by <name>);
# "defaults" uses the ones halconv was built with. SCHEDULE_KEY picks the entry (default NAME),
# e.g. a built-in variant's tuned one.
function(halconv_add_conv2d)
  cmake_parse_arguments(ARG "" "NAME;RECORD;LAYOUT;KERNEL;STRIDE;DILATION;GROUPS;SCHEDULE;SCHEDULE_KEY"
                        "TARGETS" ${ARGN})
  if (NOT DEFINED ARG_NAME)
    message(FATAL_ERROR "halconv_add_conv2d: NAME is required")
  endif ()
  if (NOT ARG_SCHEDULE_KEY)
    set(ARG_SCHEDULE_KEY ${ARG_NAME})
  endif ()
  if (DEFINED ARG_RECORD)
    set(record "${ARG_RECORD}")
  else ()
    foreach (required LAYOUT KERNEL STRIDE DILATION)
      if (NOT DEFINED ARG_${required})
        message(FATAL_ERROR "halconv_add_conv2d: ${required} is required without RECORD")
      endif ()
    endforeach ()
    if (NOT ARG_GROUPS)
      set(ARG_GROUPS dense)
    endif ()
    set(record "{}")
    string(JSON record SET "${record}" layout "\"${ARG_LAYOUT}\"")
    string(JSON record SET "${record}" groups "\"${ARG_GROUPS}\"")
    # A kernel may be written 3 or 3x3 (square); "any" is a run-time value.
    foreach (arg KERNEL STRIDE DILATION)
      set(value "${ARG_${arg}}")
      if (value MATCHES "^([0-9]+)x([0-9]+)$")
        if (NOT CMAKE_MATCH_1 EQUAL CMAKE_MATCH_2)
          message(FATAL_ERROR "halconv_add_conv2d: ${arg} ${value}: only square sizes are generated")
        endif ()
        set(value ${CMAKE_MATCH_1})
      endif ()
      string(TOLOWER ${arg} field)
      string(JSON record SET "${record}" ${field} "\"${value}\"")
    endforeach ()
    # Numbers as JSON numbers, so the record reads as a manifest record does.
    string(REGEX REPLACE "\"([0-9]+)\"" "\\1" record "${record}")
  endif ()
  _halconv_variant_objects(${ARG_NAME} "${record}" "${ARG_TARGETS}" "${ARG_SCHEDULE}"
                           ${ARG_SCHEDULE_KEY} includes registrations)
  add_library(${ARG_NAME} INTERFACE)
  target_link_libraries(${ARG_NAME} INTERFACE ${_halconv_libs_${ARG_NAME}})
  _halconv_register_variants(${ARG_NAME} "${includes}" "${registrations}")
endfunction()

# Adds the objects of variant <name> (one library per backend) and sets <out_includes> and
# <out_registrations> to the C++ that declares them and the lambdas that register them. Empty
# targets mean host; an empty schedule means defaults.
function(_halconv_variant_objects name record targets schedule schedule_key out_includes
         out_registrations)
  if (NOT targets)
    set(targets host)
  endif ()
  if (NOT schedule)
    set(schedule defaults)
  endif ()
  if (NOT COMMAND add_halide_library)
    find_package(HalideHelpers 21 REQUIRED HINTS "${HALCONV_HALIDE_HELPERS_HINT}")
  endif ()
  set(includes "")
  set(registrations "")
  foreach (backend IN LISTS targets)
    if (backend STREQUAL "host")
      set(device cpu)
      set(suffix "")
      set(schedule_kind cpu)
    elseif (backend MATCHES "^(cuda|opencl)$")
      set(device ${backend})
      set(suffix _${backend})
      set(schedule_kind gpu)
    else ()
      message(FATAL_ERROR "halconv: TARGETS entries are host, cuda or opencl, got '${backend}'")
    endif ()
    set(avx512_json "")
    if (schedule STREQUAL "defaults")
      file(READ "${HALCONV_SCHEDULE_DIR}/${schedule_kind}.json" schedule_json)
      if (device STREQUAL "cpu")
        file(READ "${HALCONV_SCHEDULE_DIR}/cpu-avx512.json" avx512_json)
      endif ()
    else ()
      file(READ "${schedule}" schedule_json)
    endif ()
    # The function (and registered variant) is <name>[_cuda|_opencl]; the library target gets a
    # backend suffix so it never clashes with the INTERFACE library <name>.
    set(function ${name}${suffix})
    set(lib ${name}_${device}_objects)
    halconv_compile_variant(RECORD_VAR record BACKEND ${device} FUNCTION ${function} LIBRARY ${lib}
                            SCHEDULE_KEY ${schedule_key} SCHEDULES_VAR schedule_json
                            AVX512_SCHEDULES_VAR avx512_json GENERATOR halconv::halconv_generators
                            RUNTIME_ARGS USE_RUNTIME halconv::halconv OUT_SPEC spec
                            OUT_ISA_OBJECTS isa_objects)
    set(libs_${name} ${libs_${name}} ${lib})
    string(APPEND includes "#include \"${lib}.h\"\n${isa_objects}")
    string(APPEND registrations
           "    [] {\n      halconv::VariantSpec spec ${spec};\n"
           "      spec.function = &${function};\n      spec.isa_objects = ${isa_objects_NAME};\n"
           "      return halconv::register_variant(spec);\n    }(),\n")
  endforeach ()
  set(${out_includes} "${includes}" PARENT_SCOPE)
  set(${out_registrations} "${registrations}" PARENT_SCOPE)
  set(_halconv_libs_${name} ${libs_${name}} PARENT_SCOPE)
endfunction()

# Makes the INTERFACE library <target> link the objects and register the variants at start-up,
# in the order given (each goes ahead of those before it, so the last is tried first).
function(_halconv_register_variants target includes registrations)
  set(register_source "${CMAKE_CURRENT_BINARY_DIR}/${target}_register.cpp")
  file(WRITE "${register_source}.tmp"
       "// Generated by halconv: registers ${target}'s variants with halconv at start-up.\n"
       "#include <halconv/extension.h>\n${includes}\n"
       "namespace {\n[[maybe_unused]] const bool registered_${target}[] = {\n${registrations}};\n"
       "}  // namespace\n")
  configure_file("${register_source}.tmp" "${register_source}" COPYONLY)
  target_sources(${target} INTERFACE "${register_source}")
  target_link_libraries(${target} INTERFACE halconv::halconv Halide::Runtime)
endfunction()
