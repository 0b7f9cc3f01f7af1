// The Asio shell around the pool: runs requests as coroutines on per-request strands, dials,
// writes, reads response heads, and feeds pool_core the events it decides on. Shared by the
// transport handle, running requests and live bodies, so it outlives whichever goes last.
//
// Locking: mutex_ guards pool_, counters_, the reaper deadline, the drain waiters, the
// registry of live connections, every connection's owner executor and every pool_waiter's
// grant fields. Sockets are only touched by the strand of the request or body that leases
// them, or under no lease at all (idle connections are closed by whoever removes them; a
// shutdown deadline closes leased ones by posting to their owner strand).
#pragma once

#include <leash/detail/body_core.hpp>
#include <leash/detail/connection.hpp>
#include <leash/detail/phase_timer.hpp>
#include <leash/detail/pool_core.hpp>
#include <leash/detail/request_writer.hpp>
#include <leash/detail/retry.hpp>
#include <leash/detail/spawn.hpp>
#include <leash/detail/tls_client.hpp>
#include <leash/detail/tracer.hpp>
#include <leash/error.hpp>
#include <leash/tls_error.hpp>
#include <leash/request.hpp>
#include <leash/response.hpp>
#include <leash/stats.hpp>
#include <leash/transport_options.hpp>
#include <leash/url.hpp>

#include <asio.hpp>

#include <algorithm>
#include <array>
#include <charconv>
#include <cstdio>
#include <memory>
#include <mutex>
#include <optional>
#include <unordered_map>
#include <vector>

namespace leash::detail {

// A request queued for a connection.
struct pool_waiter {
    explicit pool_waiter(const asio::any_io_executor& ex) : timer(ex) {}
    asio::steady_timer timer;  // the wait; canceled to wake the waiter
    // Guarded by transport_state's mutex:
    bool granted = false;
    std::shared_ptr<connection> conn;  // the connection granted, or null: dial in a reserved slot
    std::error_code failure;           // shut down while waiting
};

using connection_ptr = std::shared_ptr<connection>;
using waiter_ptr = std::shared_ptr<pool_waiter>;
using pool_type = pool_core<connection_ptr, waiter_ptr>;

inline pool_limits make_pool_limits(const transport_options& o)
{
    pool_limits l;
    l.max_conns_per_host = std::max<std::size_t>(1, o.max_conns_per_host);
    l.max_pending_per_host = o.max_pending_per_host;
    l.max_idle_conns_per_host = o.max_idle_conns_per_host;
    l.max_idle_conns = o.max_idle_conns;
    l.idle_conn_timeout = o.idle_conn_timeout;
    return l;
}

// "scheme://host:port", the pool's per-host key.
inline std::string pool_key(const url& u)
{
    std::string key;
    key.reserve(u.scheme().size() + u.host().size() + 12);
    key.append(u.scheme()).append("://");
    if (u.is_ipv6_literal())
        key.append("[").append(u.host()).append("]");
    else
        key.append(u.host());
    char digits[8];
    const auto end = std::to_chars(digits, digits + sizeof digits, u.port()).ptr;
    return std::move(key.append(":").append(digits, static_cast<std::size_t>(end - digits)));
}

inline bool is_canceled(const asio::cancellation_state& s)
{
    return s.cancelled() != asio::cancellation_type::none;
}

// Whether the rest of a Content-Length body is in the read buffer already (small responses
// arrive with their head): it is then taken at once and the connection goes straight back.
inline bool whole_body_buffered(const connection& c)
{
    const auto length = c.parser.content_length();
    return length && *length <= c.parser.pending_body_size() + c.buffered_size();
}

// Parses the buffered rest of the message into `out`.
inline std::error_code take_buffered_body(connection& c, std::string& out)
{
    out.reserve(static_cast<std::size_t>(*c.parser.content_length()));
    std::error_code ec;
    while (!c.parser.message_done()) {
        if (c.parser.has_body()) {
            out.append(c.parser.take_body());
            continue;
        }
        const auto used = c.parser.feed(c.buffered_data(), c.buffered_size(), ec);
        c.consume(used);
        if (ec)
            return ec;
        if (used == 0 && !c.parser.has_body() && !c.parser.message_done())
            return error::malformed_response;  // cannot happen with a complete Content-Length body
    }
    return {};
}

class transport_state : public std::enable_shared_from_this<transport_state> {
public:
    transport_state(asio::any_io_executor ex, transport_options options)
        : executor_(std::move(ex))
        , options_(std::move(options))
        , pool_(make_pool_limits(options_))
        , tls_(options_.tls)
        , reaper_(asio::make_strand(executor_))
    {
        for (const auto& [host, addresses] : options_.resolve_overrides)
            for (const auto& text : addresses)
                resolve_overrides_[host].push_back(asio::ip::make_address(text));  // throws if invalid
    }

    const transport_options& options() const noexcept { return options_; }
    const asio::any_io_executor& executor() const noexcept { return executor_; }

    // The whole request, up to a response whose body may still be unread.
    asio::awaitable<op_result<response>> send(request req);

    // A leased connection comes back from a finished message.
    void release(connection_ptr c, bool reusable);
    // A leased connection is closed instead of returned.
    void close_leased(connection_ptr c, close_reason why);

    void body_opened(const std::string& key)
    {
        std::lock_guard lock(mutex_);
        pool_.body_opened(key);
    }
    void body_closed(const std::string& key)
    {
        std::vector<waiter_ptr> drained;
        {
            std::lock_guard lock(mutex_);
            pool_.body_closed(key);
            drained = take_drained();
        }
        wake(drained);
    }
    void count_timeout(const std::string& key, std::error_code ec);

    void shutdown();
    // shutdown(), then waits until nothing is in flight, at most `grace`; then closes what
    // remains (error::shutdown_incomplete).
    asio::awaitable<std::error_code> drain(clock::duration grace);

