# halconv_add_keras_model(NAME <name> MODEL <file.keras|file.h5>
#                         [TARGETS host|cuda|opencl ...] [SCHEDULE <schedule json>|defaults])
#
# Generates Conv2D variants specialized to a Keras model's conv layers at your build time and makes
# an INTERFACE library <name> that registers them (linking it is enough). At configure time it
# asks `halconv model --records MODEL` for one variant record per distinct convolution of the
# model (KerasModel::specialized_records: the built-in variant selection picks for the layer's
# recorded input shape, with its run-time kernel, stride and dilation fixed to the layer's) and
# adds each with halconv_add_conv2d as <name>_<i>, so selection prefers them for the model's layers.
# With SCHEDULE defaults (the default) variant <name>_<i> takes the tuned entry of the built-in
# variant it specializes; with a file (`halconv tune --model MODEL --name <name>` writes one), its
# entry <name>_<i>. The model file is a configure dependency: changing it regenerates.
function(halconv_add_keras_model)
  cmake_parse_arguments(ARG "" "NAME;MODEL;SCHEDULE" "TARGETS" ${ARGN})
  foreach (required NAME MODEL)
    if (NOT DEFINED ARG_${required})
      message(FATAL_ERROR "halconv_add_keras_model: ${required} is required")
    endif ()
  endforeach ()
  get_filename_component(model "${ARG_MODEL}" ABSOLUTE BASE_DIR "${CMAKE_CURRENT_SOURCE_DIR}")
  get_target_property(cli halconv::halconv_cli LOCATION)
  execute_process(COMMAND "${cli}" model --records "${model}" OUTPUT_VARIABLE records
                  ERROR_VARIABLE error RESULT_VARIABLE status)
  if (NOT status EQUAL 0)
    message(FATAL_ERROR "halconv_add_keras_model: ${error}")
  endif ()
  set_property(DIRECTORY APPEND PROPERTY CMAKE_CONFIGURE_DEPENDS "${model}")
  string(JSON count LENGTH "${records}")
  if (count EQUAL 0)
    message(FATAL_ERROR "halconv_add_keras_model: ${model} records no input shape for any conv "
                        "layer, so there is nothing to specialize (a Keras 3 file records them)")
  endif ()
  add_library(${ARG_NAME} INTERFACE)
  set(all_includes "")
  set(all_registrations "")
  math(EXPR last "${count} - 1")
  foreach (i RANGE ${last})
    string(JSON record GET "${records}" ${i})
    set(key ${ARG_NAME}_${i})
    if (NOT ARG_SCHEDULE OR ARG_SCHEDULE STREQUAL "defaults")
      string(JSON key GET "${record}" specializes)
    endif ()
    _halconv_variant_objects(${ARG_NAME}_${i} "${record}" "${ARG_TARGETS}" "${ARG_SCHEDULE}"
                             ${key} includes registrations)
    target_link_libraries(${ARG_NAME} INTERFACE ${_halconv_libs_${ARG_NAME}_${i}})
    string(APPEND all_includes "${includes}")
    # The records come in selection order and each registration goes ahead of those before it,
    # so they register last to first.
    string(PREPEND all_registrations "${registrations}")
    string(JSON reason GET "${record}" reason)
    message(STATUS "halconv_add_keras_model: ${ARG_NAME}_${i} (${reason})")
  endforeach ()
  _halconv_register_variants(${ARG_NAME} "${all_includes}" "${all_registrations}")
endfunction()
