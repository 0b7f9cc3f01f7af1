# Install rules, included from CMakeLists.txt when LEASH_INSTALL is ON (see docs/install.md):
#   include/leash/...                          the headers
#   include/leash/third_party/llhttp/llhttp.h   llhttp's header, apart from any system llhttp.h
#   include/leash/third_party/asio/...          Asio's headers, only when this build fetched Asio
#   lib/libleash_llhttp.a                       llhttp compiled (imported as leash::llhttp)
#   lib/libleash_compiled.a                     leash compiled once (leash::leash_compiled)
#   lib/cmake/leash/                            find_package(leash): leash::leash, leash::leash_compiled
#   lib/pkgconfig/leash.pc                      pkg-config --cflags --libs leash
include(GNUInstallDirs)
include(CMakePackageConfigHelpers)

set(LEASH_INSTALL_CMAKEDIR "${CMAKE_INSTALL_LIBDIR}/cmake/leash" CACHE STRING
  "Where leash's CMake package files are installed (relative to the prefix)")
set(LEASH_INSTALL_THIRD_PARTY_DIR "${CMAKE_INSTALL_INCLUDEDIR}/leash/third_party")

# --- llhttp: the static library built from its C sources, and its header ---
set_target_properties(leash_llhttp PROPERTIES EXPORT_NAME llhttp)
# (Not SYSTEM: CMake would export that relative path as is. Imported targets' include
# directories are system directories to their users anyway.)
target_include_directories(leash_llhttp PUBLIC $<INSTALL_INTERFACE:${LEASH_INSTALL_THIRD_PARTY_DIR}/llhttp>)
install(FILES "${LEASH_LLHTTP_INCLUDE_DIR}/llhttp.h" DESTINATION "${LEASH_INSTALL_THIRD_PARTY_DIR}/llhttp")

# --- Asio: leashConfig.cmake finds it again. An Asio inside this build or source tree (fetched)
# will not be there for the package's users: its headers are installed with leash. ---
set(LEASH_INSTALL_BUNDLES_ASIO OFF)
foreach(_leash_tree IN ITEMS "${CMAKE_BINARY_DIR}" "${PROJECT_SOURCE_DIR}" "${FETCHCONTENT_BASE_DIR}")
  if(_leash_tree)
    cmake_path(IS_PREFIX _leash_tree "${LEASH_ASIO_INCLUDE_DIR}" NORMALIZE _leash_inside)
    if(_leash_inside)
      set(LEASH_INSTALL_BUNDLES_ASIO ON)
    endif()
  endif()
endforeach()
if(LEASH_INSTALL_BUNDLES_ASIO)
  install(DIRECTORY "${LEASH_ASIO_INCLUDE_DIR}/" DESTINATION "${LEASH_INSTALL_THIRD_PARTY_DIR}/asio"
    FILES_MATCHING PATTERN "*.hpp" PATTERN "*.ipp")
endif()

# --- The targets. Another exported target is one more name in this list. ---
install(TARGETS leash leash_compiled leash_llhttp
  EXPORT leashTargets
  ARCHIVE DESTINATION ${CMAKE_INSTALL_LIBDIR}
  LIBRARY DESTINATION ${CMAKE_INSTALL_LIBDIR}
  RUNTIME DESTINATION ${CMAKE_INSTALL_BINDIR})
install(DIRECTORY "${PROJECT_SOURCE_DIR}/include/" DESTINATION ${CMAKE_INSTALL_INCLUDEDIR})
install(EXPORT leashTargets NAMESPACE leash:: DESTINATION ${LEASH_INSTALL_CMAKEDIR})

# --- The CMake package: leashConfig.cmake, leashConfigVersion.cmake ---
# What leashConfig.cmake is told about this build: where Asio was (a hint), whether brotli and
# zstd are used, and where they were (hints only: the config searches for them again).
set(LEASH_CONFIG_ASIO_HINT "${LEASH_ASIO_INCLUDE_DIR}")
if(LEASH_INSTALL_BUNDLES_ASIO)
  set(LEASH_CONFIG_ASIO_HINT "")