    pool_gauges gauges() const
    {
        std::lock_guard lock(mutex_);
        return pool_.totals();
    }

    transport_stats stats() const
    {
        std::lock_guard lock(mutex_);
        transport_stats s = counters_;
        pool_.fill(s);
        return s;
    }

private:
    struct acquired {
        connection_ptr conn;
        bool reused = false;
    };

    phase_limits resolve_limits(const request_timeouts& overrides) const;
    asio::awaitable<op_result<acquired>> acquire(const std::string& key, const url& u, const phase_limits& limits,
                                                phase_timer& timer, const request_trace& trace);
    asio::awaitable<op_result<acquired>> dial_in_slot(const std::string& key, const url& u,
                                                     const phase_limits& limits, phase_timer& timer,
                                                     const request_trace& trace);
    asio::awaitable<std::error_code> dial(connection& c, const url& u, const phase_limits& limits,
                                          phase_timer& timer, const request_trace& trace);
    asio::awaitable<std::error_code> handshake(connection& c, const url& u, const phase_limits& limits,
                                               phase_timer& timer, const request_trace& trace);
    asio::awaitable<std::error_code> exchange(connection& c, const request& req, bool head_request,
                                              const phase_limits& limits, phase_timer& timer,
                                              attempt_facts& facts, const request_trace& trace);
    asio::awaitable<std::error_code> read_head(connection& c, bool stop_at_interim, attempt_facts& facts,
                                               const request_trace& trace);
    asio::awaitable<std::error_code> write_buffer(connection& c, asio::const_buffer data, const phase_limits& limits,
                                                  phase_timer& timer);
    asio::awaitable<std::error_code> write_source(connection& c, const body_source& src, const phase_limits& limits,
                                                  phase_timer& timer, attempt_facts& facts);

    // Under the lock: records a grant on its waiter; the caller wakes it after unlocking.
    static waiter_ptr settle(std::optional<pool_type::grant> g)
    {
        if (!g)
            return nullptr;
        g->waiter->granted = true;
        g->waiter->conn = g->conn ? std::move(*g->conn) : nullptr;
        return std::move(g->waiter);
    }
    static void wake(const waiter_ptr& w)
    {
        if (w)
            asio::post(w->timer.get_executor(), [w] { w->timer.cancel(); });
    }
    // Under the lock: once shut down and empty, the drain waiters are due.
    std::vector<waiter_ptr> take_drained()
    {
        if (!pool_.is_shut_down() || !pool_.empty())
            return {};
        return std::exchange(drain_waiters_, {});
    }
    static void wake(const std::vector<waiter_ptr>& ws)
    {
        for (auto& w : ws)
            wake(w);
    }

    void close_all(std::vector<pool_type::closing>& list)
    {
        for (auto& c : list)
            retire(std::move(c.conn), c.reason);
    }
    // Closes a connection nobody uses any more; a healthy TLS connection says close_notify
    // first, in the background, for at most tls_close_timeout.
    void retire(connection_ptr c, close_reason why);
    static asio::awaitable<void> close_gracefully(connection_ptr c, clock::duration limit);
    void count_closed(const connection& c, close_reason why);  // under the lock
    // Under the lock: adds to the totals and to the host's counters.
    template <class Count>
    void count(const std::string& key, Count add)
    {
        add(static_cast<traffic_counters&>(counters_));
        if (auto* host = host_counters(key))
            add(*host);
    }
    // The same for a connection's host, found when it was dialed.
    template <class Count>
    void count(const connection& c, Count add)
    {
        add(static_cast<traffic_counters&>(counters_));
        if (c.host_counters)
            add(*c.host_counters);
    }
    // Under the lock: the counters of `key` (entries are never removed, so pointers to them
    // stay valid); null past max_counted_hosts.
    traffic_counters* host_counters(const std::string& key)
    {
        if (auto it = counters_.host_counters.find(key); it != counters_.host_counters.end())
            return &it->second;
        if (counters_.host_counters.size() >= transport_stats::max_counted_hosts)
            return nullptr;
        return &counters_.host_counters[key];
    }
    void after_idle_change(clock::time_point expiry);        // under the lock
    void arm_reaper();
    void reap();

    asio::any_io_executor executor_;
    const transport_options options_;

    mutable std::mutex mutex_;
    pool_type pool_;
    transport_stats counters_;
    std::size_t open_now_ = 0;
    std::optional<clock::time_point> reaper_at_;

    std::vector<waiter_ptr> drain_waiters_;  // async_shutdown calls waiting for the pool to empty
    std::unordered_map<connection*, std::weak_ptr<connection>> live_;  // every connection not yet retired
    std::uint64_t next_connection_id_ = 0;  // under the lock

    tls_client tls_;
    std::map<std::string, std::vector<asio::ip::address>> resolve_overrides_;

    asio::steady_timer reaper_;
};

// ---------------------------------------------------------------------------------------

inline std::uint64_t* timeout_counter(timeout_counters& t, std::error_code ec)
{
    if (ec.category() != error_category())
        return nullptr;
    switch (static_cast<error>(ec.value())) {
    case error::pool_wait_timeout: return &t.pool_wait;
    case error::resolve_timeout: return &t.resolve;
    case error::connect_timeout: return &t.connect;
    case error::tls_handshake_timeout: return &t.tls_handshake;
    case error::write_timeout: return &t.write;
    case error::response_header_timeout: return &t.response_header;
    case error::body_read_timeout: return &t.body_read;
    case error::request_timeout: return &t.request;
    default: return nullptr;
    }
}

inline void transport_state::count_timeout(const std::string& key, std::error_code ec)
{
    timeout_counters probe;
    if (!timeout_counter(probe, ec))
        return;
    std::lock_guard lock(mutex_);
    count(key, [&](traffic_counters& c) { ++*timeout_counter(c.timeouts, ec); });
}

inline void transport_state::count_closed(const connection& conn, close_reason why)
{
    count(conn, [&](traffic_counters& c) { ++close_counter(c.closed, why); });
    --open_now_;
}

inline void transport_state::release(connection_ptr c, bool reusable)
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
        woken = settle(pool_.release(key, std::move(c), reusable, now, expiry - now, to_close));
        for (auto& x : to_close) {
            count_closed(*x.conn, x.reason);
            if (x.conn.get() == raw) {
                kept.reset();
                x.conn->lease_trace = lease_trace;  // its closing is still this request's event
            }
        }
        if (kept)
            kept->idle_timeout = expiry - now;
        if (pool_.idle_total() > 0)
            after_idle_change(expiry);
        drained = take_drained();
    }
    if (kept)
        trace(&trace_hooks::put_idle, *kept);
    close_all(to_close);
    wake(woken);
    wake(drained);
}

