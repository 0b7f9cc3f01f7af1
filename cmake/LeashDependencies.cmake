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
