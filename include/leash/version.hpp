/// \file
/// leash/version.hpp - the version of leash these headers are, as macros usable in `#if`.
///
/// LEASH_VERSION_MAJOR, _MINOR and _PATCH are integers, LEASH_VERSION_STRING is
/// "MAJOR.MINOR.PATCH" (a string literal, so "leash/" LEASH_VERSION_STRING concatenates).
/// This file is the single source of the version number: the CMake project reads it, and the
/// installed package (leashConfigVersion.cmake, leash.pc) reports the same. Within one major
/// version, installed packages are compatible with code written against an earlier minor.
#pragma once

/// The major version, an integer.
#define LEASH_VERSION_MAJOR 0
/// The minor version, an integer: compatible with code written against an earlier minor of
/// the same major.
#define LEASH_VERSION_MINOR 2
/// The patch version, an integer.
#define LEASH_VERSION_PATCH 0
/// "MAJOR.MINOR.PATCH", a string literal.
#define LEASH_VERSION_STRING "0.2.0"
