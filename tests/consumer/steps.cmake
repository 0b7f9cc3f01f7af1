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
