// leash/response.hpp - what came back: the final status, the head's fields, and the body.
//
// Interim 1xx responses are consumed by the transport and never appear here. The body owns
// the connection until it is read to its end, closed or destroyed (see leash/body.hpp).
#pragma once

#include <leash/body.hpp>
#include <leash/headers.hpp>

#include <string>

namespace leash {

struct response {
    int status = 0;
    std::string reason;
    int version_major = 1;
    int version_minor = 1;
    leash::headers headers;
    leash::body body;
};

} // namespace leash
