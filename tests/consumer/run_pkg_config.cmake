# cmake -P script behind the `consumer.pkg_config` test (see consumer_test.cmake): compiles
# tests/consumer/main.cpp with one plain compiler command line,
#   <c++> <flags> -std=c++20 main.cpp $(pkg-config --cflags --libs leash) -o app
# against the prefix `consumer.install` filled (PKG_CONFIG_PATH), and runs it. The compiler
# and its flags are the build's (sanitizers included). Any failing step fails the test.

include(${CMAKE_CURRENT_LIST_DIR}/steps.cmake)
require_vars(CONSUMER_SOURCE CONSUMER_BINARY_DIR PKG_CONFIG_DIR PKG_CONFIG CXX)

file(REMOVE_RECURSE "${CONSUMER_BINARY_DIR}")
file(MAKE_DIRECTORY "${CONSUMER_BINARY_DIR}")

if(DEFINED ENV{PKG_CONFIG_PATH} AND NOT "$ENV{PKG_CONFIG_PATH}" STREQUAL "")
  set(ENV{PKG_CONFIG_PATH} "${PKG_CONFIG_DIR}:$ENV{PKG_CONFIG_PATH}")
else()
  set(ENV{PKG_CONFIG_PATH} "${PKG_CONFIG_DIR}")
endif()
execute_process(COMMAND "${PKG_CONFIG}" --cflags --libs leash
  RESULT_VARIABLE result OUTPUT_VARIABLE pc_flags ERROR_VARIABLE pc_error
  OUTPUT_STRIP_TRAILING_WHITESPACE TIMEOUT 60)
if(NOT result EQUAL 0)
  message(FATAL_ERROR "pkg-config --cflags --libs leash failed (PKG_CONFIG_PATH=$ENV{PKG_CONFIG_PATH}):\n${pc_error}")
endif()
message(STATUS "pkg-config --cflags --libs leash: ${pc_flags}")
separate_arguments(pc_flags UNIX_COMMAND "${pc_flags}")
separate_arguments(cxx_flags UNIX_COMMAND "${CXX_FLAGS}")
separate_arguments(ld_flags UNIX_COMMAND "${LD_FLAGS}")

set(app "${CONSUMER_BINARY_DIR}/app")
run_step(compile "${CXX}" ${cxx_flags} -std=c++20 "${CONSUMER_SOURCE}" ${pc_flags} ${ld_flags} -o "${app}")
run_step(run "${app}")