inline void transport_state::close_leased(connection_ptr c, close_reason why)
{
    waiter_ptr woken;
    std::vector<waiter_ptr> drained;
    {
        std::lock_guard lock(mutex_);
        count_closed(*c, why);
        woken = settle(pool_.closed(c->key));
        drained = take_drained();
    }
    retire(std::move(c), why);
    wake(woken);
    wake(drained);
}

inline void transport_state::retire(connection_ptr c, close_reason why)
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
        if (!c->tls_established || broken)
            SSL_set_shutdown(ssl, SSL_SENT_SHUTDOWN | SSL_RECEIVED_SHUTDOWN);
    }
    if (!c->tls_established || broken || !c->stream.is_open()) {
        c->stream.close();
        return;
    }
    asio::co_spawn(asio::make_strand(executor_), close_gracefully(std::move(c), options_.tls_close_timeout),
                   asio::detached);
}

inline asio::awaitable<void> transport_state::close_gracefully(connection_ptr c, clock::duration limit)
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

// A connection became idle, expiring at `expiry`: make sure the reaper wakes by then.
inline void transport_state::after_idle_change(clock::time_point expiry)
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
inline void transport_state::arm_reaper()
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
inline void transport_state::reap()
{
    std::vector<pool_type::closing> expired;
    {
        std::lock_guard lock(mutex_);
        expired = pool_.expire(clock::now());
        for (auto& x : expired)
            count_closed(*x.conn, x.reason);
        reaper_at_ = pool_.next_expiry();
    }
    close_all(expired);
    arm_reaper();
}

inline void transport_state::shutdown()
{
    std::vector<pool_type::closing> to_close;
    std::vector<waiter_ptr> waiters;
    {
        std::lock_guard lock(mutex_);
        if (pool_.is_shut_down())
            return;
        pool_.shutdown(to_close, waiters);
        for (auto& x : to_close)
            count_closed(*x.conn, x.reason);
        for (auto& w : waiters)
            w->failure = error::shut_down;
        reaper_at_.reset();
    }
    close_all(to_close);
    for (auto& w : waiters)
        wake(w);
    asio::post(reaper_.get_executor(), [self = shared_from_this()] { self->reaper_.cancel(); });
}

inline phase_limits transport_state::resolve_limits(const request_timeouts& overrides) const
{
    auto pick = [](const std::optional<std::chrono::milliseconds>& o, std::chrono::milliseconds d) {
        return std::chrono::duration_cast<clock::duration>(o.value_or(d));
    };
    phase_limits l;
    l.pool_wait = pick(overrides.pool_wait, options_.pool_wait_timeout);
    l.resolve = pick(overrides.resolve, options_.resolve_timeout);
    l.connect = pick(overrides.connect, options_.connect_timeout);
    l.tls_handshake = pick(overrides.tls_handshake, options_.tls_handshake_timeout);
    l.write = pick(overrides.write, options_.write_timeout);
    l.response_header = pick(overrides.response_header, options_.response_header_timeout);
    l.body_read = pick(overrides.body_read, options_.body_read_timeout);
    const auto total = overrides.total.value_or(options_.request_timeout);
    if (total.count() > 0)
        l.deadline = clock::now() + total;
    return l;
}

inline asio::awaitable<std::error_code> transport_state::drain(clock::duration grace)
{
    co_await asio::this_coro::throw_if_cancelled(false);
    co_await asio::this_coro::reset_cancellation_state(asio::enable_total_cancellation());
    shutdown();
    auto w = std::make_shared<pool_waiter>(co_await asio::this_coro::executor);
    {
        std::lock_guard lock(mutex_);
        if (pool_.empty())
            co_return std::error_code{};
        drain_waiters_.push_back(w);
    }
    w->timer.expires_after(grace);
    std::error_code ec;
    co_await w->timer.async_wait(asio::redirect_error(asio::use_awaitable, ec));

    const bool canceled = is_canceled(co_await asio::this_coro::cancellation_state);
    std::vector<connection_ptr> remaining;
    {
        std::lock_guard lock(mutex_);
        std::erase(drain_waiters_, w);
        if (pool_.empty())
            co_return std::error_code{};
        if (canceled)
            co_return asio::error::operation_aborted;  // stop waiting; the shutdown stands
        for (auto& [raw, weak] : live_)
            if (auto c = weak.lock())
                remaining.push_back(std::move(c));
    }
    // Each connection is closed on the strand that uses it; its operation fails with shut_down.
    for (auto& c : remaining) {
        asio::any_io_executor owner;
        {
            std::lock_guard lock(mutex_);
            owner = c->owner;
        }
        asio::post(owner, [c] {
            c->killed = true;
            c->stream.close();
        });
    }
    co_return error::shutdown_incomplete;
}

