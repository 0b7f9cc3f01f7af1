# What the consumer tests' cmake -P scripts share: included by each run_*.cmake.

# require_vars(VAR...): stops the script unless every VAR is set and not empty.
function(require_vars)
  get_filename_component(script "${CMAKE_SCRIPT_MODE_FILE}" NAME)
  foreach(var IN LISTS ARGN)
    if(NOT DEFINED ${var} OR "${${var}}" STREQUAL "")
      message(FATAL_ERROR "${script}: ${var} is not set")
    endif()
  endforeach()
endfunction()

# run_step(NAME COMMAND...): runs COMMAND, echoing it; stops the script if it fails.
function(run_step name)
  string(REPLACE ";" " " shown "${ARGN}")
  message(STATUS "consumer ${name}: ${shown}")
  execute_process(COMMAND ${ARGN} RESULT_VARIABLE result TIMEOUT 240)
  if(NOT result EQUAL 0)
    message(FATAL_ERROR "consumer ${name} failed: ${result}")
  endif()
endfunction()

# append_configure_args(OUT_VAR PAIR...): appends to the list OUT_VAR what the consumer's
# configure step takes from this build: the generator's platform and toolset, the build type,
# and for each PAIR "CACHE_VAR=INPUT_VAR", -DCACHE_VAR=<INPUT_VAR's value> when INPUT_VAR is
# set and not empty (so that the consumer's own defaults apply otherwise).
function(append_configure_args out)
  set(args ${${out}})
  if(CONSUMER_GENERATOR_PLATFORM)
    list(APPEND args -A "${CONSUMER_GENERATOR_PLATFORM}")
  endif()
  if(CONSUMER_GENERATOR_TOOLSET)
    list(APPEND args -T "${CONSUMER_GENERATOR_TOOLSET}")
  endif()
  if(CONSUMER_CONFIG)
    list(APPEND args "-DCMAKE_BUILD_TYPE=${CONSUMER_CONFIG}")
  endif()
  foreach(pair IN LISTS ARGN)
    string(REPLACE "=" ";" pair "${pair}")
    list(GET pair 0 cache_var)
    list(GET pair 1 input_var)
    if(DEFINED ${input_var} AND NOT "${${input_var}}" STREQUAL "")
      list(APPEND args "-D${cache_var}=${${input_var}}")
    endif()
  endforeach()
  set(${out} "${args}" PARENT_SCOPE)
endfunction()

# build_and_run(PROGRAM...): builds CONSUMER_BINARY_DIR (in CONSUMER_CONFIG, if set) and runs
# each PROGRAM it made. Single-configuration generators put a program in the build directory,
# multi-configuration ones in a subdirectory per configuration.
function(build_and_run)
  set(build_args --build "${CONSUMER_BINARY_DIR}")
  if(CONSUMER_CONFIG)
    list(APPEND build_args --config "${CONSUMER_CONFIG}")
  endif()
  run_step(build "${CMAKE_COMMAND}" ${build_args})
  foreach(program IN LISTS ARGN)
    set(found "")
    foreach(candidate IN ITEMS
        "${CONSUMER_BINARY_DIR}/${program}"
        "${CONSUMER_BINARY_DIR}/${CONSUMER_CONFIG}/${program}"
        "${CONSUMER_BINARY_DIR}/${program}.exe"
        "${CONSUMER_BINARY_DIR}/${CONSUMER_CONFIG}/${program}.exe")
      if(NOT IS_DIRECTORY "${candidate}" AND EXISTS "${candidate}")
        set(found "${candidate}")
        break()
      endif()
    endforeach()
    if(NOT found)
      message(FATAL_ERROR "consumer build produced no '${program}' program in ${CONSUMER_BINARY_DIR}")
    endif()
    run_step(run "${found}")
  endforeach()
endfunction()
