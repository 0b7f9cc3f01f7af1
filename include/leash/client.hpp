/// \file
/// leash/client.hpp - a convenience layer over a transport: a base URL, default headers,
/// application-level retries and redirects.
#pragma once

#include <leash/client_options.hpp>
#include <leash/detail/client_state.hpp>
#include <leash/detail/spawn.hpp>
#include <leash/request.hpp>
#include <leash/response.hpp>
#include <leash/transport.hpp>

#include <asio.hpp>

#include <cstdint>
#include <memory>

namespace leash {

/// A convenience layer over a transport: a base URL, default headers, application-level
/// retries and redirects.
///
/// client::async_send(request, token) completes with (std::error_code, response) like
/// transport::async_send. A request URL without a scheme ("/chat/completions") is appended to
/// client_options::base_url. Fields of default_headers are added unless the request has them.
/// A request that fails to connect, or is answered with one of retry_policy::retry_statuses,
/// is sent again after a backoff (or the delay the server asks for with Retry-After /
/// retry-after-ms) when it is replayable (see leash/request.hpp) or the outcome proves it was
/// not processed (see leash/retry_policy.hpp); the body of a response that is retried is
/// discarded, never handed to the caller. The last outcome is delivered as it is.
///
/// A request with a body source is sent again only if the source can start over (see
/// leash/body_source.hpp, `rewind`); otherwise the last outcome is delivered. Retries are
/// bounded by a budget shared by the client's calls (retry_policy::budget_ratio), and a whole
/// call by client_options::call_timeout (error::call_timeout).
///
/// Redirects are followed as client_options::redirect says (leash/redirect_policy.hpp); each
/// hop is one request as above, with its own retries. response::url and response::redirects
/// say where the response delivered came from.
///
/// \threadsafety
/// As for transport: every member function may be called from any thread concurrently.
///
/// \lifetime
/// As for transport: the client owns its transport; destroying it shuts the transport down
/// (see transport.hpp), also while calls are in flight: they keep what they use alive and
/// complete as the transport's contract says. Cancellation is honoured during backoff too.
///
/// \errors
/// The transport's codes (see transport), the redirect codes (see redirect_policy) and
/// error::call_timeout when client_options::call_timeout passes.
class client {
public:
    /// The transport's executor type.
    using executor_type = leash::transport::executor_type;

    /// A client whose transport runs on `ex` with the options `topts`.
    explicit client(executor_type ex, client_options options = {}, transport_options topts = {})
        : state_(detail::client_state::create(std::move(options), std::move(ex), std::move(topts)))
    {
    }
    /// A client whose transport runs on the executor of `ctx` (e.g. an asio::io_context).
    template <class ExecutionContext>
        requires std::is_convertible_v<ExecutionContext&, asio::execution_context&>
    explicit client(ExecutionContext& ctx, client_options options = {}, transport_options topts = {})
        : client(ctx.get_executor(), std::move(options), std::move(topts))
    {
    }

    /// Not copyable: a client owns its transport.
    client(const client&) = delete;
    /// Not copyable: a client owns its transport.
    client& operator=(const client&) = delete;
    /// Shuts the transport down (see transport.hpp); calls in flight keep what they use alive
    /// and end as the transport's contract says.
    ~client() { state_->transport.shutdown(); }

    /// The transport the client sends through (its stats(), shutdown(), ...).
    leash::transport& transport() noexcept { return state_->transport; }
    /// The options given at construction.
    const client_options& options() const noexcept { return state_->options; }

    /// Retries made by this client (not counting the transport's stale-connection retries).
    std::uint64_t retries() const noexcept { return state_->retries.load(); }
    /// Retries the retry budget refused (see retry_policy::budget_ratio).
    std::uint64_t retries_refused() const noexcept { return state_->retries_refused.load(); }

    /// Sends `req` with the client's base URL, default headers, retries and redirects;
    /// completes with (std::error_code, response) like transport::async_send.
    ///
    /// \completion `void(std::error_code, leash::response)`
    /// \tparam Token any Asio completion token.
    template <class Token = asio::default_completion_token_t<executor_type>>
    auto async_send(request req, Token&& token = {})
    {
        return detail::spawn_operation(state_->transport.get_executor(),
                                       detail::make_operation([&](detail::operation_entry entry) {
                                           return detail::client_state::send(state_, std::move(req), entry);
                                       }),
                                       std::forward<Token>(token));
    }

private:
    std::shared_ptr<detail::client_state> state_;
};

} // namespace leash
