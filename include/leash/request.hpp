// leash/request.hpp - what to send.
//
// A request is a plain value: method, absolute URL, header fields and a body held in memory
// (so it can be sent again on a retry). The transport adds Host, Content-Length (when there
// is a body or the method usually carries one) and User-Agent unless they are set, and
// validates everything before any I/O: a bad URL or method fails with its own error code.
#pragma once

#include <leash/headers.hpp>

#include <chrono>
#include <string>

namespace leash {

struct request {
    std::string method = "GET";
    std::string url;          // absolute: "http://host[:port]/path?query"
    leash::headers headers;
    std::string body;

    // Allows a transparent retry on a fresh connection after a reused connection failed
    // before any response byte, even though the method is not idempotent. GET, HEAD,
    // OPTIONS, TRACE, PUT, DELETE and requests carrying an Idempotency-Key header qualify
    // without it.
    bool replayable = false;

    // Overrides transport_options::request_timeout for this request when non-zero:
    // a deadline for the whole exchange, from async_send until the body's end.
    std::chrono::milliseconds timeout{0};

    static request get(std::string url) { return {"GET", std::move(url), {}, {}}; }
    static request head(std::string url) { return {"HEAD", std::move(url), {}, {}}; }
    static request post(std::string url, std::string body,
                        std::string_view content_type = "application/json")
    {
        request r{"POST", std::move(url), {}, std::move(body)};
        r.headers.set("Content-Type", content_type);
        return r;
    }
};

} // namespace leash
