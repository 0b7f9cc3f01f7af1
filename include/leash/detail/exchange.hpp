// One request on one connection, up to the final response head: writes the request head and
// body (as it is, or from a body source, waiting for 100 Continue when asked), then reads and
// parses until the final head is complete. Free operations on a connection the caller holds;
// they run on the caller's strand and report what happened in attempt_facts and an error code.
//
// parse_buffered() is the one step that feeds received bytes to the parser, used here for the
// head and by the body (detail/impl/body_core.hpp) for everything after it.
#pragma once

#include <leash/detail/connection.hpp>
#include <leash/detail/phase_timer.hpp>
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
inline asio::awaitable<std::error_code> read_head(connection& c, bool stop_at_interim, attempt_facts& facts,
                                                  const request_trace& trace)
{
    const auto reached = [stop_at_interim](const response_parser& p) {
        return p.headers_done() || (stop_at_interim && p.interim_responses() > 0);
    };
    std::error_code ec;
    while (!parse_buffered(c, reached, ec) && !ec) {
        if (is_canceled_now(co_await asio::this_coro::cancellation_state, ec))
            break;
        // (Read in place, not in a coroutine of its own: this runs for every response.)
        const auto n = co_await c.stream.async_read_some(c.prepare(), asio::redirect_error(asio::use_awaitable, ec));
        // A TLS peer that vanished without close_notify ends the head just like EOF.
        if (ec == asio::error::eof || ec == asio::ssl::error::stream_truncated) {
            ec = {};
            c.parser.feed_eof(ec);
            if (!ec && !c.parser.headers_done())
                ec = error::unexpected_eof;
            break;
        }
        if (ec)
            break;
        c.commit(n);
        if (trace && !facts.response_bytes_received)
            trace(&trace_hooks::first_response_byte, request_event{trace.request, c.id});
        facts.response_bytes_received = true;
    }
    co_return ec;
}

// Writes `data` whole, under the write timeout.
inline asio::awaitable<std::error_code> write_buffers(connection& c, std::span<const asio::const_buffer> data,
                                                      const phase_limits& limits, phase_timer& timer,
                                                      attempt_facts& facts)
{
    std::error_code ec;
    if (is_canceled_now(co_await asio::this_coro::cancellation_state, ec))
        co_return ec;
    timer.arm(limits.write, error::write_timeout, limits.deadline, [&c] { c.stream.cancel(); });
    const auto written = co_await asio::async_write(c.stream, data, asio::redirect_error(asio::use_awaitable, ec));
    facts.request_bytes_written = facts.request_bytes_written || written > 0;
    if (auto t = timer.disarm())
        co_return t;
    co_return ec;
}

// Sends a body source: its pieces as they come, as they are (Content-Length) or as chunks.
inline asio::awaitable<std::error_code> write_source(connection& c, const body_source& src,
                                                     const phase_limits& limits, phase_timer& timer,
                                                     attempt_facts& facts)
{
    constexpr std::size_t piece_size = 16 * 1024;
    c.upload.resize(piece_size);
    std::uint64_t sent = 0;
    const bool chunked = !src.length;
    for (;;) {
        std::error_code ec;
        if (is_canceled_now(co_await asio::this_coro::cancellation_state, ec))
            co_return ec;
        facts.body_source_read = true;
        auto [read_ec, n] = co_await src.read(asio::buffer(c.upload));
        if (read_ec)
            co_return read_ec;
        if (n == 0)
            break;
        sent += n;
        if (src.length && sent > *src.length)
            co_return error::body_length_mismatch;
        char size_line[24];
        const int size_len = chunked ? std::snprintf(size_line, sizeof size_line, "%zx\r\n", n) : 0;
        const std::array<asio::const_buffer, 3> piece{asio::buffer(size_line, static_cast<std::size_t>(size_len)),
                                                      asio::buffer(c.upload.data(), n),
                                                      chunked ? asio::buffer("\r\n", 2) : asio::const_buffer()};
        if (auto write_ec = co_await write_buffers(c, piece, limits, timer, facts))
            co_return write_ec;
    }
    if (src.length && sent != *src.length)
        co_return error::body_length_mismatch;
    if (!chunked)
        co_return std::error_code{};
    const asio::const_buffer last_chunk = asio::buffer("0\r\n\r\n", 5);
    co_return co_await write_buffers(c, {&last_chunk, 1}, limits, timer, facts);
}

