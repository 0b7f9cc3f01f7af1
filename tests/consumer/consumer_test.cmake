# Registers `consumer.fetchcontent`: configures, builds and runs tests/consumer, a separate
# project that pulls leash in with FetchContent as an application would. The consumer uses
# this checkout (FETCHCONTENT_SOURCE_DIR_LEASH), the same toolchain and flags, and never
# touches the network. Included from tests/CMakeLists.txt.

set(_leash_consumer_args
  -DCONSUMER_SOURCE_DIR=${CMAKE_CURRENT_LIST_DIR}
  -DCONSUMER_BINARY_DIR=${CMAKE_CURRENT_BINARY_DIR}/consumer-build
  -DLEASH_SOURCE_DIR=${PROJECT_SOURCE_DIR}
  "-DCONSUMER_GENERATOR=${CMAKE_GENERATOR}"
  "-DCONSUMER_GENERATOR_PLATFORM=${CMAKE_GENERATOR_PLATFORM}"
  "-DCONSUMER_GENERATOR_TOOLSET=${CMAKE_GENERATOR_TOOLSET}"
  "-DCONSUMER_MAKE_PROGRAM=${CMAKE_MAKE_PROGRAM}"
  "-DCONSUMER_CXX_COMPILER=${CMAKE_CXX_COMPILER}"
  "-DCONSUMER_C_COMPILER=${CMAKE_C_COMPILER}"
  "-DCONSUMER_CXX_FLAGS=${CMAKE_CXX_FLAGS}"
  "-DCONSUMER_C_FLAGS=${CMAKE_C_FLAGS}"
  "-DCONSUMER_CONFIG=$<CONFIG>"
  # Dependencies leash located (or fetched) for this build, so the consumer finds the same.
  "-DCONSUMER_ASIO_INCLUDE_DIR=${LEASH_ASIO_INCLUDE_DIR}"
  "-DCONSUMER_LLHTTP_INCLUDE_DIR=${LEASH_LLHTTP_INCLUDE_DIR}"
  "-DCONSUMER_LLHTTP_SOURCE_DIR=${LEASH_LLHTTP_SOURCE_DIR}"
  "-DCONSUMER_OPENSSL_ROOT_DIR=${OPENSSL_ROOT_DIR}")
string(REPLACE ";" "|" _leash_consumer_prefix_path "${CMAKE_PREFIX_PATH}")
list(APPEND _leash_consumer_args "-DCONSUMER_PREFIX_PATH=${_leash_consumer_prefix_path}")

add_test(NAME consumer.fetchcontent
  COMMAND ${CMAKE_COMMAND} ${_leash_consumer_args} -P ${CMAKE_CURRENT_LIST_DIR}/run_consumer.cmake)
set_tests_properties(consumer.fetchcontent PROPERTIES TIMEOUT 300 LABELS "packaging")
unset(_leash_consumer_args)
unset(_leash_consumer_prefix_path)
