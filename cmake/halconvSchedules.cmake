# Reading schedule parameters from a schedules/*.json file, shared by halconv's own build and by
# halconv_add_conv2d in consumers' builds. The file has "default" (every parameter) and
# "variants" (per-variant overrides keyed by the variant's key, e.g. "nhwc_k3x3_s1_d1").
#
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
    # CMake reads JSON booleans as ON/OFF; GeneratorParam<bool> takes true/false.
    if (value STREQUAL "ON")
      set(value true)
    elseif (value STREQUAL "OFF")
      set(value false)
    endif ()
    set(${name} ${value} PARENT_SCOPE)
    list(APPEND pairs ${name}=${value})
  endforeach ()
  set(${OUT} ${pairs} PARENT_SCOPE)
endfunction()