endif()
foreach(_leash_codec IN ITEMS brotli zstd)
  string(TOUPPER ${_leash_codec} _leash_upper)
  set(LEASH_CONFIG_${_leash_upper}_INCLUDE_HINTS "")
  set(LEASH_CONFIG_${_leash_upper}_LIBRARY_HINTS "")
  if(LEASH_HAS_${_leash_upper})
    get_target_property(_leash_dirs leash_${_leash_codec} INTERFACE_INCLUDE_DIRECTORIES)
    get_target_property(_leash_libs leash_${_leash_codec} INTERFACE_LINK_LIBRARIES)
    foreach(_leash_lib IN LISTS _leash_libs)
      if(IS_ABSOLUTE "${_leash_lib}")
        get_filename_component(_leash_lib "${_leash_lib}" DIRECTORY)
        list(APPEND LEASH_CONFIG_${_leash_upper}_LIBRARY_HINTS "${_leash_lib}")
      endif()
    endforeach()
    if(_leash_dirs)
      set(LEASH_CONFIG_${_leash_upper}_INCLUDE_HINTS "${_leash_dirs}")
    endif()
  endif()
endforeach()
configure_package_config_file(
  "${PROJECT_SOURCE_DIR}/cmake/leashConfig.cmake.in"
  "${PROJECT_BINARY_DIR}/leashConfig.cmake"
  INSTALL_DESTINATION ${LEASH_INSTALL_CMAKEDIR}
  PATH_VARS LEASH_INSTALL_THIRD_PARTY_DIR)
write_basic_package_version_file("${PROJECT_BINARY_DIR}/leashConfigVersion.cmake"
  VERSION ${PROJECT_VERSION}
  COMPATIBILITY SameMajorVersion)
install(FILES "${PROJECT_BINARY_DIR}/leashConfig.cmake" "${PROJECT_BINARY_DIR}/leashConfigVersion.cmake"
  DESTINATION ${LEASH_INSTALL_CMAKEDIR})

# --- leash.pc ---
# Relocatable: the prefix is found from the .pc file's own place (pkg-config's ${pcfiledir}).
set(_leash_pc_dir "${CMAKE_INSTALL_LIBDIR}/pkgconfig")
if(IS_ABSOLUTE "${_leash_pc_dir}")
  set(LEASH_PC_PREFIX "${CMAKE_INSTALL_PREFIX}")
else()
  file(RELATIVE_PATH _leash_up "/leash-prefix/${_leash_pc_dir}" "/leash-prefix")
  string(REGEX REPLACE "/$" "" _leash_up "${_leash_up}")
  set(LEASH_PC_PREFIX "\${pcfiledir}/${_leash_up}")
endif()
foreach(_leash_dir IN ITEMS INCLUDEDIR LIBDIR)
  if(IS_ABSOLUTE "${CMAKE_INSTALL_${_leash_dir}}")
    set(LEASH_PC_${_leash_dir} "${CMAKE_INSTALL_${_leash_dir}}")
  else()
    set(LEASH_PC_${_leash_dir} "\${prefix}/${CMAKE_INSTALL_${_leash_dir}}")
  endif()
endforeach()

# Cflags: the include directories and leash::leash's compile definitions. The definitions
# that CMake gives clang only (ASIO_HAS_CO_AWAIT, ASIO_HAS_STD_COROUTINE) are given to every
# compiler here: they say what Asio itself concludes under g++ -std=c++20.
set(LEASH_PC_CFLAGS "-I\${includedir}/leash/third_party/llhttp")
if(LEASH_INSTALL_BUNDLES_ASIO)
  string(APPEND LEASH_PC_CFLAGS " -isystem \${includedir}/leash/third_party/asio")
elseif(NOT LEASH_ASIO_INCLUDE_DIR IN_LIST CMAKE_CXX_IMPLICIT_INCLUDE_DIRECTORIES)
  # Asio lies outside the compiler's own search path: users need its place as found here.
  string(APPEND LEASH_PC_CFLAGS " -isystem ${LEASH_ASIO_INCLUDE_DIR}")
