# expect_failure.cmake - runs a program that must fail, and checks that it says why.
#
#   cmake -DEXPECT_STDERR=TEXT [-DTIMEOUT=SECONDS] -P expect_failure.cmake -- PROGRAM [ARGS...]
#
# Passes when PROGRAM exits with a non-zero status within TIMEOUT seconds (default 30) and its
# standard error contains TEXT (a plain string, not a pattern); fails otherwise, showing what
# the program printed.
if(NOT DEFINED TIMEOUT)
  set(TIMEOUT 30)
endif()

set(command "")
set(after_separator FALSE)
math(EXPR last "${CMAKE_ARGC} - 1")
foreach(i RANGE 1 ${last})
  if(after_separator)
    string(REPLACE ";" "\\;" argument "${CMAKE_ARGV${i}}")  # a ";" inside an argument stays
    list(APPEND command "${argument}")
  elseif(CMAKE_ARGV${i} STREQUAL "--")
    set(after_separator TRUE)
  endif()
endforeach()
list(LENGTH command command_length)
if(command_length EQUAL 0)
  message(FATAL_ERROR "usage: cmake -DEXPECT_STDERR=TEXT [-DTIMEOUT=SECONDS] -P expect_failure.cmake -- PROGRAM [ARGS...]")
endif()

execute_process(COMMAND ${command}
  RESULT_VARIABLE status OUTPUT_VARIABLE out ERROR_VARIABLE err TIMEOUT ${TIMEOUT})
message("exit status: ${status}\nstdout: ${out}\nstderr: ${err}")

if(status STREQUAL "0")
  message(FATAL_ERROR "expected a failure, but the program succeeded")
endif()
if(NOT status MATCHES "^[0-9]+$")
  message(FATAL_ERROR "expected the program to exit with a non-zero status, but: ${status}")
endif()
if(DEFINED EXPECT_STDERR)
  string(FIND "${err}" "${EXPECT_STDERR}" at)
  if(at EQUAL -1)
    message(FATAL_ERROR "expected \"${EXPECT_STDERR}\" on standard error")
  endif()
endif()
