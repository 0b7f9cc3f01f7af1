// leash/body.hpp - the body of a response, as a move-only handle that owns the connection.
//
// Read it with async_read_some (Asio's AsyncReadStream shape: asio::error::eof at the end) or
// async_read_all(limit). Reaching the end of a keep-alive message returns the connection to
// the pool at once, before the final read completes. close(), or destroying the handle, before
// the end closes the connection (unless the rest of the message is already buffered, which is
// then discarded and the connection kept), so a forgotten body cannot pin a connection.
//
// Every read is bounded by transport_options::body_read_timeout (silence between bytes) and the
// request's total deadline, and honours per-operation cancellation (which closes the
// connection). A body is used by one thread at a time, like an Asio socket; destroying it
// is safe on any thread, also while a read is in flight (the read then fails).
//
// A small body that arrived whole with the head is taken at once and its connection returned
// before async_send completes; reads of it, like reads after the end, complete without I/O
// (posted to the handler's executor, never inline).
#pragma once

#include <leash/detail/body_core.hpp>
#include <leash/error.hpp>
#include <leash/headers.hpp>

#include <asio.hpp>

#include <cstddef>
#include <memory>
#include <string>

namespace leash {

class body {
public:
    using executor_type = asio::any_io_executor;

    body() = default;
    explicit body(std::shared_ptr<detail::body_core> core) noexcept : core_(std::move(core)) {}
    body(body&&) noexcept = default;
    body& operator=(body&& other) noexcept
    {
        if (this != &other) {
            close();
            core_ = std::move(other.core_);
        }
        return *this;
    }
    ~body() { close(); }

    // The strand the body's reads run on. A default-constructed or moved-from body has none
    // (its reads fail with error::body_closed on the handler's associated executor).
    executor_type get_executor() const noexcept { return core_ ? core_->executor() : executor_type{}; }

    // Reads at least one byte into `buffers` (its first non-empty buffer). Completes with
    // (error_code, bytes). At the end: asio::error::eof. After close(): error::body_closed.
    template <class MutableBufferSequence, class Token = asio::default_completion_token_t<executor_type>>
    auto async_read_some(const MutableBufferSequence& buffers, Token&& token = {})
    {
        asio::mutable_buffer first;
        for (auto it = asio::buffer_sequence_begin(buffers); it != asio::buffer_sequence_end(buffers); ++it)
            if (asio::mutable_buffer b(*it); b.size() > 0) {
                first = b;
                break;
            }
        if (!core_)
            return detail::spawn_operation_on(
                fallback_executor(token), closed_result<std::size_t>(), std::forward<Token>(token));
        if (core_->completes_without_io())
            return detail::complete_posted(core_->executor(), core_->read_some_now(first), std::forward<Token>(token));
        ++core_->reads_in_flight;  // before initiation: close() from another thread must post
        return detail::spawn_operation_on(core_->executor(), read_some_op(core_, first),
                                                    std::forward<Token>(token));
    }

    // Reads the rest of the body. Completes with (error_code, std::string). More than `limit`
    // bytes: error::body_too_large (and the connection is closed). On an error the string
    // holds what was read before it (without the piece that would have passed the limit).
    template <class Token = asio::default_completion_token_t<executor_type>>
    auto async_read_all(std::size_t limit, Token&& token = {})
    {
        if (!core_)
            return detail::spawn_operation_on(
                fallback_executor(token), closed_result<std::string>(), std::forward<Token>(token));
        if (core_->completes_without_io())
            return detail::complete_posted(core_->executor(), core_->read_all_now(limit), std::forward<Token>(token));
        ++core_->reads_in_flight;
        return detail::spawn_operation_on(core_->executor(), read_all_op(core_, limit),
                                                    std::forward<Token>(token));
    }

    // Ends the lease now (see above). Idempotent. Safe on any thread. Later reads complete
    // on the body's strand with error::body_closed.
    void close() noexcept
    {
        if (!core_)
            return;
        if (core_->reads_in_flight.load() == 0)
            core_->close();
        else
            asio::post(core_->executor(), [core = core_] { core->close(); });
    }

    // True once the whole message was read (the connection went back to the pool or closed).
    bool is_done() const noexcept { return core_ && core_->done(); }
    // True while this body holds a connection.
    bool holds_connection() const noexcept { return core_ && core_->holds_connection(); }
    // Trailer fields of a chunked body, available once is_done().
    const headers& trailers() const noexcept
    {
        static const headers none;
        return core_ ? core_->trailers() : none;
    }

private:
    template <class Token>
    static asio::any_io_executor fallback_executor(Token& token)
    {
        return asio::make_strand(asio::get_associated_executor(token, asio::system_executor()));
    }

    template <class T>
    static asio::awaitable<detail::op_result<T>> closed_result()
    {
        co_return detail::op_result<T>{error::body_closed, T{}};
    }

    static asio::awaitable<detail::op_result<std::size_t>> read_some_op(std::shared_ptr<detail::body_core> core,
                                                                        asio::mutable_buffer out)
    {
        auto r = co_await core->read_some(out);
        --core->reads_in_flight;
        co_return r;
    }

    static asio::awaitable<detail::op_result<std::string>> read_all_op(std::shared_ptr<detail::body_core> core,
                                                                      std::size_t limit)
    {
        auto r = co_await core->read_all(limit);
        --core->reads_in_flight;
        co_return r;
    }

    std::shared_ptr<detail::body_core> core_;
};

} // namespace leash
