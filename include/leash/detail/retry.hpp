// The retry decision, without I/O: may a request that failed on a connection be sent again
// on another one, transparently?
#pragma once

#include <leash/headers.hpp>
#include <leash/request.hpp>

#include <string_view>

namespace leash::detail {

struct attempt_facts {
    bool connection_was_reused = false;   // the connection had carried a request before
    bool request_bytes_written = false;   // any byte of this request reached the socket
    bool response_bytes_received = false; // any byte of a response arrived
    bool body_skipped = false;            // a final response came before the body was sent
    bool body_source_read = false;        // bytes were taken from the request's body source
};

inline bool is_idempotent_method(std::string_view m) noexcept
{
    return m == "GET" || m == "HEAD" || m == "OPTIONS" || m == "TRACE" || m == "PUT" || m == "DELETE";
}

// A request is replayable when sending it twice is harmless: an idempotent method, an
// Idempotency-Key header, or the caller's explicit opt-in. (Bodies are held in memory, so
// every body can be sent again.)
inline bool is_replayable(std::string_view method, const headers& h, bool opted_in) noexcept
{
    return opted_in || is_idempotent_method(method) || h.contains("Idempotency-Key")
        || h.contains("X-Idempotency-Key");
}

// The one rule for sending a request again, used for a stale connection (the transport) and
// for a retry (the client): a body in memory goes again as it is; a body source that gave
// bytes away must start over from its first byte, so it needs `rewind`, which is called here.
// Without it the request cannot be sent again.
inline bool restart_body(const request& req, bool source_was_read)
{
    if (!req.source || !source_was_read)
        return true;
    return req.source->rewind && req.source->rewind();
}

// Only failures on a reused connection before any response byte are retried: a fresh
// connection's failure is the server's answer (retrying it could loop forever), and once a
// response started the server has acted on the request. Within that window, a request of
// which nothing was written is always safe to resend; otherwise it must be replayable.
inline bool should_retry(const attempt_facts& f, bool replayable) noexcept
{
    if (!f.connection_was_reused || f.response_bytes_received)
        return false;
    return !f.request_bytes_written || replayable;
}

} // namespace leash::detail