inline asio::awaitable<op_result<response>> transport_state::send(request req)
{
    co_await asio::this_coro::throw_if_cancelled(false);
    co_await asio::this_coro::reset_cancellation_state(asio::enable_total_cancellation());
    const auto strand = co_await asio::this_coro::executor;

    std::error_code ec;
    auto u = url::parse(req.url, ec);
    if (!u)
        co_return failed<response>(ec);
    if (auto bad = validate_request(req))
        co_return failed<response>(bad);

    const auto limits = resolve_limits(req.timeouts);
    const std::string key = pool_key(*u);
    const bool head_request = req.method == "HEAD";
    const bool close_requested = req.headers.has_token("Connection", "close");
    const bool replayable = is_replayable(req.method, req.headers, req.replayable);
    phase_timer timer(strand);
    const request_trace trace{tracer(options_.trace.get(), req.trace.get()), trace_request{req.method, key, u->target()}};

    for (std::size_t attempt = 0;; ++attempt) {
        const auto asked_at = trace ? clock::now() : clock::time_point{};
        auto [acquire_error, got] = co_await acquire(key, *u, limits, timer, trace);
        if (acquire_error) {
            count_timeout(key, acquire_error);
            co_return failed<response>(acquire_error);
        }
        auto& c = *got.conn;
        c.lease_trace = req.trace;
        if (trace) {
            const auto now = clock::now();
            trace(&trace_hooks::got_conn,
                  got_conn_event{trace.request, c.id, got.reused, got.reused ? now - c.idle_since : clock::duration{},
                                 now - asked_at});
        }
        {
            std::lock_guard lock(mutex_);
            const bool reused = got.reused;  // (a lambda cannot capture a structured binding in clang 14)
            count(c, [reused](traffic_counters& t) {
                ++t.requests;
                t.reused += reused ? 1 : 0;
            });
        }
        ++c.requests;
        write_request_head(c.head, req, *u, options_.user_agent);

        attempt_facts facts;
        facts.connection_was_reused = got.reused;
        ec = co_await exchange(c, req, head_request, limits, timer, facts, trace);
        if (c.killed)
            ec = error::shut_down;
        else if (is_canceled(co_await asio::this_coro::cancellation_state))
            ec = asio::error::operation_aborted;
        if (ec) {
            close_leased(std::move(got.conn), close_reason::error);
            count_timeout(key, ec);
            const bool retryable_error = ec != asio::error::operation_aborted && ec != condition::timeout
                && ec != error::body_length_mismatch;
            // A body source that already gave bytes away must start over, or the request stays sent.
            const bool source_ready = !req.source || !facts.request_bytes_written
                || (req.source->rewind && req.source->rewind());
            if (retryable_error && source_ready && attempt < options_.max_stale_retries
                && should_retry(facts, replayable)) {
                std::lock_guard lock(mutex_);
                count(key, [](traffic_counters& t) { ++t.retries; });
                continue;
            }
            co_return failed<response>(ec);
        }

        response r;
        r.status = c.parser.status();
        r.reason = c.parser.reason();
        r.version_major = c.parser.version_major();
        r.version_minor = c.parser.version_minor();
        r.headers = std::move(c.parser.head_fields());
        c.idle_timeout = options_.idle_conn_timeout;
        if (auto hint = keep_alive_timeout_hint(r.headers)) {
            const auto announced = std::chrono::duration_cast<clock::duration>(std::chrono::seconds(*hint));
            const auto margin = std::min<clock::duration>(options_.keep_alive_hint_margin, announced / 2);
            c.idle_timeout = std::min<clock::duration>(c.idle_timeout, announced - margin);
        }

        const bool close_after = close_requested || facts.body_skipped;
        std::string held;
        if (!c.parser.message_done() && whole_body_buffered(c)) {
            ec = take_buffered_body(c, held);
            if (ec) {
                close_leased(std::move(got.conn), close_reason::error);
                co_return failed<response>(ec);
            }
        }
        if (c.parser.message_done()) {
            auto trailers = std::move(c.parser.trailer_fields());
            release(std::move(got.conn), c.reusable_after_message() && !close_after);
            if (held.empty())
                r.body = body(std::make_shared<body_core>(strand));
            else
                r.body = body(std::make_shared<body_core>(strand, std::move(held), std::move(trailers)));
        } else {
            body_opened(key);
            const auto connection_id = c.id;
            auto core = std::make_shared<body_core>(strand, shared_from_this(), std::move(got.conn), limits,
                                                    close_after, std::move(timer));
            if (options_.report_unread_body_after.count() > 0 && trace.wants(&trace_hooks::unread_body))
                core->watch_unread(std::make_shared<unread_watch>(strand, options_.report_unread_body_after,
                                                                  options_.trace, req.trace, trace.request,
                                                                  connection_id));
            r.body = body(std::move(core));
        }
        co_return op_result<response>{std::error_code{}, std::move(r)};
    }
}

