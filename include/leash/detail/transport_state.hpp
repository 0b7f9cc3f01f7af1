// The Asio shell around the pool: runs requests as coroutines on per-request strands, wires
// dialing (detail/dialer.hpp) and the exchange (detail/exchange.hpp) to pool_core's decisions,
// and keeps the stats, the idle reaper and shutdown. Shared by the transport handle, running
// requests and live bodies (each operation holds a shared_ptr to it), so it outlives whichever
// goes last.
//
// Locking: mutex_ guards pool_, book_, the reaper deadline, the drain waiters, the registry of
// live connections, every connection's owner executor and every pool_waiter's grant fields.
// Sockets are only touched by the strand of the request or body that leases them, or under no
// lease at all (idle connections are closed by whoever removes them; a shutdown deadline
// closes leased ones by posting to their owner strand).
#pragma once

#include <leash/detail/body_core.hpp>
#include <leash/detail/config.hpp>
#include <leash/detail/connection.hpp>
#include <leash/detail/dialer.hpp>
#include <leash/detail/exchange.hpp>
#include <leash/detail/pool_core.hpp>
#include <leash/detail/proxy_choice.hpp>
#include <leash/detail/request_policy.hpp>
#include <leash/detail/request_writer.hpp>
#include <leash/detail/response_decoding.hpp>
#include <leash/detail/retry.hpp>
#include <leash/detail/spawn.hpp>
#include <leash/detail/tls_client.hpp>
#include <leash/detail/tracer.hpp>
#include <leash/detail/traffic_book.hpp>
#include <leash/error.hpp>
#include <leash/request.hpp>
#include <leash/response.hpp>
#include <leash/stats.hpp>
#include <leash/transport_options.hpp>
#include <leash/url.hpp>

#include <asio.hpp>

#include <algorithm>
#include <charconv>
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
    while (parse_buffered(c, body_piece_or_end, ec)) {
        if (!c.parser.has_body())
            return {};
        out.append(c.parser.take_body());
    }
    return ec ? ec : make_error_code(error::malformed_response);  // (a whole body cannot need more)
}

// What one request keeps across its attempts.
struct request_plan {
    const proxy_server* proxy = nullptr;  // the proxy the request goes through, or none
    std::string key;
    phase_limits limits;
    bool head_request = false;
    bool close_requested = false;
    bool replayable = false;
    bool decode = false;  // Accept-Encoding is sent and a coded response decoded
    request_trace trace;
};

class transport_state : public std::enable_shared_from_this<transport_state> {
public:
    // Throws std::system_error for an invalid proxy URL or resolve override address.
    transport_state(asio::any_io_executor ex, transport_options options);

    const transport_options& options() const noexcept { return options_; }
    const asio::any_io_executor& executor() const noexcept { return executor_; }

    // The whole request, up to a response whose body may still be unread. Holds `self` until
    // it completes, so the transport handle may go at any time.
    static asio::awaitable<op_result<response>> send(std::shared_ptr<transport_state> self, request req,
                                                      operation_entry entry);
    // shutdown(), then waits until nothing is in flight, at most `grace`; then closes what
    // remains (error::shutdown_incomplete).
    static asio::awaitable<std::error_code> drain(std::shared_ptr<transport_state> self, clock::duration grace,
                                                 operation_entry entry);

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
            drained = due_drain_waiters();
        }
        wake(drained);
    }
    void count_timeout(const std::string& key, std::error_code ec)
    {
        std::lock_guard lock(mutex_);
        book_.count_timeout(key, ec);
    }

    void shutdown();

    pool_gauges gauges() const
    {
        std::lock_guard lock(mutex_);
        return pool_.totals();
    }

    transport_stats stats() const
    {
        std::lock_guard lock(mutex_);
        transport_stats s = book_.stats();
        pool_.fill(s);
        return s;
    }

private:
    struct acquired {
        connection_ptr conn;
        bool reused = false;
    };
    // The pool's answer to a request, taken without I/O: a result (an idle connection that is
    // still alive, or an error), or a slot to dial in, or a place in the host's queue.
    struct checkout {
        pool_type::outcome what;
        op_result<acquired> result;  // unless what is dial or wait
        waiter_ptr waiter;           // when what is wait
        bool settled() const noexcept { return what != pool_type::outcome::dial && what != pool_type::outcome::wait; }
    };

    request_plan plan_request(const request& req, const url& u) const;
    void start_attempt(connection& c, bool reused, const request& req, const url& u, const request_plan& plan,
                       clock::time_point asked_at);
    bool may_resend(std::error_code ec, const request& req, const request_plan& plan, const attempt_facts& facts,
                    std::size_t attempt);
    op_result<response> hand_over(connection_ptr conn, const asio::any_io_executor& strand, request& req,
                                  const request_plan& plan, const attempt_facts& facts);
    std::error_code decoder_for(response& r, std::optional<content_decoder>& decoder) const noexcept;

    checkout check_out(const request_plan& plan, const asio::any_io_executor& strand);
    asio::awaitable<op_result<acquired>> finish_checkout(const request_plan& plan, const url& u, checkout out);
    asio::awaitable<op_result<acquired>> wait_for_grant(const request_plan& plan, const url& u, const waiter_ptr& waiter);
    void give_back_grant(const std::string& key, connection_ptr conn);
    asio::awaitable<op_result<acquired>> dial_in_slot(const request_plan& plan, const url& u);
    std::error_code after_dial(connection_ptr& c, dial_outcome outcome);

    // Under the lock: records a grant on its waiter; the caller wakes it after unlocking.
    static waiter_ptr record_grant(std::optional<pool_type::grant> g)
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
    static void wake(const std::vector<waiter_ptr>& ws)
    {
        for (auto& w : ws)
            wake(w);
    }
    // Under the lock: once shut down and empty, the async_shutdown calls waiting are due.
    std::vector<waiter_ptr> due_drain_waiters()
    {
        if (!pool_.is_shut_down() || !pool_.empty())
            return {};
        return std::exchange(drain_waiters_, {});
    }
    // Under the lock: the pool's closing list is counted; close them after unlocking.
    void count_closed(const std::vector<pool_type::closing>& list)
    {
        for (auto& x : list)
            book_.count_closed(*x.conn, x.reason);
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
    struct owned_connection {
        connection_ptr conn;
        asio::any_io_executor owner;
    };
    // Connections not yet retired (or only those being dialed), with the strand using each.
    std::vector<owned_connection> live_connections(bool dialing_only) const;
    static void close_by_shutdown(const std::vector<owned_connection>& connections);

    void schedule_reaper(clock::time_point expiry);  // under the lock
    void arm_reaper();
    void reap();

    asio::any_io_executor executor_;
    const transport_options options_;

    mutable std::mutex mutex_;
    pool_type pool_;
    traffic_book book_;
    std::optional<clock::time_point> reaper_at_;
    std::vector<waiter_ptr> drain_waiters_;  // async_shutdown calls waiting for the pool to empty
    std::unordered_map<connection*, std::weak_ptr<connection>> live_;  // every connection not yet retired
    std::uint64_t next_connection_id_ = 0;

    tls_client tls_;
    const proxy_choice proxy_;
    resolve_override_map resolve_overrides_;

    asio::steady_timer reaper_;
};

} // namespace leash::detail

#if defined(LEASH_HEADER_ONLY)
#include <leash/detail/impl/transport_state.ipp>
#include <leash/detail/impl/transport_send.ipp>
#include <leash/detail/impl/body_core.ipp>
#endif
