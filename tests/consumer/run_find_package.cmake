# cmake -P script behind the `consumer.find_package` test (see consumer_test.cmake): configures
# tests/consumer/find_package with CMAKE_PREFIX_PATH at the prefix `consumer.install` filled,
# builds and runs the application; then checks that find_package(leash 1.0) is refused.
# Any failing step fails the test.

include(${CMAKE_CURRENT_LIST_DIR}/steps.cmake)
require_vars(CONSUMER_SOURCE_DIR CONSUMER_BINARY_DIR LEASH_PREFIX CONSUMER_GENERATOR)

file(REMOVE_RECURSE "${CONSUMER_BINARY_DIR}" "${CONSUMER_BINARY_DIR}-v1")

# The installed prefix first; then what the build itself was given (e.g. a custom OpenSSL).
set(prefix_path "${LEASH_PREFIX}")
if(CONSUMER_PREFIX_PATH)
  string(REPLACE "|" ";" more "${CONSUMER_PREFIX_PATH}")
  list(APPEND prefix_path ${more})
endif()
set(configure_args -S "${CONSUMER_SOURCE_DIR}" -G "${CONSUMER_GENERATOR}" "-DCMAKE_PREFIX_PATH=${prefix_path}")
# (Not the places of Asio and llhttp: the installed package must find those by itself.)
append_configure_args(configure_args
  "CMAKE_MAKE_PROGRAM=CONSUMER_MAKE_PROGRAM"
  "CMAKE_CXX_COMPILER=CONSUMER_CXX_COMPILER"
  "CMAKE_CXX_FLAGS=CONSUMER_CXX_FLAGS"
  "CMAKE_EXE_LINKER_FLAGS=CONSUMER_EXE_LINKER_FLAGS"
  "OPENSSL_ROOT_DIR=CONSUMER_OPENSSL_ROOT_DIR")

run_step(configure "${CMAKE_COMMAND}" ${configure_args} -B "${CONSUMER_BINARY_DIR}")

# app: header-only (leash::leash); app_compiled: separate compilation (leash::leash_compiled).
build_and_run(app app_compiled)

# leashConfigVersion.cmake: a 0.x package does not satisfy a request for 1.0.
message(STATUS "consumer configure asking for leash 1.0 (must fail)")
execute_process(COMMAND "${CMAKE_COMMAND}" ${configure_args} -B "${CONSUMER_BINARY_DIR}-v1"
    -DLEASH_REQUESTED_VERSION=1.0
  RESULT_VARIABLE result OUTPUT_VARIABLE output ERROR_VARIABLE output TIMEOUT 120)
if(result EQUAL 0)
  message(FATAL_ERROR "find_package(leash 1.0) succeeded against leash in ${LEASH_PREFIX}")
endif()
if(NOT output MATCHES "leashConfig.cmake, version: ")
  message(FATAL_ERROR "find_package(leash 1.0) failed, but not for the version:\n${output}")
endif()
message(STATUS "find_package(leash 1.0) refused, as it must be")
