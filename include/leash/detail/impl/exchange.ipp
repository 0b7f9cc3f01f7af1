// The exchange on a connection: writing the request, reading the response head (declared in
// detail/exchange.hpp).
#pragma once

#include <leash/detail/exchange.hpp>

namespace leash::detail {

LEASH_DECL asio::awaitable<std::error_code> read_head(connection& c, bool stop_at_interim, attempt_facts& facts,
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

LEASH_DECL asio::awaitable<std::error_code> write_buffers(connection& c, std::span<const asio::const_buffer> data,
                                                          const phase_limits& limits, attempt_facts& facts)
{
    std::error_code ec;
    if (is_canceled_now(co_await asio::this_coro::cancellation_state, ec))
        co_return ec;
    c.timer.arm(c.owner, limits.write, error::write_timeout, limits.deadline, [&c] { c.stream.cancel(); });
    const auto written = co_await asio::async_write(c.stream, data, asio::redirect_error(asio::use_awaitable, ec));
    facts.request_bytes_written = facts.request_bytes_written || written > 0;
    if (auto t = c.timer.disarm())
        co_return t;
    co_return ec;
}

LEASH_DECL asio::awaitable<std::error_code> write_source(connection& c, const body_source& src,
                                                         const phase_limits& limits, attempt_facts& facts)
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
        if (auto write_ec = co_await write_buffers(c, piece, limits, facts))
            co_return write_ec;
    }
    if (src.length && sent != *src.length)
        co_return error::body_length_mismatch;
    if (!chunked)
        co_return std::error_code{};
    const asio::const_buffer last_chunk = asio::buffer("0\r\n\r\n", 5);
    co_return co_await write_buffers(c, {&last_chunk, 1}, limits, facts);
}

LEASH_DECL head_buffers write_head_now(connection& c, const exchange_plan& plan, attempt_facts& facts, std::error_code& ec)
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

LEASH_DECL asio::awaitable<std::error_code> await_continue(connection& c, const exchange_plan& plan, attempt_facts& facts)
{
    c.timer.arm(c.owner, plan.options.expect_continue_timeout, error::response_header_timeout, plan.limits.deadline,
                   [&c] { c.stream.cancel(); });
    const auto ec = co_await read_head(c, true, facts, plan.trace);
    const bool waited_enough = c.timer.expired();
    const auto t = c.timer.disarm();
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

LEASH_DECL asio::awaitable<std::error_code> exchange(connection& c, const exchange_plan& plan, bool head_request,
                                                     attempt_facts& facts)
{
    c.parser.reset(head_request, {plan.options.max_response_header_bytes, plan.options.max_response_headers});
    c.clear_buffer();
    std::error_code ec;
    if (is_canceled_now(co_await asio::this_coro::cancellation_state, ec))
        co_return ec;
    auto head_rest = write_head_now(c, plan, facts, ec);
    if (!ec && asio::buffer_size(head_rest) != 0)
        ec = co_await write_buffers(c, head_rest, plan.limits, facts);
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
            ec = co_await write_source(c, *plan.req.source, plan.limits, facts);
        } else {
            const asio::const_buffer body = asio::buffer(plan.req.body);
            ec = co_await write_buffers(c, {&body, 1}, plan.limits, facts);
        }
        plan.wrote_request(c, ec);
        if (ec)
            co_return ec;
    }
    c.timer.arm(c.owner, plan.limits.response_header, error::response_header_timeout, plan.limits.deadline,
                   [&c] { c.stream.cancel(); });
    ec = co_await read_head(c, false, facts, plan.trace);
    if (auto t = c.timer.disarm())
        co_return t;
    co_return ec;
}

} // namespace leash::detail
