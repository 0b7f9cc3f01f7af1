// body_core's implementation, which needs transport_state complete (included at the end of
// detail/transport_state.hpp).
#pragma once

#include <leash/detail/body_core.hpp>
#include <leash/detail/exchange.hpp>
#include <leash/detail/transport_state.hpp>

#include <algorithm>
#include <cstring>

namespace leash::detail {

LEASH_DECL body_core::body_core(asio::any_io_executor strand, std::shared_ptr<transport_state> owner,
                            std::shared_ptr<connection> conn, const phase_limits& limits, bool close_after)
    : strand_(std::move(strand))
    , owner_(std::move(owner))
    , conn_(std::move(conn))
    , body_read_(limits.body_read)
    , deadline_(limits.deadline)
    , close_after_(close_after)
    , done_(false)
{
}

LEASH_DECL body_core::~body_core()
{
    close();
}

// Ends the lease exactly once: back to the pool, or closed with the reason that fits. Nothing
// is left pending: the body's timer and the leak diagnostic stop with it.
LEASH_DECL void body_core::end_lease(bool reusable, bool abandoned) noexcept
{
    if (!conn_)
        return;
    if (watch_)
        watch_->stop();
    auto c = std::move(conn_);
    c->timer.disarm();
    owner_->body_closed(c->key);
    if (reusable)
        owner_->release(std::move(c), true);
    else if (abandoned)
        owner_->close_leased(std::move(c), close_reason::body_abandoned);
    else if (failed_)
        owner_->close_leased(std::move(c), close_reason::error);
    else
        owner_->release(std::move(c), false);
}

LEASH_DECL void body_core::fail(std::error_code ec) noexcept
{
    failed_ = ec;
    piece_ = {};
    if (conn_)
        owner_->count_timeout(conn_->key, ec);
    end_lease(false, false);
}

LEASH_DECL void body_core::on_message_done()
{
    done_ = true;
    trailers_ = std::move(conn_->parser.trailer_fields());
    end_lease(conn_->reusable_after_message() && !close_after_, false);
}

LEASH_DECL bool body_core::discard_buffered()
{
    std::error_code ec;
    while (parse_buffered(*conn_, body_piece_or_end, ec)) {
        if (!conn_->parser.has_body())
            return true;
        conn_->parser.take_body();
    }
    return false;
}

LEASH_DECL asio::awaitable<std::error_code> body_core::fill()
{
    std::error_code ec;
    while (piece_.empty()) {
        if (can_decode()) {
            if (auto failed = decode_piece())
                co_return failed;
            continue;
        }
        if (!conn_)
            co_return end_of_body();
        if (parse_buffered(*conn_, body_piece_or_end, ec)) {
            if (!conn_->parser.has_body()) {
                on_message_done();
                co_return end_of_body();
            }
            take_piece(conn_->parser.take_body());
            continue;
        }
        if (!ec)
            ec = co_await receive();
        if (!conn_)  // the lease ended while reading (closed, or failed)
            co_return closed_ ? std::error_code(error::body_closed) : failed_;
        if (ec) {
            fail(ec);
            co_return ec;
        }
    }
    co_return std::error_code{};
}

LEASH_DECL std::error_code body_core::fill_now()
{
    while (piece_.empty()) {
        if (!can_decode())
            return end_of_body();
        if (auto failed = decode_piece())
            return failed;
    }
    return {};
}

LEASH_DECL std::error_code body_core::decode_piece()
{
    const auto step = decoder_->decode(coded_, decoded_.get(), decoded_piece_bytes);
    coded_.remove_prefix(step.consumed);
    // (A full piece may leave output pending, unless the coded stream ended with it.)
    more_decoded_ = step.produced == decoded_piece_bytes && !(decoder_->finished() && coded_.empty());
    auto ec = step.ec;
    if (!ec && step.produced == 0 && !more_decoded_ && !coded_.empty())
        ec = error::decoding_failed;  // bytes the coded stream has no use for
    if (ec) {
        coded_ = {};
        more_decoded_ = false;
        fail(ec);
        return ec;
    }
    piece_ = std::string_view(decoded_.get(), step.produced);
    return {};
}

LEASH_DECL std::error_code body_core::end_of_body()
{
    if (!failed_ && decoder_ && !decoder_->finished())
        failed_ = error::decoding_truncated;
    return failed_ ? failed_ : std::error_code(asio::error::eof);
}

LEASH_DECL std::error_code body_core::append_piece(std::string& out, std::size_t limit)
{
    if (piece_.size() > limit - out.size()) {
        piece_ = {};
        coded_ = {};
        closed_ = true;
        end_lease(false, true);
        return error::body_too_large;
    }
    out.append(piece_);
    piece_ = {};
    return {};
}

// Reads more bytes into the connection's buffer: after a read that filled the buffer more is
// probably waiting, and is taken at once (plain TCP) as a large body streams in; otherwise it
// waits, under body_read_timeout and the request's deadline. The read holds the connection
// (socket, TLS state) until it completes, even when close() ends the lease meanwhile: the
// pending operation and its cancellation slot refer to them.
LEASH_DECL asio::awaitable<std::error_code> body_core::receive()
{
    const auto conn = conn_;
    auto& c = *conn;
    std::error_code ec;
    if (c.filled_last_read() && !c.stream.is_tls()) {
        const auto n = c.stream.read_some_now(c.prepare(), ec);
        if (ec != asio::error::would_block)
            co_return received(c, n, ec);
        ec = {};
    }
    if (is_canceled_now(co_await asio::this_coro::cancellation_state, ec))
        co_return ec;
    c.timer.arm(c.owner, body_read_, error::body_read_timeout, deadline_, [&c] { c.stream.cancel(); });
    reading_ = true;
    const auto n = co_await c.stream.async_read_some(c.prepare(), asio::redirect_error(asio::use_awaitable, ec));
    reading_ = false;
    if (!conn_)  // the lease ended meanwhile; fill() reports it
        co_return ec;
    if (auto t = c.timer.disarm())
        ec = t;
    else if (is_canceled(co_await asio::this_coro::cancellation_state))
        ec = asio::error::operation_aborted;
    co_return received(c, n, ec);
}

// What a read of n bytes that ended with `ec` means for the body: bytes to parse (committed),
// the end of a close-delimited body, or an error.
LEASH_DECL std::error_code body_core::received(connection& c, std::size_t n, std::error_code ec)
{
    if (c.closed_by_shutdown)
        return error::shut_down;
    if (ec == asio::ssl::error::stream_truncated)  // TLS ended without close_notify: never a clean end
        return error::unexpected_eof;
    if (ec == asio::error::eof) {
        c.parser.feed_eof(ec);
        return ec == error::closed_before_response ? std::error_code(error::unexpected_eof) : ec;
    }
    if (!ec)
        c.commit(n);
    return ec;
}

LEASH_DECL asio::awaitable<op_result<std::size_t>> body_core::read_some(asio::mutable_buffer out)
{
    co_await asio::this_coro::throw_if_cancelled(false);
    co_await asio::this_coro::reset_cancellation_state(asio::enable_total_cancellation());
    if (closed_)
        co_return op_result<std::size_t>{error::body_closed, 0};
    if (out.size() == 0)
        co_return op_result<std::size_t>{std::error_code{}, 0};
    const read_activity reading(watch_.get());
    if (auto ec = co_await fill())
        co_return op_result<std::size_t>{ec, 0};
    const auto n = std::min(out.size(), piece_.size());
    std::memcpy(out.data(), piece_.data(), n);
    piece_.remove_prefix(n);
    if (piece_.empty() && conn_ && !can_decode()) {  // report the end together with the last bytes
        std::error_code ec;
        if (parse_buffered(*conn_, body_piece_or_end, ec)) {
            if (!conn_->parser.has_body())
                on_message_done();
        } else if (ec) {
            fail(ec);
        }
    }
    co_return op_result<std::size_t>{std::error_code{}, n};
}

LEASH_DECL asio::awaitable<op_result<std::string>> body_core::read_all(std::size_t limit)
{
    co_await asio::this_coro::throw_if_cancelled(false);
    co_await asio::this_coro::reset_cancellation_state(asio::enable_total_cancellation());
    std::string out;
    if (closed_)
        co_return op_result<std::string>{error::body_closed, std::move(out)};
    const read_activity reading(watch_.get());
    // Room for a declared length up front (bounded: the server's figure is not trusted).
    constexpr std::uint64_t max_reserve = 16 * 1024 * 1024;
    if (conn_ && !decoder_)
        if (const auto declared = conn_->parser.content_length())
            out.reserve(static_cast<std::size_t>(std::min<std::uint64_t>({*declared, limit, max_reserve})));
    for (;;) {
        auto ec = co_await fill();
        if (!ec)
            ec = append_piece(out, limit);
        if (ec)
            co_return op_result<std::string>{ec == asio::error::eof ? std::error_code{} : ec, std::move(out)};
    }
}

LEASH_DECL op_result<std::size_t> body_core::read_some_now(asio::mutable_buffer out)
{
    if (closed_)
        return {error::body_closed, 0};
    if (out.size() == 0)
        return {std::error_code{}, 0};
    if (auto ec = fill_now())
        return {ec, 0};
    const auto n = std::min(out.size(), piece_.size());
    std::memcpy(out.data(), piece_.data(), n);
    piece_.remove_prefix(n);
    return {std::error_code{}, n};
}

LEASH_DECL op_result<std::string> body_core::read_all_now(std::size_t limit)
{
    std::string out;
    if (closed_)
        return {error::body_closed, std::move(out)};
    if (!decoder_ && piece_.size() <= limit && piece_.data() == held_.data() && piece_.size() == held_.size()) {
        out = std::move(held_);  // all of it, unread: no copy
        piece_ = {};
        return {failed_, std::move(out)};
    }
    for (;;) {
        auto ec = fill_now();
        if (!ec)
            ec = append_piece(out, limit);
        if (ec)
            return {ec == asio::error::eof ? std::error_code{} : ec, std::move(out)};
    }
}

LEASH_DECL void body_core::close() noexcept
{
    const bool was_closed = std::exchange(closed_, true);
    piece_ = {};
    coded_ = {};
    more_decoded_ = false;
    if (was_closed || done_ || !conn_)
        return;
    if (discard_buffered()) {  // the rest of the message is here: keep the connection
        trailers_ = std::move(conn_->parser.trailer_fields());
        end_lease(conn_->reusable_after_message() && !close_after_, false);
        return;
    }
    // A read pending on this strand still uses the stream: end it at once (no graceful TLS
    // close under it).
    if (reading_)
        conn_->stream.close();
    end_lease(false, true);
}

} // namespace leash::detail