inline asio::awaitable<op_result<transport_state::acquired>>
transport_state::acquire(const std::string& key, const url& u, const phase_limits& limits, phase_timer& timer,
                         const request_trace& trace)
{
    const auto strand = co_await asio::this_coro::executor;
    for (bool first = true;; first = false) {
        std::vector<pool_type::closing> expired;
        typename pool_type::acquire_result res;
        waiter_ptr waiter;
        {
            std::lock_guard lock(mutex_);
            res = pool_.acquire(key, clock::now(), expired, [&] {
                waiter = std::make_shared<pool_waiter>(strand);
                return waiter;
            });
            if (res.conn)
                (*res.conn)->owner = strand;
            for (auto& x : expired)
                count_closed(*x.conn, x.reason);
            if (res.what == pool_type::outcome::overloaded)
                count(key, [](traffic_counters& t) { ++t.pool_overloaded; });
        }
        close_all(expired);
        if (trace && first)
            trace(&trace_hooks::get_conn, get_conn_event{trace.request, res.what == pool_type::outcome::wait});

        switch (res.what) {
        case pool_type::outcome::shut_down:
            co_return failed<acquired>(error::shut_down);
        case pool_type::outcome::overloaded:
            co_return failed<acquired>(error::pool_overloaded);
        case pool_type::outcome::idle: {
            auto c = std::move(*res.conn);
            if (c->stream.probe_idle_alive())
                co_return op_result<acquired>{std::error_code{}, {std::move(c), true}};
            close_leased(std::move(c), close_reason::dead_at_checkout);
            continue;
        }
        case pool_type::outcome::dial:
            co_return co_await dial_in_slot(key, u, limits, timer, trace);
        case pool_type::outcome::wait:
            break;
        }

        // Queued: sleep until granted, failed, timed out or canceled.
        auto until = clock::now() + limits.pool_wait;
        auto timeout_error = make_error_code(error::pool_wait_timeout);
        if (limits.deadline < until) {
            until = limits.deadline;
            timeout_error = error::request_timeout;
        }
        waiter->timer.expires_at(until);
        std::error_code wait_ec;
        // (A cancellation emitted while no operation was pending is only recorded in the
        // state: check it before every wait.)
        if (is_canceled(co_await asio::this_coro::cancellation_state))
            wait_ec = asio::error::operation_aborted;
        else
            co_await waiter->timer.async_wait(asio::redirect_error(asio::use_awaitable, wait_ec));

        bool granted;
        connection_ptr conn;
        std::error_code failure;
        std::vector<waiter_ptr> drained;
        {
            std::lock_guard lock(mutex_);
            if (!waiter->granted && !waiter->failure)
                pool_.cancel_wait(key, waiter);
            granted = waiter->granted;
            conn = std::move(waiter->conn);
            if (conn)
                conn->owner = strand;
            failure = waiter->failure;
            drained = take_drained();
        }
        wake(drained);
        const bool canceled = is_canceled(co_await asio::this_coro::cancellation_state);
        if (granted) {
            if (canceled) {  // hand the grant back
                if (conn) {
                    release(std::move(conn), true);
                } else {
                    waiter_ptr next;
                    {
                        std::lock_guard lock(mutex_);
                        next = settle(pool_.dial_failed(key));
                        drained = take_drained();
                    }
                    wake(next);
                    wake(drained);
                }
                co_return failed<acquired>(asio::error::operation_aborted);
            }
            if (conn) {
                const bool reused = conn->requests > 0;
                co_return op_result<acquired>{std::error_code{}, {std::move(conn), reused}};
            }
            co_return co_await dial_in_slot(key, u, limits, timer, trace);
        }
        if (failure)
            co_return failed<acquired>(failure);
        if (!wait_ec && !canceled)
            co_return failed<acquired>(timeout_error);
        co_return failed<acquired>(asio::error::operation_aborted);
    }
}

// Dials in a slot the pool reserved; the slot is released on failure.
inline asio::awaitable<op_result<transport_state::acquired>>
transport_state::dial_in_slot(const std::string& key, const url& u, const phase_limits& limits,
                              phase_timer& timer, const request_trace& trace)
{
    auto c = std::make_shared<connection>(executor_, key);
    const auto strand = co_await asio::this_coro::executor;
    {
        std::lock_guard lock(mutex_);
        c->owner = strand;
        c->id = ++next_connection_id_;
        live_.emplace(c.get(), c);
    }
    auto ec = co_await dial(*c, u, limits, timer, trace);
    if (c->killed)
        ec = error::shut_down;
    else if (!ec && is_canceled(co_await asio::this_coro::cancellation_state))
        ec = asio::error::operation_aborted;
    waiter_ptr next;
    std::vector<waiter_ptr> drained;
    {
        std::lock_guard lock(mutex_);
        if (!ec && pool_.is_shut_down())
            ec = error::shut_down;
        if (ec) {
            count(key, [](traffic_counters& t) { ++t.dial_failures; });
            next = settle(pool_.dial_failed(key));
            live_.erase(c.get());
            drained = take_drained();
        } else {
            pool_.dial_succeeded(key);
            c->host_counters = host_counters(key);
            count(*c, [](traffic_counters& t) { ++t.connections_opened; });
            ++open_now_;
        }
    }
    wake(next);
    wake(drained);
    if (ec) {
        c->stream.close();
        co_return failed<acquired>(ec);
    }
    co_return op_result<acquired>{std::error_code{}, {std::move(c), false}};
}

