# cmake -P script behind the `consumer.fetchcontent` test (see consumer_test.cmake): configures
# tests/consumer in a fresh build directory with leash taken from LEASH_SOURCE_DIR, builds it
# and runs the application. Any failing step fails the test.

include(${CMAKE_CURRENT_LIST_DIR}/steps.cmake)
require_vars(CONSUMER_SOURCE_DIR CONSUMER_BINARY_DIR LEASH_SOURCE_DIR CONSUMER_GENERATOR)

# A stale cache (another compiler, other flags) must not leak into this run.
file(REMOVE_RECURSE "${CONSUMER_BINARY_DIR}")

set(configure_args
  -S "${CONSUMER_SOURCE_DIR}"
  -B "${CONSUMER_BINARY_DIR}"
  -G "${CONSUMER_GENERATOR}"
  "-DFETCHCONTENT_SOURCE_DIR_LEASH=${LEASH_SOURCE_DIR}"
  -DFETCHCONTENT_UPDATES_DISCONNECTED=ON)
if(CONSUMER_GENERATOR_PLATFORM)
  list(APPEND configure_args -A "${CONSUMER_GENERATOR_PLATFORM}")
endif()
if(CONSUMER_GENERATOR_TOOLSET)
  list(APPEND configure_args -T "${CONSUMER_GENERATOR_TOOLSET}")
endif()
if(CONSUMER_CONFIG)
  list(APPEND configure_args "-DCMAKE_BUILD_TYPE=${CONSUMER_CONFIG}")
endif()
# Forwarded only when set, so that the consumer's own defaults apply otherwise.
foreach(pair IN ITEMS
    "CMAKE_MAKE_PROGRAM=CONSUMER_MAKE_PROGRAM"
    "CMAKE_CXX_COMPILER=CONSUMER_CXX_COMPILER"
    "CMAKE_C_COMPILER=CONSUMER_C_COMPILER"
    "CMAKE_CXX_FLAGS=CONSUMER_CXX_FLAGS"
    "CMAKE_C_FLAGS=CONSUMER_C_FLAGS"
    "LEASH_ASIO_INCLUDE_DIR=CONSUMER_ASIO_INCLUDE_DIR"
    "LEASH_LLHTTP_INCLUDE_DIR=CONSUMER_LLHTTP_INCLUDE_DIR"
    "LEASH_LLHTTP_SOURCE_DIR=CONSUMER_LLHTTP_SOURCE_DIR"
    "OPENSSL_ROOT_DIR=CONSUMER_OPENSSL_ROOT_DIR")
  string(REPLACE "=" ";" pair "${pair}")
  list(GET pair 0 cache_var)
  list(GET pair 1 input_var)
  if(DEFINED ${input_var} AND NOT "${${input_var}}" STREQUAL "")
    list(APPEND configure_args "-D${cache_var}=${${input_var}}")
  endif()
endforeach()
if(CONSUMER_PREFIX_PATH)
  string(REPLACE "|" ";" prefix_path "${CONSUMER_PREFIX_PATH}")
  list(APPEND configure_args "-DCMAKE_PREFIX_PATH=${prefix_path}")
endif()

run_step(configure "${CMAKE_COMMAND}" ${configure_args})

set(build_args --build "${CONSUMER_BINARY_DIR}")
if(CONSUMER_CONFIG)
  list(APPEND build_args --config "${CONSUMER_CONFIG}")
endif()
run_step(build "${CMAKE_COMMAND}" ${build_args})

# Single-configuration generators put the program in the build directory, multi-configuration
# ones in a subdirectory per configuration.
set(app "")
foreach(candidate IN ITEMS
    "${CONSUMER_BINARY_DIR}/app"
    "${CONSUMER_BINARY_DIR}/${CONSUMER_CONFIG}/app"
    "${CONSUMER_BINARY_DIR}/app.exe"
    "${CONSUMER_BINARY_DIR}/${CONSUMER_CONFIG}/app.exe")
  if(NOT IS_DIRECTORY "${candidate}" AND EXISTS "${candidate}")
    set(app "${candidate}")
    break()
  endif()
endforeach()
if(NOT app)
  message(FATAL_ERROR "consumer build produced no 'app' program in ${CONSUMER_BINARY_DIR}")
endif()
run_step(run "${app}")
