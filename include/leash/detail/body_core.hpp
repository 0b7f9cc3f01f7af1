// The machinery behind leash::body: reads the rest of a response from the connection the
// body leases, and ends that lease exactly once (returning the connection to the pool at the
// end of a keep-alive message, closing it otherwise).
//
// Runs on the request's strand. close() and the destructor may run on any thread when no
// read is in flight (the body handle posts to the strand otherwise). The implementation is in
// detail/impl/body_core.ipp.
#pragma once

#include <leash/detail/connection.hpp>
#include <leash/detail/content_decoder.hpp>
#include <leash/detail/spawn.hpp>
#include <leash/detail/unread_watch.hpp>
#include <leash/headers.hpp>

#include <asio.hpp>

#include <atomic>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

namespace leash::detail {

class transport_state;

class body_core : public std::enable_shared_from_this<body_core> {
public:
    // A body with nothing to read (HEAD, 204, 304, or fully consumed with the head).
    explicit body_core(asio::any_io_executor strand) : strand_(std::move(strand)) {}

    // A body whose whole rest arrived with the head: `held` is all of it, the connection is
    // already back in the pool.
    body_core(asio::any_io_executor strand, std::string held, headers trailers)
        : strand_(std::move(strand)), held_(std::move(held)), trailers_(std::move(trailers))
    {
        piece_ = held_;
    }

    // A body still to be read from `conn`, leased from `owner`.
    body_core(asio::any_io_executor strand, std::shared_ptr<transport_state> owner,
              std::shared_ptr<connection> conn, const phase_limits& limits, bool close_after);

    body_core(const body_core&) = delete;
    body_core& operator=(const body_core&) = delete;
    ~body_core();

    const asio::any_io_executor& executor() const noexcept { return strand_; }

    asio::awaitable<op_result<std::size_t>> read_some(asio::mutable_buffer out);
    asio::awaitable<op_result<std::string>> read_all(std::size_t limit);

    // Whether reads complete without I/O: no connection is held (the data, if any, is here).
    // Then the *_now forms give the same results as the awaitables, on the caller's thread.
    bool completes_without_io() const noexcept { return conn_ == nullptr; }
    op_result<std::size_t> read_some_now(asio::mutable_buffer out);
    op_result<std::string> read_all_now(std::size_t limit);

    // Ends the lease now: keeps the connection if the rest of the message is already
    // buffered, closes it otherwise. Later reads fail with error::body_closed.
    void close() noexcept;

    bool done() const noexcept
    {
        return done_ && piece_.empty() && coded_.empty() && !more_decoded_ && (!decoder_ || decoder_->finished());
    }
    bool holds_connection() const noexcept { return conn_ != nullptr; }
    const headers& trailers() const noexcept { return trailers_; }

    // Decodes the body as it is read (before any read): its pieces come from `decoder`.
    void decode_with(content_decoder decoder)
    {
        decoder_.emplace(std::move(decoder));
        decoded_ = std::make_unique<char[]>(decoded_piece_bytes);
        coded_ = piece_;
        piece_ = {};
    }

    // Starts the leak diagnostic for this body (on the strand, before any read).
    void watch_unread(std::shared_ptr<unread_watch> watch)
    {
        watch_ = std::move(watch);
        watch_->start();
    }

    std::atomic<int> reads_in_flight{0};

private:
    // Waits for body bytes: a view of the next available piece, or eof at the end.
    asio::awaitable<std::error_code> fill();
    // fill() for a body whose connection is gone: no I/O.
    std::error_code fill_now();
    // A piece the parser handed out: to read, or to decode first.
    void take_piece(std::string_view p) noexcept { (decoder_ ? coded_ : piece_) = p; }
    // Whether decoding can make a piece without more bytes from the connection.
    bool can_decode() const noexcept { return decoder_ && (!coded_.empty() || more_decoded_); }
    // Decodes the next piece from coded_; an error ends the lease.
    std::error_code decode_piece();
    // What a read at the end of the message reports: eof, the error that ended it, or
    // decoding_truncated for a coded stream that did not end with the body.
    std::error_code end_of_body();
    // read_all's step: the current piece onto `out`, unless that passes `limit` (then the body
    // is closed: error::body_too_large).
    std::error_code append_piece(std::string& out, std::size_t limit);
    // Reads more of the message into the connection's buffer.
    asio::awaitable<std::error_code> receive();
    static std::error_code received(connection& c, std::size_t n, std::error_code ec);
    // Parses the buffered rest without I/O, discarding body pieces; true if the message ended.
    bool discard_buffered();
    void on_message_done();
    void end_lease(bool reusable, bool abandoned) noexcept;
    void fail(std::error_code ec) noexcept;

    // Tells the leak diagnostic, if any, that a read is in progress, for its lifetime.
    class read_activity {
    public:
        explicit read_activity(unread_watch* w) noexcept : watch_(w)
        {
            if (watch_)
                watch_->reading(true);
        }
        read_activity(const read_activity&) = delete;
        read_activity& operator=(const read_activity&) = delete;
        ~read_activity()
        {
            if (watch_)
                watch_->reading(false);
        }

    private:
        unread_watch* watch_;
    };

    asio::any_io_executor strand_;
    std::shared_ptr<transport_state> owner_;
    std::shared_ptr<connection> conn_;
    clock::duration body_read_{};
    clock::time_point deadline_ = clock::time_point::max();
    bool close_after_ = false;
    std::string held_;         // the rest of a message that arrived with its head
    std::string_view piece_;   // body bytes handed out by the parser (or held_, or decoded), not yet read
    // Decoding (decode_with): the coded bytes not yet decoded, and where pieces are decoded to.
    static constexpr std::size_t decoded_piece_bytes = 16 * 1024;
    std::optional<content_decoder> decoder_;
    std::unique_ptr<char[]> decoded_;
    std::string_view coded_;
    bool more_decoded_ = false;  // the last piece filled decoded_: more may be pending
    bool done_ = true;         // the message ended (eof from now on)
    bool closed_ = false;      // closed before its end
    bool reading_ = false;     // a read of the connection is pending (on the strand)
    std::error_code failed_;   // a read failed; repeated on later reads
    headers trailers_;
    std::shared_ptr<unread_watch> watch_;  // the leak diagnostic, when enabled
};

} // namespace leash::detail