inline asio::awaitable<std::error_code> transport_state::dial(connection& c, const url& u,
                                                            const phase_limits& limits, phase_timer& timer,
                                                            const request_trace& trace)
{
    using asio::ip::tcp;
    const auto strand = co_await asio::this_coro::executor;
    std::error_code ec;
    std::vector<tcp::endpoint> endpoints;
    const auto address = asio::ip::make_address(u.host(), ec);
    const auto overridden = resolve_overrides_.find(u.host());
    if (!ec) {
        endpoints.emplace_back(address, u.port());
    } else if (overridden != resolve_overrides_.end()) {
        for (const auto& a : overridden->second)
            endpoints.emplace_back(a, u.port());
        if (endpoints.empty())
            co_return asio::error::host_not_found;
    } else {
        if (is_canceled(co_await asio::this_coro::cancellation_state))
            co_return asio::error::operation_aborted;
        tcp::resolver resolver(strand);
        if (trace)
            trace(&trace_hooks::dns_start, dns_start_event{trace.request, u.host()});
        timer.arm(limits.resolve, error::resolve_timeout, limits.deadline, [&resolver] { resolver.cancel(); });
        ec = {};
        auto results = co_await resolver.async_resolve(u.host(), std::to_string(u.port()),
                                                       asio::redirect_error(asio::use_awaitable, ec));
        if (auto t = timer.disarm())
            ec = t;
        for (auto& r : results)
            endpoints.push_back(r.endpoint());
        if (!ec && endpoints.empty())
            ec = asio::error::host_not_found;
        if (trace.wants(&trace_hooks::dns_done)) {
            dns_done_event done{trace.request, {}, ec};
            for (auto& e : endpoints)
                done.addresses.push_back(e.address());
            trace(&trace_hooks::dns_done, done);
        }
        if (ec)
            co_return ec;
    }

    // Each address gets its own connect_timeout; a failure or timeout moves on to the next.
    auto& socket = c.stream.socket();
    for (auto& ep : endpoints) {
        if (is_canceled(co_await asio::this_coro::cancellation_state)) {
            ec = asio::error::operation_aborted;
            break;
        }
        std::error_code ignored;
        socket.close(ignored);
        socket.open(ep.protocol(), ec);
        if (ec)
            continue;
        if (trace)
            trace(&trace_hooks::connect_start, connect_start_event{trace.request, ep});
        timer.arm(limits.connect, error::connect_timeout, limits.deadline, [&c] { c.stream.close(); });
        co_await socket.async_connect(ep, asio::redirect_error(asio::use_awaitable, ec));
        if (auto t = timer.disarm())
            ec = t;
        if (trace)
            trace(&trace_hooks::connect_done, connect_done_event{trace.request, ep, ec});
        if (!ec || ec == error::request_timeout || is_canceled(co_await asio::this_coro::cancellation_state))
            break;
    }
    if (ec) {
        c.stream.close();
        co_return ec;
    }
    socket.set_option(tcp::no_delay(true), ec);
    if (u.is_https())
        co_return co_await handshake(c, u, limits, timer, trace);
    co_return std::error_code{};
}

inline asio::awaitable<std::error_code> transport_state::handshake(connection& c, const url& u,
                                                                 const phase_limits& limits, phase_timer& timer,
                                                                 const request_trace& trace)
{
    auto& tls = c.stream.start_tls(tls_.context());
    c.tls_session = {&tls_, c.key};
    if (auto ec = tls_.prepare(tls.native_handle(), u, c.tls_session)) {
        c.stream.close();
        co_return ec;
    }
    if (is_canceled(co_await asio::this_coro::cancellation_state)) {
        c.stream.close();
        co_return asio::error::operation_aborted;
    }
    std::error_code ec;
    if (trace)
        trace(&trace_hooks::tls_handshake_start, tls_handshake_start_event{trace.request});
    timer.arm(limits.tls_handshake, error::tls_handshake_timeout, limits.deadline, [&c] { c.stream.close(); });
    co_await tls.async_handshake(asio::ssl::stream_base::client, asio::redirect_error(asio::use_awaitable, ec));
    if (auto t = timer.disarm())
        ec = t;
    if (ec) {
        if (const auto verdict = SSL_get_verify_result(tls.native_handle()); verdict != X509_V_OK && !timer.expired())
            ec = make_x509_error(verdict);
        if (trace)
            trace(&trace_hooks::tls_handshake_done, tls_handshake_done_event{trace.request, false, {}, ec});
        tls_client::detach(tls.native_handle());
        tls_.forget(c.key);
        c.stream.close();
        co_return ec;
    }
    c.tls_established = true;
    const bool resumed = SSL_session_reused(tls.native_handle()) == 1;
    {
        std::lock_guard lock(mutex_);
        count(c.key, [&](traffic_counters& t) {  // (before the connection has its counters)
            ++t.tls_handshakes;
            t.tls_resumptions += resumed ? 1 : 0;
        });
    }
    if (trace)
        trace(&trace_hooks::tls_handshake_done,
              tls_handshake_done_event{trace.request, resumed, SSL_get_version(tls.native_handle()), {}});
    co_return std::error_code{};
}

// Writes the request and reads until the final response head is complete. With
// "Expect: 100-continue" the body waits for the server's 100 (or expect_continue_timeout).
inline asio::awaitable<std::error_code> transport_state::exchange(connection& c, const request& req,
                                                                bool head_request, const phase_limits& limits,
                                                                phase_timer& timer, attempt_facts& facts,
                                                                const request_trace& trace)
{
    c.parser.reset(head_request, {options_.max_response_header_bytes, options_.max_response_headers});
    c.clear_buffer();
    auto abort = [&c] { c.stream.cancel(); };
    const bool has_body = req.source || !req.body.empty();
    const bool expect_continue = has_body && req.headers.has_token("Expect", "100-continue");
    const bool body_with_head = !req.source && !expect_continue;

    std::error_code ec;
    if (is_canceled(co_await asio::this_coro::cancellation_state))
        co_return asio::error::operation_aborted;
    std::array<asio::const_buffer, 2> out{asio::buffer(c.head),
                                          body_with_head ? asio::buffer(req.body) : asio::const_buffer()};
    // A small request usually fits the socket's send buffer: write it at once, and only wait
    // (under the write timeout) for what the socket did not take.
    auto wrote_request = [&](std::error_code failure, bool body_skipped = false) {
        if (trace)
            trace(&trace_hooks::wrote_request, wrote_request_event{trace.request, c.id, body_skipped, failure});
        return failure;
    };
    std::size_t written = 0;
    if (!c.stream.is_tls()) {
        written = c.stream.write_some_now(out, ec);
        facts.request_bytes_written = written > 0;
        if (ec && ec != asio::error::would_block)
            co_return wrote_request(ec);
        ec = {};
        if (written < out[0].size()) {
            out[0] += written;
        } else {
            out[1] += written - out[0].size();
            out[0] = asio::const_buffer();
        }
    }
    if (asio::buffer_size(out) > 0) {
        timer.arm(limits.write, error::write_timeout, limits.deadline, abort);
        written = co_await asio::async_write(c.stream, out, asio::redirect_error(asio::use_awaitable, ec));
        facts.request_bytes_written = facts.request_bytes_written || written > 0;
        if (auto t = timer.disarm())
            co_return wrote_request(t);
        if (ec)
            co_return wrote_request(ec);
    }
    if (trace)
        trace(&trace_hooks::wrote_headers, request_event{trace.request, c.id});

    bool body_pending = has_body && !body_with_head;
    if (!body_pending)
        wrote_request({});
    if (expect_continue) {
        timer.arm(options_.expect_continue_timeout, error::response_header_timeout, limits.deadline, abort);
        ec = co_await read_head(c, true, facts, trace);
        const bool waited_enough = timer.expired();
        const auto t = timer.disarm();
        if (t == error::request_timeout)
            co_return t;
        if (!waited_enough && ec)
            co_return ec;
        if (c.parser.headers_done()) {  // answered without the body: it is never sent
            facts.body_skipped = true;
            body_pending = false;
            wrote_request({}, true);
        }
    }
    if (body_pending) {
        // (No co_await inside ?: — keep each await a statement of its own.)
        if (req.source)
            ec = co_await write_source(c, *req.source, limits, timer, facts);
        else
            ec = co_await write_buffer(c, asio::buffer(req.body), limits, timer);
        wrote_request(ec);
        if (ec)
            co_return ec;
    }

    timer.arm(limits.response_header, error::response_header_timeout, limits.deadline, abort);
    ec = co_await read_head(c, false, facts, trace);
    if (auto t = timer.disarm())
        co_return t;
    co_return ec;
}

