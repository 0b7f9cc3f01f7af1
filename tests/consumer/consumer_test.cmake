# Registers the packaging tests. `consumer.fetchcontent`: configures, builds and runs
# tests/consumer, a separate project that pulls leash in with FetchContent as an application
# would. (The tests of an installed leash follow below.) The consumer uses
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

# With install rules (LEASH_INSTALL): `consumer.install` installs this build into a prefix under
# the build directory, once per ctest run (a fixture: the next two tests require it, whatever
# their order); `consumer.find_package` builds the application with find_package(leash) from
# that prefix, `consumer.pkg_config` with a plain compiler command line and pkg-config. Both run
# the application.
if(LEASH_INSTALL)
  set(_leash_install_prefix ${CMAKE_CURRENT_BINARY_DIR}/consumer-install)
  add_test(NAME consumer.install
    COMMAND ${CMAKE_COMMAND} -DLEASH_BINARY_DIR=${PROJECT_BINARY_DIR} -DINSTALL_PREFIX=${_leash_install_prefix}
      -DINSTALL_LIBDIR=${CMAKE_INSTALL_LIBDIR} "-DCONFIG=$<CONFIG>"
      -P ${CMAKE_CURRENT_LIST_DIR}/run_install.cmake)
  set_tests_properties(consumer.install PROPERTIES TIMEOUT 180 LABELS "packaging"
    FIXTURES_SETUP leash_installed)

  # What run_find_package.cmake is given besides its directories: this build's toolchain.
  set(_leash_find_package_args
    "-DCONSUMER_GENERATOR=${CMAKE_GENERATOR}"
    "-DCONSUMER_GENERATOR_PLATFORM=${CMAKE_GENERATOR_PLATFORM}"
    "-DCONSUMER_GENERATOR_TOOLSET=${CMAKE_GENERATOR_TOOLSET}"
    "-DCONSUMER_MAKE_PROGRAM=${CMAKE_MAKE_PROGRAM}"
    "-DCONSUMER_CXX_COMPILER=${CMAKE_CXX_COMPILER}"
    "-DCONSUMER_CXX_FLAGS=${CMAKE_CXX_FLAGS}"
    "-DCONSUMER_EXE_LINKER_FLAGS=${CMAKE_EXE_LINKER_FLAGS}"
    "-DCONSUMER_CONFIG=$<CONFIG>"
    "-DCONSUMER_OPENSSL_ROOT_DIR=${OPENSSL_ROOT_DIR}"
    "-DCONSUMER_PREFIX_PATH=${_leash_consumer_prefix_path}"
  )

  add_test(NAME consumer.find_package
    COMMAND ${CMAKE_COMMAND}
      -DCONSUMER_SOURCE_DIR=${CMAKE_CURRENT_LIST_DIR}/find_package
      -DCONSUMER_BINARY_DIR=${CMAKE_CURRENT_BINARY_DIR}/consumer-find-package
      -DLEASH_PREFIX=${_leash_install_prefix}
      ${_leash_find_package_args}
      -P ${CMAKE_CURRENT_LIST_DIR}/run_find_package.cmake)
  set_tests_properties(consumer.find_package PROPERTIES TIMEOUT 300 LABELS "packaging"
    FIXTURES_REQUIRED leash_installed)

  if(PKG_CONFIG_FOUND)
    string(TOUPPER "${CMAKE_BUILD_TYPE}" _leash_config)
    add_test(NAME consumer.pkg_config
      COMMAND ${CMAKE_COMMAND}
        -DCONSUMER_SOURCE=${CMAKE_CURRENT_LIST_DIR}/main.cpp
        -DCONSUMER_BINARY_DIR=${CMAKE_CURRENT_BINARY_DIR}/consumer-pkg-config
        -DPKG_CONFIG_DIR=${_leash_install_prefix}/${CMAKE_INSTALL_LIBDIR}/pkgconfig
        -DPKG_CONFIG=${PKG_CONFIG_EXECUTABLE}
        -DCXX=${CMAKE_CXX_COMPILER}
        "-DCXX_FLAGS=${CMAKE_CXX_FLAGS} ${CMAKE_CXX_FLAGS_${_leash_config}}"
        "-DLD_FLAGS=${CMAKE_EXE_LINKER_FLAGS} ${CMAKE_EXE_LINKER_FLAGS_${_leash_config}}"
        -P ${CMAKE_CURRENT_LIST_DIR}/run_pkg_config.cmake)
    set_tests_properties(consumer.pkg_config PROPERTIES TIMEOUT 300 LABELS "packaging"
      FIXTURES_REQUIRED leash_installed)
    unset(_leash_config)
  endif()

  # The Debian package (CPack, cmake/LeashInstall.cmake), unpacked, as the prefix of the
  # find_package consumer. (After `consumer.install`, which builds leash_llhttp, the one
  # thing installed that is built; and as both write the build directory's install_manifest.txt.)
  find_program(LEASH_DPKG_DEB dpkg-deb)
  mark_as_advanced(LEASH_DPKG_DEB)
  if(LEASH_DPKG_DEB AND LEASH_TOP_LEVEL)
    add_test(NAME consumer.deb
      COMMAND ${CMAKE_COMMAND}
        -DLEASH_BINARY_DIR=${PROJECT_BINARY_DIR}
        -DDEB_DIR=${CMAKE_CURRENT_BINARY_DIR}/consumer-deb
        -DCPACK=${CMAKE_CPACK_COMMAND}
        -DDPKG_DEB=${LEASH_DPKG_DEB}
        -DCONSUMER_SOURCE_DIR=${CMAKE_CURRENT_LIST_DIR}/find_package
        -DCONSUMER_BINARY_DIR=${CMAKE_CURRENT_BINARY_DIR}/consumer-deb/build
        ${_leash_find_package_args}
        -P ${CMAKE_CURRENT_LIST_DIR}/run_deb.cmake)
    set_tests_properties(consumer.deb PROPERTIES TIMEOUT 400 LABELS "packaging"
      FIXTURES_REQUIRED leash_installed DEPENDS consumer.install)
  endif()
  unset(_leash_install_prefix)
  unset(_leash_find_package_args)
endif()
unset(_leash_consumer_args)
unset(_leash_consumer_prefix_path)
