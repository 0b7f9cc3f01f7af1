# cmake -P script behind the `consumer.install` test (see consumer_test.cmake): installs the
# build tree LEASH_BINARY_DIR into INSTALL_PREFIX, emptied first, as `cmake --install` does for
# a user. The `consumer.find_package` and `consumer.pkg_config` tests use that prefix.

include(${CMAKE_CURRENT_LIST_DIR}/steps.cmake)
require_vars(LEASH_BINARY_DIR INSTALL_PREFIX)

set(config_args "")
if(CONFIG)
  set(config_args --config "${CONFIG}")
endif()

# What is installed must exist: the llhttp and leash_compiled libraries (normally built already).
run_step(build "${CMAKE_COMMAND}" --build "${LEASH_BINARY_DIR}" --target leash_llhttp leash_compiled ${config_args})

# A fresh prefix every time, so nothing of an earlier run (or an earlier version) is found.
file(REMOVE_RECURSE "${INSTALL_PREFIX}")
run_step(install "${CMAKE_COMMAND}" --install "${LEASH_BINARY_DIR}" --prefix "${INSTALL_PREFIX}" ${config_args})

foreach(file IN ITEMS include/leash/leash.hpp include/leash/version.hpp
    include/leash/third_party/llhttp/llhttp.h
    "${INSTALL_LIBDIR}/libleash_llhttp.a"
    "${INSTALL_LIBDIR}/libleash_compiled.a"
    "${INSTALL_LIBDIR}/cmake/leash/leashConfig.cmake"
    "${INSTALL_LIBDIR}/cmake/leash/leashConfigVersion.cmake"
    "${INSTALL_LIBDIR}/cmake/leash/leashTargets.cmake"
    "${INSTALL_LIBDIR}/pkgconfig/leash.pc")
  if(NOT EXISTS "${INSTALL_PREFIX}/${file}")
    message(FATAL_ERROR "the installed tree lacks ${file}")
  endif()
endforeach()
