/// \file
/// leash/body.hpp - the body of a response, as a move-only handle that owns the connection.
#pragma once

#include <leash/detail/config.hpp>
#include <leash/detail/spawn.hpp>
#include <leash/error.hpp>
#include <leash/headers.hpp>

#include <asio.hpp>

#include <cstddef>
#include <memory>
#include <string>

namespace leash {
namespace detail {
class body_core;
}

/// The body of a response, as a move-only handle that owns the connection.
///
/// Read it with async_read_some (Asio's AsyncReadStream shape: asio::error::eof at the end) or
/// async_read_all(limit). Reaching the end of a keep-alive message returns the connection to
/// the pool at once, before the final read completes. close(), or destroying the handle, before
/// the end closes the connection (unless the rest of the message is already buffered, which is
/// then discarded and the connection kept), so a forgotten body cannot pin a connection.
///
/// Every read is bounded by transport_options::body_read_timeout (silence between bytes) and the
/// request's total deadline, and honours per-operation cancellation (which closes the
/// connection).
///
/// A small body that arrived whole with the head is taken at once and its connection returned
/// before async_send completes; reads of it, like reads after the end, complete without I/O
/// (posted to the handler's executor, never inline).
///
/// \threadsafety
/// A body is used by one thread at a time, like an Asio socket; destroying it is safe on any
/// thread, also while a read is in flight (the read then fails). close() is safe on any thread.
///
/// \lifetime
/// The body holds the connection's lease from the response until it is read to its end, closed
/// or destroyed; the lease ends exactly once. A read in flight keeps what it uses alive.
///
/// \errors
/// asio::error::eof at the end; error::body_closed after close() (or on a default-constructed
/// or moved-from body); error::body_too_large when async_read_all passes its limit;
/// asio::error::operation_aborted when a read is canceled; error::body_read_timeout or
/// error::request_timeout when the peer is silent too long; error::unexpected_eof,
/// error::invalid_chunk and the other codes of the peer and the protocol when the message is
/// cut short or malformed; the decoding codes when a decoded body is invalid.
class body {
public:
    /// The executor type of the body's strand.
    using executor_type = asio::any_io_executor;

    /// A body that holds no connection: its reads fail with error::body_closed.
    body() = default;
    /// Takes over the reading state of a response (made by the transport).
    explicit body(std::shared_ptr<detail::body_core> core) noexcept : core_(std::move(core)) {}
    /// Moves the connection's lease; `other` is left holding none.
    body(body&&) noexcept = default;
    /// Closes this body (see close()), then takes over `other`'s lease.
    body& operator=(body&& other) noexcept
    {
        if (this != &other) {
            close();
            core_ = std::move(other.core_);
        }
        return *this;
    }
    /// Closes the body (see close()).
    ~body() { close(); }

    /// The strand the body's reads run on. A default-constructed or moved-from body has none
    /// (its reads fail with error::body_closed on the handler's associated executor).
    executor_type get_executor() const noexcept;

    /// Reads at least one byte into `buffers` (its first non-empty buffer). Completes with
    /// (error_code, bytes). At the end: asio::error::eof. After close(): error::body_closed.
    ///
    /// \completion `void(std::error_code, std::size_t)`
    /// \tparam MutableBufferSequence an Asio mutable buffer sequence.
    /// \tparam Token any Asio completion token.
    template <class MutableBufferSequence, class Token = asio::default_completion_token_t<executor_type>>
    auto async_read_some(const MutableBufferSequence& buffers, Token&& token = {})
    {
        asio::mutable_buffer first;
        for (auto it = asio::buffer_sequence_begin(buffers); it != asio::buffer_sequence_end(buffers); ++it)
            if (asio::mutable_buffer b(*it); b.size() > 0) {
                first = b;
                break;
            }
        return asio::async_initiate<Token, void(std::error_code, std::size_t)>(initiate_read_some{core_}, token,
                                                                             first);
    }

