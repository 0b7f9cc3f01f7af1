// The time limits of one request, decided before its I/O (request_policy.hpp) and enforced
// by its phase_timer. A plain value.
#pragma once

#include <leash/detail/pool_core.hpp>

namespace leash::detail {

// The time limits of one request: each phase's timeout and the total deadline.
struct phase_limits {
    clock::duration pool_wait{};
    clock::duration resolve{};
    clock::duration connect{};
    clock::duration tls_handshake{};
    clock::duration write{};
    clock::duration response_header{};
    clock::duration body_read{};
    clock::time_point deadline = clock::time_point::max();
};

} // namespace leash::detail
