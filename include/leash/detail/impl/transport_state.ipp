// transport_state: returning and closing connections, the idle reaper, and shutdown.
// (Included at the end of detail/transport_state.hpp in header-only mode, by leash/src.hpp
// otherwise.)
#pragma once

#include <leash/detail/transport_state.hpp>

namespace leash::detail {

LEASH_DECL transport_state::transport_state(asio::any_io_executor ex, transport_options options)
    : executor_(std::move(ex))
    , options_(std::move(options))
    , pool_(make_pool_limits(options_))
    , tls_(options_.tls)
    , proxy_(proxy_choice::parse(options_.proxy))  // throws if a proxy URL is invalid
    , reaper_(asio::make_strand(executor_))
{
    for (const auto& [host, addresses] : options_.resolve_overrides)
        for (const auto& text : addresses)
            resolve_overrides_[host].push_back(asio::ip::make_address(text));  // throws if invalid
}

LEASH_DECL void transport_state::release(connection_ptr c, bool reusable)
{
    std::vector<pool_type::closing> to_close;
    waiter_ptr woken;
    std::vector<waiter_ptr> drained;
    // (Traced after the pool kept it: the connection is then another request's to use.)
    const tracer trace(options_.trace.get(), c->lease_trace.get());
    std::optional<put_idle_event> kept;
    if (trace && reusable)
        kept = put_idle_event{c->key, c->id, {}};
    auto lease_trace = std::move(c->lease_trace);
    {
        std::lock_guard lock(mutex_);
        const auto now = clock::now();
        const auto expiry = now + std::min(c->idle_timeout, pool_.limits().idle_conn_timeout);
        c->idle_since = now;
        const connection* const raw = c.get();
        const std::string& key = c->key;  // the connection outlives the call (pool or to_close)
        woken = record_grant(pool_.release(key, std::move(c), reusable, now, expiry - now, to_close));
        count_closed(to_close);
        for (auto& x : to_close)
            if (x.conn.get() == raw) {
                kept.reset();
                x.conn->lease_trace = lease_trace;  // its closing is still this request's event
            }
        if (kept)
            kept->idle_timeout = expiry - now;
        if (pool_.idle_total() > 0)
            schedule_reaper(expiry);
        drained = due_drain_waiters();
    }
    if (kept)
        trace(&trace_hooks::put_idle, *kept);
    close_all(to_close);
    wake(woken);
    wake(drained);
}

LEASH_DECL void transport_state::close_leased(connection_ptr c, close_reason why)
{
    waiter_ptr woken;
    std::vector<waiter_ptr> drained;
    {
        std::lock_guard lock(mutex_);
        book_.count_closed(*c, why);
        woken = record_grant(pool_.closed(c->key));
        drained = due_drain_waiters();
    }
    retire(std::move(c), why);
    wake(woken);
    wake(drained);
}

LEASH_DECL void transport_state::retire(connection_ptr c, close_reason why)
{
    {
        std::lock_guard lock(mutex_);
        live_.erase(c.get());
    }
    if (const tracer trace(options_.trace.get(), c->lease_trace.get()); trace)
        trace(&trace_hooks::connection_closed, connection_closed_event{c->key, c->id, why, c->requests});
    c->lease_trace.reset();
    const bool broken = why == close_reason::error || why == close_reason::dead_at_checkout;
    if (c->stream.is_tls()) {
        SSL* ssl = c->stream.tls().native_handle();
        tls_client::detach(ssl);
        // Without this, OpenSSL would mark the cached session unresumable when an SSL object
        // is freed without having sent close_notify.
        if (!c->tls_established || broken || !c->stream.is_open())
            SSL_set_shutdown(ssl, SSL_SENT_SHUTDOWN | SSL_RECEIVED_SHUTDOWN);
    }
    if (!c->tls_established || broken || !c->stream.is_open()) {
        c->stream.close();
        return;
    }
    asio::co_spawn(asio::make_strand(executor_), close_gracefully(std::move(c), options_.tls_close_timeout),
                   asio::detached);
}

LEASH_DECL asio::awaitable<void> transport_state::close_gracefully(connection_ptr c, clock::duration limit)
{
    asio::steady_timer timer(co_await asio::this_coro::executor, limit);
    timer.async_wait([c](std::error_code ec) {
        if (!ec)
            c->stream.close();
    });
    // Send close_notify without waiting for the peer's (HTTP needs no reply to it).
    SSL_set_shutdown(c->stream.tls().native_handle(), SSL_RECEIVED_SHUTDOWN);
    std::error_code ignored;
    co_await c->stream.tls().async_shutdown(asio::redirect_error(asio::use_awaitable, ignored));
    timer.cancel();
    c->stream.close();
}

// Under the lock: a connection became idle, expiring at `expiry`; the reaper wakes by then.
LEASH_DECL void transport_state::schedule_reaper(clock::time_point expiry)
{
    if (reaper_at_ && *reaper_at_ <= expiry)
        return;
    reaper_at_ = expiry;
    asio::post(reaper_.get_executor(), [weak = weak_from_this()] {
        if (auto self = weak.lock())
            self->arm_reaper();
    });
}

// On the reaper's strand.
LEASH_DECL void transport_state::arm_reaper()
{
    std::optional<clock::time_point> at;
    {
        std::lock_guard lock(mutex_);
        at = reaper_at_;
    }
    if (!at) {
        reaper_.cancel();
        return;
    }
    reaper_.expires_at(*at);
    reaper_.async_wait([weak = weak_from_this()](std::error_code ec) {
        if (ec)
            return;
        if (auto self = weak.lock())
            self->reap();
    });
}

// On the reaper's strand: closes expired idle connections and sleeps until the next expiry.
LEASH_DECL void transport_state::reap()
{
    std::vector<pool_type::closing> expired;
    {
        std::lock_guard lock(mutex_);
        expired = pool_.expire(clock::now());
        count_closed(expired);
        reaper_at_ = pool_.next_expiry();
    }
    close_all(expired);
    arm_reaper();
}

LEASH_DECL void transport_state::shutdown()
{
    std::vector<pool_type::closing> to_close;
    std::vector<waiter_ptr> waiters;
    {
        std::lock_guard lock(mutex_);
        if (pool_.is_shut_down())
            return;
        pool_.shutdown(to_close, waiters);
        count_closed(to_close);
        for (auto& w : waiters)
            w->failure = error::shut_down;
        reaper_at_.reset();
    }
    close_all(to_close);
    wake(waiters);
    close_by_shutdown(live_connections(true));
    asio::post(reaper_.get_executor(), [self = shared_from_this()] { self->reaper_.cancel(); });
}

LEASH_DECL std::vector<transport_state::owned_connection> transport_state::live_connections(bool dialing_only) const
{
    std::vector<owned_connection> out;
    std::lock_guard lock(mutex_);
    for (auto& [raw, weak] : live_)
        if (auto c = weak.lock(); c && (c->dialing || !dialing_only))
            out.push_back({c, c->owner});
    return out;
}

// Closes each connection on the strand that uses it; its operation fails with shut_down.
LEASH_DECL void transport_state::close_by_shutdown(const std::vector<owned_connection>& connections)
{
    for (const auto& x : connections) {  // (clang 14 cannot capture a structured binding)
        asio::post(x.owner, [c = x.conn] {
            c->closed_by_shutdown = true;
            c->stream.close();
        });
    }
}

LEASH_DECL asio::awaitable<std::error_code> transport_state::drain(std::shared_ptr<transport_state> self,
                                                               clock::duration grace, operation_entry entry)
{
    co_await entry.begin();
    // (A cancellation that came before the first step is in this state only.)
    if (is_canceled(co_await asio::this_coro::cancellation_state))
        co_return std::error_code(asio::error::operation_aborted);
    co_await asio::this_coro::reset_cancellation_state(asio::enable_total_cancellation());
    auto& s = *self;
    s.shutdown();
    auto w = std::make_shared<pool_waiter>(co_await asio::this_coro::executor);
    {
        std::lock_guard lock(s.mutex_);
        if (s.pool_.empty())
            co_return std::error_code{};
        s.drain_waiters_.push_back(w);
    }
    w->timer.expires_after(grace);
    std::error_code ec;
    co_await w->timer.async_wait(asio::redirect_error(asio::use_awaitable, ec));
    const bool canceled = is_canceled(co_await asio::this_coro::cancellation_state);
    {
        std::lock_guard lock(s.mutex_);
        std::erase(s.drain_waiters_, w);
        if (s.pool_.empty())
            co_return std::error_code{};
    }
    if (canceled)
        co_return asio::error::operation_aborted;  // stop waiting; the shutdown stands
    close_by_shutdown(s.live_connections(false));
    co_return error::shutdown_incomplete;
}

} // namespace leash::detail
