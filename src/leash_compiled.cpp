// The unit that holds leash's machinery for the CMake target leash::leash_compiled (separate
// compilation: see leash/src.hpp).
#include <leash/src.hpp>
