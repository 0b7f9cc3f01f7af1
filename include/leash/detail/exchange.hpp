// One request on one connection, up to the final response head: writes the request head and
// body (as it is, or from a body source, waiting for 100 Continue when asked), then reads and
// parses until the final head is complete. Free operations on a connection the caller holds;
// they run on the caller's strand and report what happened in attempt_facts and an error code.
//
// parse_buffered() is the one step that feeds received bytes to the parser, used here for the
// head and by the body (detail/impl/body_core.ipp) for everything after it.
#pragma once

#include <leash/detail/config.hpp>
#include <leash/detail/connection.hpp>
#include <leash/detail/retry.hpp>
#include <leash/detail/tracer.hpp>
#include <leash/error.hpp>
#include <leash/request.hpp>
#include <leash/transport_options.hpp>

#include <asio.hpp>

#include <algorithm>
#include <array>
#include <cstdio>
#include <span>
#include <system_error>

namespace leash::detail {

inline bool is_canceled(const asio::cancellation_state& s)
{
    return s.cancelled() != asio::cancellation_type::none;
}

// Whether the operation was canceled; if so, sets ec to operation_aborted.
inline bool is_canceled_now(const asio::cancellation_state& s, std::error_code& ec)
{
    if (!is_canceled(s))
        return false;
    ec = asio::error::operation_aborted;
    return true;
}

// Feeds the connection's buffered bytes to the parser until `reached(parser)` holds. Returns
// true once it does; false when every buffered byte is parsed and more must be read, or with
// `ec` set on a protocol error. (The parser stops by itself at the end of the final head,
// after each body piece and at the end of the message; a step without input may still end a
// message.)
template <class Reached>
bool parse_buffered(connection& c, Reached reached, std::error_code& ec)
{
    while (!reached(c.parser)) {
        const auto available = c.buffered_size();
        const auto used = c.parser.feed(c.buffered_data(), available, ec);
        c.consume(used);
        if (ec)
            return false;
        if (reached(c.parser))
            return true;
        if (available == 0)
            return false;
        if (used == 0) {  // cannot happen: the parser only stops where `reached` holds
            ec = error::malformed_response;
            return false;
        }
    }
    return true;
}

// What the body reader waits for: a piece of body, or the end of the message.
inline bool body_piece_or_end(const response_parser& p) noexcept
{
    return p.has_body() || p.message_done();
}

// Reads and parses until the final head is complete (or, with stop_at_interim, until an
// interim response such as 100 Continue arrived).
LEASH_DECL asio::awaitable<std::error_code> read_head(connection& c, bool stop_at_interim, attempt_facts& facts,
                                                      const request_trace& trace);

// Writes `data` whole, under the write timeout.
LEASH_DECL asio::awaitable<std::error_code> write_buffers(connection& c, std::span<const asio::const_buffer> data,
                                                          const phase_limits& limits, attempt_facts& facts);

// Sends a body source: its pieces as they come, as they are (Content-Length) or as chunks.
LEASH_DECL asio::awaitable<std::error_code> write_source(connection& c, const body_source& src,
                                                         const phase_limits& limits, attempt_facts& facts);

// How one request goes out on one connection.
struct exchange_plan {
    const request& req;
    const transport_options& options;
    const phase_limits& limits;
    const request_trace& trace;
    bool has_body = false;
    bool expect_continue = false;  // the body waits for 100 Continue
    bool body_with_head = false;   // the body (in memory) goes out with the head

    exchange_plan(const request& r, const transport_options& o, const phase_limits& l, const request_trace& tr)
        : req(r), options(o), limits(l), trace(tr)
    {
        has_body = req.source || !req.body.empty();
        expect_continue = has_body && req.headers.has_token("Expect", "100-continue");
        body_with_head = !req.source && !expect_continue;
    }

    void wrote_request(const connection& c, std::error_code failure, bool body_skipped = false) const
    {
        if (trace)
            trace(&trace_hooks::wrote_request, wrote_request_event{trace.request, c.id, body_skipped, failure});
    }
};

// The head (and a body in memory with it), as far as the socket takes it at once: a small
// request usually fits the socket's send buffer, and only what it did not take waits (under
// the write timeout). A plain function, not a coroutine: this runs for every request. TLS
// writes go through the stream's engine, so there everything is left to write_buffers.
using head_buffers = std::array<asio::const_buffer, 2>;
LEASH_DECL head_buffers write_head_now(connection& c, const exchange_plan& plan, attempt_facts& facts, std::error_code& ec);

// Waits for the answer to "Expect: 100-continue": an interim response (send the body), a final
// one (the body is never sent: facts.body_skipped), or expect_continue_timeout (send it anyway).
LEASH_DECL asio::awaitable<std::error_code> await_continue(connection& c, const exchange_plan& plan, attempt_facts& facts);

// Writes the request and reads until the final response head is complete.
LEASH_DECL asio::awaitable<std::error_code> exchange(connection& c, const exchange_plan& plan, bool head_request,
                                                     attempt_facts& facts);

} // namespace leash::detail

#if defined(LEASH_HEADER_ONLY)
#include <leash/detail/impl/exchange.ipp>
#endif
