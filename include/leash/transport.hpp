/// \file
/// leash/transport.hpp - sends requests over a bounded pool of keep-alive connections.
#pragma once

#include <leash/detail/config.hpp>
#include <leash/detail/spawn.hpp>
#include <leash/request.hpp>
#include <leash/response.hpp>
#include <leash/stats.hpp>
#include <leash/transport_options.hpp>

#include <asio.hpp>

#include <memory>

namespace leash {
namespace detail {
class transport_state;
}

/// Sends requests over a bounded pool of keep-alive connections.
///
/// A transport owns its options and a per-host pool (see transport_options for every bound and
/// timeout). async_send(request, token) completes with (std::error_code, response) once the
/// final response head has arrived; the response's body then owns the connection (see
/// leash::body). Any Asio completion token works. Per-operation cancellation (terminal,
/// partial and total alike) is honoured while waiting for the pool, resolving, connecting,
/// handshaking, writing and waiting for the head, and ends the request promptly with
/// asio::error::operation_aborted (its connection is closed). The operation runs on a strand
/// of the completion handler's executor: emit cancellation there.
///
/// A request that fails on a reused connection before any response byte arrived is sent again
/// transparently when that is safe (leash/request.hpp, `replayable`).
///
/// \threadsafety
/// Every member function may be called from any thread concurrently. Each request runs on its
/// own strand of the executor.
///
/// \lifetime
/// shutdown() (called by the destructor) closes idle connections, fails queued requests with
/// error::shut_down and refuses new ones. A request still dialing fails with error::shut_down
/// at once (its connect or TLS handshake is aborted; a DNS lookup under way is left to end
/// first, within resolve_timeout). Requests past dialing and live bodies keep the machinery
/// alive until they end; their connections are then closed, not pooled. The destructor may run
/// on any thread, at any moment, also while requests are in flight: each operation holds what
/// it uses and calls its handler exactly once. While idle connections exist the transport
/// keeps one timer pending on the executor (to close them on time); after shutdown() and once
/// every response is gone, leash has no work left on it.
///
/// \errors
/// Invalid input fails before any I/O with a code that says why (condition::invalid_request);
/// each phase's timeout has its own code (condition::timeout); error::pool_overloaded when the
/// host's queue is full; error::shut_down after shutdown(); errors of the operating system as
/// Asio reports them; asio::error::operation_aborted on cancellation (see leash/error.hpp).
class transport {
public:
    /// The executor the transport's operations run on (each on a strand of it).
    using executor_type = asio::any_io_executor;

    /// A transport whose operations run on `ex`, bounded and timed by `options`.
    explicit transport(executor_type ex, transport_options options = {});
    /// A transport whose operations run on the executor of `ctx` (e.g. an asio::io_context).
    template <class ExecutionContext>
        requires std::is_convertible_v<ExecutionContext&, asio::execution_context&>
    explicit transport(ExecutionContext& ctx, transport_options options = {})
        : transport(ctx.get_executor(), std::move(options))
    {
    }

    /// Not copyable: a transport owns its pool.
    transport(const transport&) = delete;
    /// Not copyable: a transport owns its pool.
    transport& operator=(const transport&) = delete;
    /// Calls shutdown(); does not wait for requests in flight.
    ~transport();

    /// The executor given at construction.
    executor_type get_executor() const noexcept;
    /// The options given at construction.
    const transport_options& options() const noexcept;

    /// Sends `req`; completes with (std::error_code, response).
    ///
    /// \completion `void(std::error_code, leash::response)`
    /// \tparam Token any Asio completion token.
    template <class Token = asio::default_completion_token_t<executor_type>>
    auto async_send(request req, Token&& token = {})
    {
        return detail::spawn_operation(get_executor(), detail::make_operation([&](detail::operation_entry entry) {
                                           return send_op(state_, std::move(req), entry);
                                       }),
                                       std::forward<Token>(token));
    }

    /// Closes idle connections, fails waiters (error::shut_down), refuses new requests; does
    /// not wait. Requests in flight finish; their connections are then closed. Idempotent.
    void shutdown();

    /// shutdown(), then completes with (std::error_code) once nothing is in flight any more
    /// (no request, dial or body holding a connection), or once `grace` has passed: then every
    /// remaining connection is closed, the operations using them fail with error::shut_down,
    /// and this completes with error::shutdown_incomplete. Canceling it only stops the wait.
    ///
    /// \completion `void(std::error_code)`
    /// \tparam Token any Asio completion token.
    template <class Token = asio::default_completion_token_t<executor_type>>
    auto async_shutdown(std::chrono::milliseconds grace, Token&& token = {})
    {
        return detail::spawn_operation(get_executor(), detail::make_operation([&](detail::operation_entry entry) {
                                           return drain_op(state_, grace, entry);
                                       }),
                                       std::forward<Token>(token));
    }

    /// A consistent snapshot of the pool's gauges and counters.
    transport_stats stats() const;
    /// Just the gauges summed over hosts (stats().total), without copying anything per host:
    /// cheap enough to call after every request.
    pool_gauges gauges() const;

private:
    // The operations' coroutines (detail::transport_state's).
    static asio::awaitable<detail::op_result<response>> send_op(std::shared_ptr<detail::transport_state> state,
                                                                request req, detail::operation_entry entry);
    static asio::awaitable<std::error_code> drain_op(std::shared_ptr<detail::transport_state> state,
                                                     std::chrono::milliseconds grace, detail::operation_entry entry);

    std::shared_ptr<detail::transport_state> state_;
};

} // namespace leash

#if defined(LEASH_HEADER_ONLY)
#include <leash/impl/transport.ipp>
#endif
