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
append_configure_args(configure_args
  "CMAKE_MAKE_PROGRAM=CONSUMER_MAKE_PROGRAM"
  "CMAKE_CXX_COMPILER=CONSUMER_CXX_COMPILER"
  "CMAKE_C_COMPILER=CONSUMER_C_COMPILER"
  "CMAKE_CXX_FLAGS=CONSUMER_CXX_FLAGS"
  "CMAKE_C_FLAGS=CONSUMER_C_FLAGS"
  "LEASH_ASIO_INCLUDE_DIR=CONSUMER_ASIO_INCLUDE_DIR"
  "LEASH_LLHTTP_INCLUDE_DIR=CONSUMER_LLHTTP_INCLUDE_DIR"
  "LEASH_LLHTTP_SOURCE_DIR=CONSUMER_LLHTTP_SOURCE_DIR"
  "OPENSSL_ROOT_DIR=CONSUMER_OPENSSL_ROOT_DIR")
if(CONSUMER_PREFIX_PATH)
  string(REPLACE "|" ";" prefix_path "${CONSUMER_PREFIX_PATH}")
  list(APPEND configure_args "-DCMAKE_PREFIX_PATH=${prefix_path}")
endif()

run_step(configure "${CMAKE_COMMAND}" ${configure_args})

build_and_run(app)
