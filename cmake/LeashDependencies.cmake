# Finds leash's dependencies: system packages first (on Debian: libasio-dev, libssl-dev,
# node-llhttp, catch2), else the upstream release through FetchContent.
include(FetchContent)

find_package(Threads REQUIRED)
find_package(OpenSSL 1.1.1 REQUIRED)

# --- Asio (standalone, header-only) ---
if(NOT TARGET leash_asio)
  find_path(LEASH_ASIO_INCLUDE_DIR asio.hpp)
  if(NOT LEASH_ASIO_INCLUDE_DIR)
    message(STATUS "leash: Asio not found on the system, fetching asio 1.28.0")
    FetchContent_Declare(leash_asio_src
      URL https://github.com/chriskohlhoff/asio/archive/refs/tags/asio-1-28-0.tar.gz)
    FetchContent_MakeAvailable(leash_asio_src)
    set(LEASH_ASIO_INCLUDE_DIR ${leash_asio_src_SOURCE_DIR}/asio/include CACHE PATH "" FORCE)
  endif()
  add_library(leash_asio INTERFACE)
  target_include_directories(leash_asio SYSTEM INTERFACE ${LEASH_ASIO_INCLUDE_DIR})
endif()

# --- llhttp (C sources compiled into a small static library) ---
if(NOT TARGET leash_llhttp)
  find_path(LEASH_LLHTTP_INCLUDE_DIR llhttp.h
    PATHS /usr/share/include/llhttp /usr/include/llhttp /usr/local/include/llhttp)
  find_path(LEASH_LLHTTP_SOURCE_DIR llhttp.c
    PATHS /usr/share/llhttp /usr/local/share/llhttp NO_DEFAULT_PATH)
  if(NOT LEASH_LLHTTP_INCLUDE_DIR OR NOT LEASH_LLHTTP_SOURCE_DIR)
    message(STATUS "leash: llhttp sources not found on the system, fetching llhttp 8.1.0")
    FetchContent_Declare(leash_llhttp_src
      URL https://github.com/nodejs/llhttp/archive/refs/tags/release/v8.1.0.tar.gz)
    FetchContent_GetProperties(leash_llhttp_src)
    if(NOT leash_llhttp_src_POPULATED)
      FetchContent_Populate(leash_llhttp_src)
    endif()
    set(LEASH_LLHTTP_INCLUDE_DIR ${leash_llhttp_src_SOURCE_DIR}/include CACHE PATH "" FORCE)
    set(LEASH_LLHTTP_SOURCE_DIR ${leash_llhttp_src_SOURCE_DIR}/src CACHE PATH "" FORCE)
  endif()
  add_library(leash_llhttp STATIC
    ${LEASH_LLHTTP_SOURCE_DIR}/api.c
    ${LEASH_LLHTTP_SOURCE_DIR}/http.c
    ${LEASH_LLHTTP_SOURCE_DIR}/llhttp.c)
  target_include_directories(leash_llhttp SYSTEM PUBLIC $<BUILD_INTERFACE:${LEASH_LLHTTP_INCLUDE_DIR}>)
  set_target_properties(leash_llhttp PROPERTIES POSITION_INDEPENDENT_CODE ON C_STANDARD 99)
  # Generated C: the project's warning flags do not apply to it.
  target_compile_options(leash_llhttp PRIVATE -w)
endif()

# --- Catch2 2.x, for the tests only ---
macro(leash_find_catch2)
  if(NOT TARGET Catch2::Catch2)
    find_package(Catch2 2 QUIET CONFIG)
    if(Catch2_FOUND)
      list(APPEND CMAKE_MODULE_PATH ${Catch2_DIR})
    else()
      message(STATUS "leash: Catch2 2.x not found on the system, fetching Catch2 2.13.10")
      FetchContent_Declare(leash_catch2_src
        URL https://github.com/catchorg/Catch2/archive/refs/tags/v2.13.10.tar.gz)
      FetchContent_MakeAvailable(leash_catch2_src)
      list(APPEND CMAKE_MODULE_PATH ${leash_catch2_src_SOURCE_DIR}/contrib)
    endif()
  endif()
endmacro()

# --- Content codings of response bodies (include/leash/detail/content_decoder.hpp) ---
# gzip and deflate with zlib, always; br with libbrotlidec and zstd with libzstd as
# LEASH_WITH_BROTLI and LEASH_WITH_ZSTD say (AUTO: when found; ON: required; OFF: never).
# Defines LEASH_HAS_BROTLI / LEASH_HAS_ZSTD (true when used) and, when used, the targets
# leash_brotli / leash_zstd; leash_test_codecs holds the encoders the tests make data with.
find_package(ZLIB REQUIRED)
find_package(PkgConfig QUIET)

# leash_find_codec(<name> <option> <pkg-config module> <header> <library>): defines the
# INTERFACE target leash_<name> when the library is wanted and found, and sets
# LEASH_HAS_<NAME> to whether it was.
function(leash_find_codec name option module header library)
  string(TOUPPER "${name}" upper)
  string(TOUPPER "${${option}}" choice)
  set(LEASH_HAS_${upper} OFF PARENT_SCOPE)
  if(NOT choice STREQUAL "AUTO" AND NOT choice)
    return()
  endif()
  if(NOT TARGET leash_${name})
    leash_locate_library(${name} ${module} ${header} ${library})
    if(NOT LEASH_${upper}_LIBRARIES)
      if(NOT choice STREQUAL "AUTO")
        message(FATAL_ERROR "leash: ${option} is ${${option}} but ${library} was not found "
          "(on Debian: apt-get install ${ARGN})")
      endif()
      return()
    endif()
    add_library(leash_${name} INTERFACE)
    target_include_directories(leash_${name} SYSTEM INTERFACE ${LEASH_${upper}_INCLUDE_DIRS})
    target_link_libraries(leash_${name} INTERFACE ${LEASH_${upper}_LIBRARIES})
  endif()
  set(LEASH_HAS_${upper} ON PARENT_SCOPE)
endfunction()

# Sets LEASH_<NAME>_LIBRARIES and LEASH_<NAME>_INCLUDE_DIRS in the caller: from pkg-config's
# <module> when it knows it, else where <header> and the library <library> are found.
macro(leash_locate_library name module header library)
  string(TOUPPER "${name}" _leash_upper)
  if(PKG_CONFIG_FOUND)
    pkg_check_modules(LEASH_PC_${_leash_upper} QUIET ${module})
  endif()
  if(LEASH_PC_${_leash_upper}_FOUND AND LEASH_PC_${_leash_upper}_LINK_LIBRARIES)
    set(LEASH_${_leash_upper}_LIBRARIES ${LEASH_PC_${_leash_upper}_LINK_LIBRARIES})
    set(LEASH_${_leash_upper}_INCLUDE_DIRS ${LEASH_PC_${_leash_upper}_INCLUDE_DIRS})
  else()
    find_path(LEASH_${_leash_upper}_INCLUDE_DIR ${header})
    find_library(LEASH_${_leash_upper}_LIBRARY ${library})
    set(LEASH_${_leash_upper}_LIBRARIES "")
    if(LEASH_${_leash_upper}_INCLUDE_DIR AND LEASH_${_leash_upper}_LIBRARY)
      set(LEASH_${_leash_upper}_LIBRARIES ${LEASH_${_leash_upper}_LIBRARY})
      set(LEASH_${_leash_upper}_INCLUDE_DIRS ${LEASH_${_leash_upper}_INCLUDE_DIR})
    endif()
  endif()
endmacro()

leash_find_codec(brotli LEASH_WITH_BROTLI libbrotlidec brotli/decode.h brotlidec libbrotli-dev)
leash_find_codec(zstd LEASH_WITH_ZSTD libzstd zstd.h zstd libzstd-dev)

# The encoders the tests make coded data with: zlib's and zstd's are in the libraries above,
# brotli's in libbrotlienc (without it, the tests of br are left out).
if(NOT TARGET leash_test_codecs)
  add_library(leash_test_codecs INTERFACE)
  if(LEASH_HAS_BROTLI)
    leash_locate_library(brotlienc libbrotlienc brotli/encode.h brotlienc)
    if(LEASH_BROTLIENC_LIBRARIES)
      target_include_directories(leash_test_codecs SYSTEM INTERFACE ${LEASH_BROTLIENC_INCLUDE_DIRS})
      target_link_libraries(leash_test_codecs INTERFACE ${LEASH_BROTLIENC_LIBRARIES})
    else()
      target_compile_definitions(leash_test_codecs INTERFACE LEASH_TEST_NO_BROTLI_ENCODER=1)
    endif()
  endif()
endif()

set(_leash_codings "gzip, deflate")
if(LEASH_HAS_BROTLI)
  string(APPEND _leash_codings ", br")
endif()
if(LEASH_HAS_ZSTD)
  string(APPEND _leash_codings ", zstd")
endif()
message(STATUS "leash: response bodies decoded from content codings ${_leash_codings}")
unset(_leash_codings)