// Reads and parses until the final head is complete (or, with stop_at_interim, until an
// interim response such as 100 Continue arrived).
inline asio::awaitable<std::error_code> transport_state::read_head(connection& c, bool stop_at_interim,
                                                                 attempt_facts& facts, const request_trace& trace)
{
    std::error_code ec;
    while (!c.parser.headers_done() && !(stop_at_interim && c.parser.interim_responses() > 0)) {
        if (c.buffered_size() > 0) {
            const auto used = c.parser.feed(c.buffered_data(), c.buffered_size(), ec);
            c.consume(used);
            if (ec)
                break;
            continue;
        }
        if (is_canceled(co_await asio::this_coro::cancellation_state)) {
            ec = asio::error::operation_aborted;
            break;
        }
        const auto n = co_await c.stream.async_read_some(c.prepare(), asio::redirect_error(asio::use_awaitable, ec));
        // A TLS peer that vanished without close_notify ends the head just like EOF.
        if (ec == asio::error::eof || ec == asio::ssl::error::stream_truncated) {
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

inline asio::awaitable<std::error_code> transport_state::write_buffer(connection& c, asio::const_buffer data,
                                                                    const phase_limits& limits, phase_timer& timer)
{
    if (is_canceled(co_await asio::this_coro::cancellation_state))
        co_return asio::error::operation_aborted;
    std::error_code ec;
    timer.arm(limits.write, error::write_timeout, limits.deadline, [&c] { c.stream.cancel(); });
    co_await asio::async_write(c.stream, data, asio::redirect_error(asio::use_awaitable, ec));
    if (auto t = timer.disarm())
        co_return t;
    co_return ec;
}

// Sends a body source: its pieces as they come, as they are (Content-Length) or as chunks.
inline asio::awaitable<std::error_code> transport_state::write_source(connection& c, const body_source& src,
                                                                    const phase_limits& limits, phase_timer& timer,
                                                                    attempt_facts& facts)
{
    constexpr std::size_t piece_size = 16 * 1024;
    c.upload.resize(piece_size);
    std::uint64_t sent = 0;
    const bool chunked = !src.length;
    for (;;) {
        if (is_canceled(co_await asio::this_coro::cancellation_state))
            co_return asio::error::operation_aborted;
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
        std::error_code ec;
        timer.arm(limits.write, error::write_timeout, limits.deadline, [&c] { c.stream.cancel(); });
        co_await asio::async_write(c.stream, piece, asio::redirect_error(asio::use_awaitable, ec));
        facts.request_bytes_written = true;
        if (auto t = timer.disarm())
            co_return t;
        if (ec)
            co_return ec;
    }
    if (src.length && sent != *src.length)
        co_return error::body_length_mismatch;
    if (chunked)
        co_return co_await write_buffer(c, asio::buffer("0\r\n\r\n", 5), limits, timer);
    co_return std::error_code{};
}

// ---------------------------------------------------------------------------------------
// body_core, which needs transport_state complete.

inline body_core::body_core(asio::any_io_executor strand, std::shared_ptr<transport_state> owner,
                            std::shared_ptr<connection> conn, const phase_limits& limits, bool close_after,
                            phase_timer timer)
    : strand_(std::move(strand))
    , timer_(std::move(timer))
    , owner_(std::move(owner))
    , conn_(std::move(conn))
    , body_read_(limits.body_read)
    , deadline_(limits.deadline)
    , close_after_(close_after)
    , done_(false)
{
}

inline body_core::~body_core()
{
    close();
}

inline void body_core::end_lease(bool reusable, bool abandoned) noexcept
{
    if (!conn_)
        return;
    if (watch_)
        watch_->stop();
    auto c = std::move(conn_);
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

inline void body_core::fail(std::error_code ec) noexcept
{
    failed_ = ec;
    piece_ = {};
    if (conn_)
        owner_->count_timeout(conn_->key, ec);
    end_lease(false, false);
}

inline void body_core::on_message_done()
{
    done_ = true;
    timer_.reset();  // (on the body's strand: nothing is left to time)
    trailers_ = std::move(conn_->parser.trailer_fields());
    end_lease(conn_->reusable_after_message() && !close_after_, false);
}

inline bool body_core::advance_buffered(std::error_code& ec)
{
    auto& c = *conn_;
    const auto used = c.parser.feed(c.buffered_data(), c.buffered_size(), ec);
    c.consume(used);
    return c.parser.has_body() || c.parser.message_done();
}

inline asio::awaitable<std::error_code> body_core::fill()
{
    std::error_code ec;
    while (piece_.empty()) {
        if (!conn_)
            co_return failed_ ? failed_ : std::error_code(asio::error::eof);
        auto& c = *conn_;
        if (c.parser.has_body()) {
            piece_ = c.parser.take_body();
            break;
        }
        if (c.parser.message_done()) {
            on_message_done();
            co_return asio::error::eof;
        }
        if (advance_buffered(ec))  // (even a zero-length step may end a message)
            continue;
        if (ec) {
            fail(ec);
            co_return ec;
        }
        // Every buffered byte is parsed: read more. After a read that filled the buffer more
        // is probably waiting: take it at once if so (plain TCP), as a large body streams in.
        std::size_t n = 0;
        bool got = false;
        if (c.filled_last_read() && !c.stream.is_tls()) {
            n = c.stream.read_some_now(c.prepare(), ec);
            got = ec != asio::error::would_block;
            if (!got)
                ec = {};
        }
        if (!got) {
            if (is_canceled(co_await asio::this_coro::cancellation_state)) {
                fail(asio::error::operation_aborted);
                co_return asio::error::operation_aborted;
            }
            timer_->arm(body_read_, error::body_read_timeout, deadline_, [&c] { c.stream.cancel(); });
            n = co_await c.stream.async_read_some(c.prepare(), asio::redirect_error(asio::use_awaitable, ec));
            if (auto t = timer_->disarm())
                ec = t;
            else if (is_canceled(co_await asio::this_coro::cancellation_state))
                ec = asio::error::operation_aborted;
            if (!conn_)  // closed while reading
                co_return closed_ ? std::error_code(error::body_closed) : failed_;
        }
        if (c.killed)
            ec = error::shut_down;
        else if (ec == asio::ssl::error::stream_truncated)  // TLS ended without close_notify: never a clean end
            ec = error::unexpected_eof;
        if (ec == asio::error::eof) {
            c.parser.feed_eof(ec);
            if (ec == error::closed_before_response)
                ec = error::unexpected_eof;
            if (ec) {
                fail(ec);
                co_return ec;
            }
            continue;
        }
        if (ec) {
            fail(ec);
            co_return ec;
        }
        c.commit(n);
    }
    co_return std::error_code{};
}

inline asio::awaitable<op_result<std::size_t>> body_core::read_some(asio::mutable_buffer out)
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
    if (piece_.empty() && conn_) {  // report the end together with the last bytes
        std::error_code ec;
        if (advance_buffered(ec) && conn_->parser.message_done())
            on_message_done();
        else if (ec)
            fail(ec);
    }
    co_return op_result<std::size_t>{std::error_code{}, n};
}

inline asio::awaitable<op_result<std::string>> body_core::read_all(std::size_t limit)
{
    co_await asio::this_coro::throw_if_cancelled(false);
    co_await asio::this_coro::reset_cancellation_state(asio::enable_total_cancellation());
    std::string out;
    if (closed_)
        co_return op_result<std::string>{error::body_closed, std::move(out)};
    const read_activity reading(watch_.get());
    // Room for a declared length up front (bounded: the server's figure is not trusted).
    constexpr std::uint64_t max_reserve = 16 * 1024 * 1024;
    if (conn_)
        if (const auto declared = conn_->parser.content_length())
            out.reserve(static_cast<std::size_t>(std::min<std::uint64_t>({*declared, limit, max_reserve})));
    for (;;) {
        auto ec = co_await fill();
        if (ec == asio::error::eof)
            co_return op_result<std::string>{std::error_code{}, std::move(out)};
        if (ec)
            co_return op_result<std::string>{ec, std::move(out)};
        if (piece_.size() > limit - out.size()) {
            piece_ = {};
            closed_ = true;
            end_lease(false, true);
            co_return op_result<std::string>{error::body_too_large, std::move(out)};
        }
        out.append(piece_);
        piece_ = {};
    }
}

inline op_result<std::size_t> body_core::read_some_now(asio::mutable_buffer out)
{
    if (closed_)
        return {error::body_closed, 0};
    if (out.size() == 0)
        return {std::error_code{}, 0};
    if (piece_.empty())
        return {failed_ ? failed_ : std::error_code(asio::error::eof), 0};
    const auto n = std::min(out.size(), piece_.size());
    std::memcpy(out.data(), piece_.data(), n);
    piece_.remove_prefix(n);
    return {std::error_code{}, n};
}

inline op_result<std::string> body_core::read_all_now(std::size_t limit)
{
    std::string out;
    if (closed_)
        return {error::body_closed, std::move(out)};
    if (piece_.size() > limit) {
        piece_ = {};
        closed_ = true;
        return {error::body_too_large, std::move(out)};
    }
    if (piece_.data() == held_.data() && piece_.size() == held_.size())
        out = std::move(held_);  // all of it, unread: no copy
    else
        out.assign(piece_);
    piece_ = {};
    return {failed_, std::move(out)};
}

inline void body_core::close() noexcept
{
    const bool was_closed = std::exchange(closed_, true);
    piece_ = {};
    if (was_closed || done_ || !conn_)
        return;
    // Keep the connection if the rest of the message is already here.
    std::error_code ec;
    auto& c = *conn_;
    for (;;) {
        if (c.parser.has_body()) {
            c.parser.take_body();
            continue;
        }
        if (c.parser.message_done()) {
            trailers_ = std::move(c.parser.trailer_fields());
            end_lease(c.reusable_after_message() && !close_after_, false);
            return;
        }
        if (!advance_buffered(ec) || ec)
            break;
    }
    end_lease(false, true);
}

} // namespace leash::detail
