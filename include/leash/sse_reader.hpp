// leash/sse_reader.hpp - server-sent events read from a response body.
//
// sse::reader owns the body of a text/event-stream response and decodes it with sse::decoder.
// async_next(token) completes with (std::error_code, sse::event): the next event, or
// asio::error::eof at the end of the stream. The body's timeouts apply between bytes
// (body_read_timeout, the request's total deadline), so a stalled stream fails instead of
// hanging; cancellation ends the read and closes the stream's connection.
//
// Above the bytes, the reader bounds the time between events: a relay or gateway that sends
// ": ping" comments while its upstream is stuck keeps the bytes flowing but dispatches no
// event. first_event_timeout bounds the time from the reader's construction to the first
// event (time to first token), event_timeout the time from each event to the next; comments,
// blank lines and blocks of only id: or retry: fields do not count. Passing either fails the
// read with error::sse_first_event_timeout or error::sse_event_timeout (both
// condition::timeout) and closes the stream's connection. Zero turns a bound off. The
// defaults are finite and generous; for an interactive chat, 30 to 60 s to the first event
// and 15 to 30 s between events fit most models (reasoning models stream their thinking as
// events too, so long silences mean trouble).
//
// The LLM convention: with stop_at_done (on by default), an event whose data is "[DONE]" ends
// the stream: the reader reads the rest of the body (at most drain_limit bytes) so the
// connection goes back to the pool, and reports eof instead of the marker.
//
// Like a body, a reader is used by one thread at a time and may be destroyed on any thread;
// destroying it before the end closes the connection.
#pragma once

#include <leash/body.hpp>
#include <leash/detail/event_deadline.hpp>
#include <leash/detail/spawn.hpp>
#include <leash/sse.hpp>

#include <asio.hpp>
#include <asio/experimental/as_tuple.hpp>
#include <asio/experimental/awaitable_operators.hpp>

#include <chrono>
#include <deque>
#include <memory>
#include <string>

namespace leash::sse {

struct reader_options {
    std::chrono::milliseconds first_event_timeout = std::chrono::seconds(300);  // see above; 0 = off
    std::chrono::milliseconds event_timeout = std::chrono::seconds(120);        // see above; 0 = off
    std::size_t max_event_bytes = decoder::default_max_event_bytes;
    bool stop_at_done = true;            // "data: [DONE]" ends the stream
    std::size_t drain_limit = 64 * 1024; // bytes read after [DONE] to keep the connection
};

class reader {
public:
    using executor_type = leash::body::executor_type;

    explicit reader(leash::body b, reader_options options = {})
        : state_(std::make_shared<state>(std::move(b), options))
    {
    }
    reader(reader&&) noexcept = default;
    reader& operator=(reader&& other) noexcept
    {
        if (this != &other) {
            close_body();
            state_ = std::move(other.state_);
        }
        return *this;
    }
    // Closes the stream's body (see leash/body.hpp, close()): an async_next in flight, which
    // shares the reader's state, then fails instead of holding the connection.
    ~reader() { close_body(); }

    executor_type get_executor() const noexcept { return state_->body.get_executor(); }
    // The last event id in effect (for reconnecting with Last-Event-ID).
    const std::string& last_event_id() const noexcept { return state_->decoder.last_event_id(); }
    // The server's requested reconnection time, if it sent one.
    std::optional<std::chrono::milliseconds> retry() const noexcept { return state_->decoder.retry(); }
    // Whether the stream has ended (eof reported or [DONE] seen).
    bool at_end() const noexcept { return state_->ended; }
    // Whether a [DONE] marker ended it (with stop_at_done); false after an end of body
    // without one, which for an LLM stream means the answer was cut short.
    bool done_seen() const noexcept { return state_->done_seen; }
    leash::body& body() noexcept { return state_->body; }

    // Completes with (std::error_code, sse::event). Cancellation (terminal, partial or total)
    // completes it with operation_aborted and closes the stream's connection; the reader has
    // ended then (later calls fail).
    template <class Token = asio::default_completion_token_t<executor_type>>
    auto async_next(Token&& token = {})
    {
        return asio::async_initiate<Token, void(std::error_code, event)>(initiate_next{state_}, token);
    }

private:
    struct state {
        state(leash::body b, reader_options o)
            : body(std::move(b))
            , options(o)
            , decoder(o.max_event_bytes)
            , deadline(o.first_event_timeout, o.event_timeout, detail::event_deadline::clock::now())
            , buffer(16 * 1024)
        {
        }
        leash::body body;
        reader_options options;
        sse::decoder decoder;
        detail::event_deadline deadline;
        std::optional<asio::steady_timer> timer;  // for the deadline, made at the first read under one
        std::deque<event> ready;
        std::vector<char> buffer;
        bool ended = false;
        bool done_seen = false;
    };

