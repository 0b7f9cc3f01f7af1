// How leash's non-template machinery is compiled.
//
// Header-only (the default): every definition is in the headers, `inline`, and each unit that
// includes them compiles what it uses.
//
// Separate compilation (LEASH_SEPARATE_COMPILATION defined in every unit of the program, as
// the CMake target leash::leash_compiled does): the headers only declare the machinery (the
// transport, bodies, the client, SSE readers, multipart forms), and exactly one unit of the
// program includes <leash/src.hpp>, which defines it. Units that include leash then compile in
// a fraction of the time.
#pragma once

#if defined(LEASH_SEPARATE_COMPILATION)
#define LEASH_DECL
#else
#define LEASH_HEADER_ONLY 1
#define LEASH_DECL inline
#endif
