// The stress tests' server: a reply chosen by the target, of each framing and pace.
#pragma once

#include <support/test_server.hpp>

#include <chrono>
#include <string>

namespace leash::test {

// /small, /chunked, /large (64 KiB), /slow (after 2 ms), /trickle (4 KiB in pieces a
// millisecond apart, so that reads are in flight for a while); anything else: 204.
inline reply varied(const received_request& req)
{
    const auto& t = req.target;
    if (t == "/small")
        return reply::ok("small");
    if (t == "/chunked")
        return reply::chunked({"a", std::string(3000, 'b'), "c"});
    if (t == "/large")
        return reply::ok(std::string(64 * 1024, 'l'));
    if (t == "/slow")
        return reply::ok("slow").delay(std::chrono::milliseconds(2));
    if (t == "/trickle") {  // a body that takes a few milliseconds: reads are in flight for a while
        reply r = reply::raw("HTTP/1.1 200 OK\r\nContent-Length: 4096\r\n\r\n");
        for (int i = 0; i < 4; ++i)
            r.piece(std::chrono::milliseconds(1), std::string(1024, 't'));
        return r;
    }
    return reply::status(204);
}

} // namespace leash::test