// How one request goes out on one connection.
struct exchange_plan {
    const request& req;
    const transport_options& options;
    const phase_limits& limits;
    phase_timer& timer;
    const request_trace& trace;
    bool has_body = false;
    bool expect_continue = false;  // the body waits for 100 Continue
    bool body_with_head = false;   // the body (in memory) goes out with the head

    exchange_plan(const request& r, const transport_options& o, const phase_limits& l, phase_timer& t,
                  const request_trace& tr)
        : req(r), options(o), limits(l), timer(t), trace(tr)
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
inline head_buffers write_head_now(connection& c, const exchange_plan& plan, attempt_facts& facts, std::error_code& ec)
{
    head_buffers out{asio::buffer(c.head), plan.body_with_head ? asio::buffer(plan.req.body) : asio::const_buffer()};
    if (c.stream.is_tls())
        return out;
    const auto written = c.stream.write_some_now(out, ec);
    facts.request_bytes_written = written > 0;
    if (ec == asio::error::would_block)
        ec = {};
    const auto from_head = std::min(written, out[0].size());
    out[0] += from_head;
    out[1] += written - from_head;
    return out;
}

// Waits for the answer to "Expect: 100-continue": an interim response (send the body), a final
// one (the body is never sent: facts.body_skipped), or expect_continue_timeout (send it anyway).
inline asio::awaitable<std::error_code> await_continue(connection& c, const exchange_plan& plan, attempt_facts& facts)
{
    plan.timer.arm(plan.options.expect_continue_timeout, error::response_header_timeout, plan.limits.deadline,
                   [&c] { c.stream.cancel(); });
    const auto ec = co_await read_head(c, true, facts, plan.trace);
    const bool waited_enough = plan.timer.expired();
    const auto t = plan.timer.disarm();
    if (t == error::request_timeout)
        co_return t;
    if (!waited_enough && ec)
        co_return ec;
    if (c.parser.headers_done()) {
        facts.body_skipped = true;
        plan.wrote_request(c, {}, true);
    }
    co_return std::error_code{};
}

// Writes the request and reads until the final response head is complete.
inline asio::awaitable<std::error_code> exchange(connection& c, const exchange_plan& plan, bool head_request,
                                                 attempt_facts& facts)
{
    c.parser.reset(head_request, {plan.options.max_response_header_bytes, plan.options.max_response_headers});
    c.clear_buffer();
    std::error_code ec;
    if (is_canceled_now(co_await asio::this_coro::cancellation_state, ec))
        co_return ec;
    auto head_rest = write_head_now(c, plan, facts, ec);
    if (!ec && asio::buffer_size(head_rest) != 0)
        ec = co_await write_buffers(c, head_rest, plan.limits, plan.timer, facts);
    if (ec) {
        plan.wrote_request(c, ec);
        co_return ec;
    }
    if (plan.trace)
        plan.trace(&trace_hooks::wrote_headers, request_event{plan.trace.request, c.id});
    const bool body_pending = plan.has_body && !plan.body_with_head;
    if (!body_pending)
        plan.wrote_request(c, {});
    if (plan.expect_continue)
        if (auto failure = co_await await_continue(c, plan, facts))
            co_return failure;
    if (body_pending && !facts.body_skipped) {
        if (plan.req.source) {
            ec = co_await write_source(c, *plan.req.source, plan.limits, plan.timer, facts);
        } else {
            const asio::const_buffer body = asio::buffer(plan.req.body);
            ec = co_await write_buffers(c, {&body, 1}, plan.limits, plan.timer, facts);
        }
        plan.wrote_request(c, ec);
        if (ec)
            co_return ec;
    }
    plan.timer.arm(plan.limits.response_header, error::response_header_timeout, plan.limits.deadline,
                   [&c] { c.stream.cancel(); });
    ec = co_await read_head(c, false, facts, plan.trace);
    if (auto t = plan.timer.disarm())
        co_return t;
    co_return ec;
}

} // namespace leash::detail