    // Runs next() on the body's strand (or, for a reader without a body, where the handler's
    // executor says: its read fails at once with error::body_closed).
    struct initiate_next {
        std::shared_ptr<state> s;

        template <class Handler>
        void operator()(Handler&& handler) const
        {
            auto ex = s->body.get_executor();
            if (!ex)
                ex = asio::make_strand(asio::system_executor());
            detail::start_operation(std::forward<Handler>(handler), false, std::move(ex),
                                    detail::make_operation([&](detail::operation_entry entry) { return next(s, entry); }));
        }
    };

    // Ends the stream after a cancellation or an error: its connection is closed (or kept,
    // when the message had already ended) and later calls fail.
    static detail::op_result<event> stop(state& s, std::error_code ec)
    {
        s.ready.clear();
        s.body.close();
        return detail::failed<event>(ec);
    }

    static asio::awaitable<detail::op_result<event>> next(std::shared_ptr<state> s, detail::operation_entry entry)
    {
        co_await entry.begin();
        // A request that came before this first step is recorded here; the reset below (every
        // cancellation type ends the read) would forget it.
        const bool canceled_early = detail::cancel_requested(co_await asio::this_coro::cancellation_state);
        co_await asio::this_coro::reset_cancellation_state(asio::enable_total_cancellation());
        if (canceled_early)
            co_return stop(*s, asio::error::operation_aborted);
        for (;;) {
            const bool canceled = detail::cancel_requested(co_await asio::this_coro::cancellation_state);
            if (canceled)
                co_return stop(*s, asio::error::operation_aborted);
            if (!s->ready.empty()) {
                event e = std::move(s->ready.front());
                s->ready.pop_front();
                if (s->options.stop_at_done && e.data == "[DONE]") {
                    auto end = co_await finish_at_done(*s);
                    co_return end;
                }
                co_return detail::op_result<event>{std::error_code{}, std::move(e)};
            }
            if (s->ended)
                co_return detail::failed<event>(asio::error::eof);
            auto [ec, n] = co_await read_piece(*s);
            if (ec == asio::error::eof) {
                s->decoder.finish();
                s->ended = true;
                continue;
            }
            if (ec)
                co_return stop(*s, ec);
            if (auto bad = s->decoder.feed(std::string_view(s->buffer.data(), n), [&](event&& e) {
                    s->ready.push_back(std::move(e));
                }))
                co_return stop(*s, bad);
            if (!s->ready.empty())
                s->deadline.event_at(detail::event_deadline::clock::now());
        }
    }

    // Reads the next piece of the body, by the event deadline when one applies: a read that
    // passes it is canceled (which closes the stream's connection) and reports the timeout.
    static asio::awaitable<std::tuple<std::error_code, std::size_t>> read_piece(state& s)
    {
        constexpr auto as_tuple = asio::experimental::as_tuple(asio::use_awaitable);
        const auto due = s.deadline.next();
        if (!due || !s.body.get_executor())
            co_return co_await s.body.async_read_some(asio::buffer(s.buffer), as_tuple);
        if (detail::event_deadline::clock::now() >= due->at)
            co_return std::tuple<std::error_code, std::size_t>{due->timeout, 0};
        if (!s.timer)
            s.timer.emplace(s.body.get_executor());
        s.timer->expires_at(due->at);
        using namespace asio::experimental::awaitable_operators;
        auto first = co_await (s.body.async_read_some(asio::buffer(s.buffer), as_tuple) || s.timer->async_wait(as_tuple));
        if (first.index() == 0)
            co_return std::get<0>(first);
        const auto [wait_ec] = std::get<1>(first);  // an error: the caller canceled both
        co_return std::tuple<std::error_code, std::size_t>{wait_ec ? wait_ec : make_error_code(due->timeout), 0};
    }

    // [DONE]: reads what is left so the connection can be reused (a longer tail, or a
    // cancellation meanwhile, closes it) and reports the end.
    static asio::awaitable<detail::op_result<event>> finish_at_done(state& s)
    {
        s.ended = true;
        s.done_seen = true;
        s.ready.clear();
        auto [ec, rest] = co_await s.body.async_read_all(s.options.drain_limit,
                                                         asio::experimental::as_tuple(asio::use_awaitable));
        (void)rest;
        if (ec)
            s.body.close();
        const bool canceled = detail::cancel_requested(co_await asio::this_coro::cancellation_state);
        if (ec == asio::error::operation_aborted || canceled)
            co_return detail::failed<event>(asio::error::operation_aborted);
        co_return detail::failed<event>(asio::error::eof);
    }

    void close_body() noexcept
    {
        if (state_)
            state_->body.close();
    }

    std::shared_ptr<state> state_;
};

} // namespace leash::sse
