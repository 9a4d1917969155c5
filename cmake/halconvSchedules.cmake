# Reading schedule parameters from a schedules/*.json file, shared by halconv's own build and by
# halconv_add_conv2d in consumers' builds. The file has "default" (every parameter) and
# "variants" (per-variant overrides keyed by the variant's key, e.g. "nhwc_k3x3_s1_d1").
#
# halconv_json_bool(<value> <out>): CMake reads JSON booleans as ON/OFF; GeneratorParam<bool>
# and C++ take true/false. Other values pass unchanged.
function(halconv_json_bool VALUE OUT)
  set(value "${VALUE}")
  if (value STREQUAL "ON")
    set(value true)
  elseif (value STREQUAL "OFF")
    set(value false)
  endif ()
  set(${OUT} "${value}" PARENT_SCOPE)
endfunction()

# halconv_schedule_params(<json text> <key> <out list>) sets <out list> to "name=value" pairs
# for the generator, and sets each parameter as a variable in the caller's scope too.
function(halconv_schedule_params JSON KEY OUT)
  string(JSON defaults GET "${JSON}" default)
  string(JSON overrides ERROR_VARIABLE no_overrides GET "${JSON}" variants ${KEY})
  string(JSON count LENGTH "${defaults}")
  math(EXPR last "${count} - 1")
  set(pairs "")
  foreach (i RANGE ${last})
    string(JSON name MEMBER "${defaults}" ${i})
    string(JSON value GET "${defaults}" ${name})
    if (NOT no_overrides)
      string(JSON override ERROR_VARIABLE no_override GET "${overrides}" ${name})
      if (NOT no_override)
        set(value ${override})
      endif ()
    endif ()
    halconv_json_bool("${value}" value)
    set(${name} ${value} PARENT_SCOPE)
    list(APPEND pairs ${name}=${value})
  endforeach ()
  set(${OUT} ${pairs} PARENT_SCOPE)
endfunction()

# halconv_isa_schedule_params(<json text> <isa> <key> <block_is_pack> <out list>) sets <out list>
# to the generator's isa_schedules=... pair (generators/isa_schedule.h; empty when there is
# nothing to set) from schedules/cpu-<isa>.json's entry for <key>: that ISA object's own
# block_size, rows_per_task, reduction_chunk and shared_staging (the generator takes the common
# value for any it lacks), vector_lanes (8 or 16 floats per vector; 16 when absent), and
# vectors_per_block, its channel tile spanning whole packed blocks. Each value is also set in the
# caller's scope as <isa>_<parameter> (<isa>_vectors_per_block 0 when absent). The weight packing
# is common to every ISA, so where <block_is_pack> (width-vectorized NCHW variants, whose block is
# the packed filter block) the entry may not hold block_size; there vectors_per_block is the
# tile's width, which packs nothing.
function(halconv_isa_schedule_params JSON ISA KEY BLOCK_IS_PACK OUT)
  set(entries "")
  set(${ISA}_vectors_per_block 0 PARENT_SCOPE)
  string(JSON entry ERROR_VARIABLE no_entry GET "${JSON}" variants ${KEY})
  if (NOT no_entry)
    string(JSON count LENGTH "${entry}")
    math(EXPR last "${count} - 1")
    foreach (i RANGE ${last})
      string(JSON name MEMBER "${entry}" ${i})
      string(JSON value GET "${entry}" ${name})
      if (NOT name MATCHES
          "^(vectors_per_block|block_size|rows_per_task|reduction_chunk|shared_staging|vector_lanes)$" OR
          (name STREQUAL "block_size" AND BLOCK_IS_PACK))
        message(FATAL_ERROR "schedules/cpu-${ISA}.json: ${KEY}: '${name}' cannot differ per ISA "
                            "(it sets the weight packing, or is not a schedule parameter)")
      endif ()
      if (value STREQUAL "ON")
        set(value 1)
      elseif (value STREQUAL "OFF")
        set(value 0)
      endif ()
      set(${ISA}_${name} ${value} PARENT_SCOPE)
      list(APPEND entries ${ISA}.${name}.${value})
    endforeach ()
  endif ()
  set(pairs "")
  if (entries)
    list(JOIN entries "," joined)
    set(pairs isa_schedules=${joined})
  endif ()
  set(${OUT} ${pairs} PARENT_SCOPE)
endfunction()