endif()
get_target_property(_leash_definitions leash INTERFACE_COMPILE_DEFINITIONS)
foreach(_leash_definition IN LISTS _leash_definitions)
  if(_leash_definition MATCHES [[^\$<\$<CXX_COMPILER_ID:Clang>:(.*)>$]])
    set(_leash_definition "${CMAKE_MATCH_1}")
  elseif(_leash_definition MATCHES [[\$<]])
    message(FATAL_ERROR "cmake/LeashInstall.cmake: no leash.pc form for the definition ${_leash_definition}")
  endif()
  string(APPEND LEASH_PC_CFLAGS " -D${_leash_definition}")
endforeach()

# Libs and Requires: a library goes to Requires when pkg-config knows a module for it.
set(LEASH_PC_REQUIRES "")
set(LEASH_PC_LIBS "")
set(_leash_pc_modules "openssl >= 1.1.1|-lssl -lcrypto" "zlib|-lz")
if(LEASH_HAS_BROTLI)
  list(APPEND _leash_pc_modules "libbrotlidec|-lbrotlidec")
endif()
if(LEASH_HAS_ZSTD)
  list(APPEND _leash_pc_modules "libzstd|-lzstd")
endif()
foreach(_leash_entry IN LISTS _leash_pc_modules)
  string(REGEX MATCH "^([^|]*)[|](.*)$" _leash_entry "${_leash_entry}")
  set(_leash_module "${CMAKE_MATCH_1}")
  set(_leash_flags "${CMAKE_MATCH_2}")
  string(REGEX REPLACE " .*" "" _leash_name "${_leash_module}")
  set(_leash_known OFF)
  if(PKG_CONFIG_FOUND)
    pkg_check_modules(LEASH_PC_CHECK_${_leash_name} QUIET "${_leash_module}")
    set(_leash_known ${LEASH_PC_CHECK_${_leash_name}_FOUND})
  endif()
  if(_leash_known)
    list(APPEND LEASH_PC_REQUIRES "${_leash_module}")
  else()
    string(APPEND LEASH_PC_LIBS " ${_leash_flags}")
  endif()
endforeach()
list(JOIN LEASH_PC_REQUIRES ", " LEASH_PC_REQUIRES)
configure_file("${PROJECT_SOURCE_DIR}/cmake/leash.pc.in" "${PROJECT_BINARY_DIR}/leash.pc" @ONLY)
install(FILES "${PROJECT_BINARY_DIR}/leash.pc" DESTINATION "${_leash_pc_dir}")

# --- A Debian package of the installed tree, libleash-dev (`cpack` in the build directory).
# Only for the top-level project: CPack's settings are global. ---
if(LEASH_TOP_LEVEL)
  set(CPACK_GENERATOR DEB)
  set(CPACK_PACKAGE_NAME libleash-dev)
  set(CPACK_PACKAGE_VERSION ${PROJECT_VERSION})
  set(CPACK_PACKAGE_CONTACT "leash maintainers")
  set(CPACK_PACKAGE_DESCRIPTION_SUMMARY
    "header-only C++20 HTTP/1.1 client library on standalone Asio, OpenSSL and llhttp")
  set(CPACK_PACKAGING_INSTALL_PREFIX /usr)
  set(CPACK_DEBIAN_FILE_NAME DEB-DEFAULT)
  set(CPACK_DEBIAN_PACKAGE_SECTION libdevel)
  set(_leash_depends "libssl-dev" "zlib1g-dev")
  if(NOT LEASH_INSTALL_BUNDLES_ASIO)
    list(APPEND _leash_depends "libasio-dev")
  endif()
  if(LEASH_HAS_BROTLI)
    list(APPEND _leash_depends "libbrotli-dev")
  endif()
  if(LEASH_HAS_ZSTD)
    list(APPEND _leash_depends "libzstd-dev")
  endif()
  list(JOIN _leash_depends ", " CPACK_DEBIAN_PACKAGE_DEPENDS)
  include(CPack)
  unset(_leash_depends)
endif()

foreach(_leash_var IN ITEMS tree inside codec upper dirs libs lib pc_dir up dir definitions definition
    pc_modules entry module flags name known)
  unset(_leash_${_leash_var})
endforeach()
