/// \file
/// leash/sse_reader.hpp - server-sent events read from a response body.
#pragma once

#include <leash/body.hpp>
#include <leash/detail/config.hpp>
#include <leash/detail/event_deadline.hpp>
#include <leash/detail/spawn.hpp>
#include <leash/sse.hpp>

#include <asio.hpp>

#include <chrono>
#include <deque>
#include <memory>
#include <string>

namespace leash::sse {

/// The bounds of an sse::reader.
///
/// Above the bytes, the reader bounds the time between events: a relay or gateway that sends
/// ": ping" comments while its upstream is stuck keeps the bytes flowing but dispatches no
/// event. first_event_timeout bounds the time from the reader's construction to the first
/// event (time to first token), event_timeout the time from each event to the next; comments,
/// blank lines and blocks of only id: or retry: fields do not count. Passing either fails the
/// read with error::sse_first_event_timeout or error::sse_event_timeout (both
/// condition::timeout) and closes the stream's connection. Zero turns a bound off. The
/// defaults are finite and generous; for an interactive chat, 30 to 60 s to the first event
/// and 15 to 30 s between events fit most models (reasoning models stream their thinking as
/// events too, so long silences mean trouble).
struct reader_options {
    std::chrono::milliseconds first_event_timeout = std::chrono::seconds(300);  ///< see above; 0 = off
    std::chrono::milliseconds event_timeout = std::chrono::seconds(120);        ///< see above; 0 = off
    /// The decoder's bound on one event (see decoder; error::sse_event_too_large).
    std::size_t max_event_bytes = decoder::default_max_event_bytes;
    bool stop_at_done = true;            ///< "data: [DONE]" ends the stream
    std::size_t drain_limit = 64 * 1024; ///< bytes read after [DONE] to keep the connection
};

/// Server-sent events read from a response body.
///
/// sse::reader owns the body of a text/event-stream response and decodes it with sse::decoder.
/// async_next(token) completes with (std::error_code, sse::event): the next event, or
/// asio::error::eof at the end of the stream. The body's timeouts apply between bytes
/// (body_read_timeout, the request's total deadline), so a stalled stream fails instead of
/// hanging; cancellation ends the read and closes the stream's connection. Above the bytes,
/// the reader bounds the time between events (see reader_options).
///
/// The LLM convention: with stop_at_done (on by default), an event whose data is "[DONE]" ends
/// the stream: the reader reads the rest of the body (at most drain_limit bytes) so the
/// connection goes back to the pool, and reports eof instead of the marker.
///
/// \threadsafety
/// Like a body, a reader is used by one thread at a time and may be destroyed on any thread.
///
/// \lifetime
/// Destroying a reader before the end closes the connection.
///
/// \errors
/// asio::error::eof at the end of the stream; error::sse_first_event_timeout and
/// error::sse_event_timeout (see reader_options); error::sse_event_too_large; the body's codes
/// (see leash::body); asio::error::operation_aborted when canceled.
class reader {
public:
    /// The executor type of the body's strand.
    using executor_type = leash::body::executor_type;

    /// Takes over `b`, the body of a text/event-stream response; the first event's deadline
    /// starts now.
    explicit reader(leash::body b, reader_options options = {})
        : state_(std::make_shared<state>(std::move(b), options))
    {
    }
    /// Moves the stream; `other` is left without one.
    reader(reader&&) noexcept = default;
    /// Closes this reader's body, then takes over `other`'s stream.
    reader& operator=(reader&& other) noexcept
    {
        if (this != &other) {
            close_body();
            state_ = std::move(other.state_);
        }
        return *this;
    }
    /// Closes the stream's body (see leash/body.hpp, close()): an async_next in flight, which
    /// shares the reader's state, then fails instead of holding the connection.
    ~reader() { close_body(); }

    /// The strand of the body's reads (see body::get_executor()).
    executor_type get_executor() const noexcept { return state_->body.get_executor(); }
    /// The last event id in effect (for reconnecting with Last-Event-ID).
    const std::string& last_event_id() const noexcept { return state_->decoder.last_event_id(); }
    /// The server's requested reconnection time, if it sent one.
    std::optional<std::chrono::milliseconds> retry() const noexcept { return state_->decoder.retry(); }
    /// Whether the stream has ended (eof reported or [DONE] seen).
    bool at_end() const noexcept { return state_->ended; }
    /// Whether a [DONE] marker ended it (with stop_at_done); false after an end of body
    /// without one, which for an LLM stream means the answer was cut short.
    bool done_seen() const noexcept { return state_->done_seen; }
    /// The body the reader reads from.
    leash::body& body() noexcept { return state_->body; }

    /// Completes with (std::error_code, sse::event). Cancellation (terminal, partial or total)
    /// completes it with operation_aborted and closes the stream's connection; the reader has
    /// ended then (later calls fail).
    ///
    /// \completion `void(std::error_code, leash::sse::event)`
    /// \tparam Token any Asio completion token.
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

    // The next event, on the body's strand.
    static asio::awaitable<detail::op_result<event>> next(std::shared_ptr<state> s, detail::operation_entry entry);

    // Reads the next piece of the body, by the event deadline when one applies: a read that
    // passes it is canceled (which closes the stream's connection) and reports the timeout.
    static asio::awaitable<std::tuple<std::error_code, std::size_t>> read_piece(state& s);

    // [DONE]: reads what is left so the connection can be reused (a longer tail, or a
    // cancellation meanwhile, closes it) and reports the end.
    static asio::awaitable<detail::op_result<event>> finish_at_done(state& s);

    void close_body() noexcept
    {
        if (state_)
            state_->body.close();
    }

    std::shared_ptr<state> state_;
};

} // namespace leash::sse

#if defined(LEASH_HEADER_ONLY)
#include <leash/impl/sse_reader.ipp>
#endif
