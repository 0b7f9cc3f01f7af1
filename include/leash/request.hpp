/// \file
/// leash/request.hpp - what to send.
#pragma once

#include <leash/body_source.hpp>
#include <leash/headers.hpp>
#include <leash/trace.hpp>

#include <chrono>
#include <memory>
#include <optional>
#include <string>

namespace leash {

/// Per-request overrides of transport_options' timeouts; an empty field keeps the transport's.
struct request_timeouts {
    /// Overrides transport_options::pool_wait_timeout.
    std::optional<std::chrono::milliseconds> pool_wait;
    /// Overrides transport_options::resolve_timeout.
    std::optional<std::chrono::milliseconds> resolve;
    std::optional<std::chrono::milliseconds> connect;  ///< per address tried (overrides transport_options::connect_timeout)
    /// Overrides transport_options::tls_handshake_timeout.
    std::optional<std::chrono::milliseconds> tls_handshake;
    /// Overrides transport_options::write_timeout.
    std::optional<std::chrono::milliseconds> write;
    /// Overrides transport_options::response_header_timeout.
    std::optional<std::chrono::milliseconds> response_header;
    /// Overrides transport_options::body_read_timeout.
    std::optional<std::chrono::milliseconds> body_read;
    /// Total deadline, from async_send until the body's end; zero = off.
    std::optional<std::chrono::milliseconds> total;
};

/// What to send.
///
/// A request is a plain value: method, absolute URL, header fields and a body held in memory
/// (so it can be sent again on a retry). The transport adds Host, Content-Length (when there
/// is a body or the method usually carries one) and User-Agent unless they are set, and
/// validates everything before any I/O: a bad URL or method fails with its own error code.
///
/// \errors
/// error::invalid_url (or the url_* code that says why), error::unsupported_scheme,
/// error::invalid_method, error::invalid_header_name, error::invalid_header_value and
/// error::invalid_request_body, all before any I/O (condition::invalid_request).
struct request {
    /// The method, an RFC 9110 token such as "GET" or "POST".
    std::string method = "GET";
    std::string url;          ///< absolute: "http://host[:port]/path?query"
    /// The header fields sent (the transport adds Host, Content-Length and User-Agent).
    leash::headers headers;
    /// The body, held in memory so that it can be sent again.
    std::string body;
    /// Instead of `body`: a body produced while it is sent (see leash/body_source.hpp).
    std::optional<body_source> source;

    /// Allows a transparent retry on a fresh connection after a reused connection failed
    /// before any response byte, even though the method is not idempotent. GET, HEAD,
    /// OPTIONS, TRACE, PUT, DELETE and requests carrying an Idempotency-Key header qualify
    /// without it.
    bool replayable = false;

    // "Expect: 100-continue" among the headers makes the transport send the head first and
    // the body only after the server's 100 Continue (or transport_options::
    // expect_continue_timeout without an answer); a final response instead means the body is
    // not sent, and the connection is not reused.

    /// Ask for a compressed response and decode it (see leash/decoding_options.hpp); empty
    /// keeps the transport's transport_options::decoding.decompress.
    std::optional<bool> decompress;

    /// Timeouts of this request that differ from the transport's.
    request_timeouts timeouts;

    /// Hooks for this request only, called after the transport's (see leash/trace.hpp).
    std::shared_ptr<const trace_hooks> trace;

    /// A GET of `url`.
    static request get(std::string url) { return make("GET", std::move(url)); }
    /// A HEAD of `url`.
    static request head(std::string url) { return make("HEAD", std::move(url)); }
    /// A POST of `body` to `url`, with the Content-Type field set to `content_type`.
    static request post(std::string url, std::string body, std::string_view content_type = "application/json")
    {
        request r = make("POST", std::move(url));
        r.body = std::move(body);
        r.headers.set("Content-Type", content_type);
        return r;
    }

private:
    static request make(std::string method, std::string url)
    {
        request r;
        r.method = std::move(method);
        r.url = std::move(url);
        return r;
    }
};

} // namespace leash