    /// Reads the rest of the body. Completes with (error_code, std::string). More than `limit`
    /// bytes: error::body_too_large (and the connection is closed). On an error the string
    /// holds what was read before it (without the piece that would have passed the limit).
    ///
    /// \completion `void(std::error_code, std::string)`
    /// \tparam Token any Asio completion token.
    template <class Token = asio::default_completion_token_t<executor_type>>
    auto async_read_all(std::size_t limit, Token&& token = {})
    {
        return asio::async_initiate<Token, void(std::error_code, std::string)>(initiate_read_all{core_}, token, limit);
    }

    /// Ends the lease now (see the class's description). Idempotent. Safe on any thread. Later
    /// reads complete on the body's strand with error::body_closed.
    void close() noexcept;

    /// True once the whole message was read (the connection went back to the pool or closed).
    bool is_done() const noexcept;
    /// True while this body holds a connection.
    bool holds_connection() const noexcept;
    /// Trailer fields of a chunked body, available once is_done().
    const headers& trailers() const noexcept;

private:
    // The initiations of the reads: one per operation, deciding when the read starts (which,
    // with a deferred token, is not when it is asked for) between a result known without I/O,
    // posted to the handler's executor, and a read on the body's strand.
    struct initiate_read_some {
        std::shared_ptr<detail::body_core> core;

        template <class Handler>
        void operator()(Handler&& handler, asio::mutable_buffer out) const
        {
            if (!core)
                detail::post_result(std::forward<Handler>(handler), asio::system_executor(),
                                    detail::failed<std::size_t>(error::body_closed));
            else if (completes_without_io(*core))
                detail::post_result(std::forward<Handler>(handler), executor_of(*core), read_some_now(*core, out));
            else
                detail::start_operation(std::forward<Handler>(handler), false, executor_of(*core),
                                        detail::make_operation([&](detail::operation_entry entry) {
                                            return read_some_op(reading{core}, out, entry);
                                        }));
        }
    };

    struct initiate_read_all {
        std::shared_ptr<detail::body_core> core;

        template <class Handler>
        void operator()(Handler&& handler, std::size_t limit) const
        {
            if (!core)
                detail::post_result(std::forward<Handler>(handler), asio::system_executor(),
                                    detail::failed<std::string>(error::body_closed));
            else if (completes_without_io(*core))
                detail::post_result(std::forward<Handler>(handler), executor_of(*core), read_all_now(*core, limit));
            else
                detail::start_operation(std::forward<Handler>(handler), false, executor_of(*core),
                                        detail::make_operation([&](detail::operation_entry entry) {
                                            return read_all_op(reading{core}, limit, entry);
                                        }));
        }
    };

    // Counts a read in flight from its initiation (so that close() on another thread posts to
    // the strand) until its coroutine ends, or is destroyed without having run.
    class reading {
    public:
        explicit reading(std::shared_ptr<detail::body_core> core) noexcept;
        reading(reading&& other) noexcept = default;
        reading(const reading&) = delete;
        reading& operator=(const reading&) = delete;
        reading& operator=(reading&&) = delete;
        ~reading();
        detail::body_core& core() const noexcept { return *core_; }

    private:
        std::shared_ptr<detail::body_core> core_;
    };

    // What the initiations ask of the body's core.
    static bool completes_without_io(const detail::body_core& core) noexcept;
    static asio::any_io_executor executor_of(const detail::body_core& core) noexcept;
    static detail::op_result<std::size_t> read_some_now(detail::body_core& core, asio::mutable_buffer out);
    static detail::op_result<std::string> read_all_now(detail::body_core& core, std::size_t limit);

    // Whether the read was canceled before it began (then it ends the lease, as close() does).
    static asio::awaitable<bool> canceled_before_start(detail::body_core& core);

    static asio::awaitable<detail::op_result<std::size_t>> read_some_op(reading r, asio::mutable_buffer out, detail::operation_entry entry);

    static asio::awaitable<detail::op_result<std::string>> read_all_op(reading r, std::size_t limit, detail::operation_entry entry);

    std::shared_ptr<detail::body_core> core_;
};

} // namespace leash

#if defined(LEASH_HEADER_ONLY)
#include <leash/impl/body.ipp>
#endif
