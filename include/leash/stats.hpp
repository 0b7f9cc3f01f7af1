/// \file
/// leash/stats.hpp - a snapshot of a transport's pool gauges and counters.
///
/// transport::stats() returns a consistent copy taken under the pool's lock; it does not
/// change afterwards. Gauges describe the present; counters only grow.
#pragma once

#include <cstddef>
#include <cstdint>
#include <map>
#include <string>
#include <string_view>

namespace leash {

/// The gauges of a pool, for one host or summed over hosts: what is there now.
struct pool_gauges {
    std::size_t open = 0;        ///< established connections: idle + leased
    std::size_t idle = 0;        ///< in the pool, ready for reuse
    std::size_t leased = 0;      ///< carrying a request or owned by a response body
    std::size_t dialing = 0;     ///< being resolved / connected
    std::size_t waiters = 0;     ///< requests queued for a connection
    std::size_t live_bodies = 0; ///< response bodies still holding a connection

    /// True when every gauge is zero: nothing open, dialing, waiting or holding a connection.
    bool all_zero() const noexcept
    {
        return open == 0 && idle == 0 && leased == 0 && dialing == 0 && waiters == 0
            && live_bodies == 0;
    }
};

/// Why a connection was closed.
enum class close_reason {
    idle_timeout,      ///< idle longer than idle_conn_timeout (or the server's hint)
    idle_limit,        ///< over max_idle_conns_per_host or max_idle_conns
    dead_at_checkout,  ///< found closed or readable by the checkout probe
    not_reusable,      ///< Connection: close, HTTP/1.0, close-delimited body
    body_abandoned,    ///< a body was closed or destroyed before its end
    error,             ///< an I/O, protocol or timeout error, or cancellation
    shutdown,          ///< closed by transport::shutdown()
};

/// The enumerator's name, e.g. "idle_timeout".
constexpr std::string_view to_string(close_reason r) noexcept
{
    switch (r) {
    case close_reason::idle_timeout: return "idle_timeout";
    case close_reason::idle_limit: return "idle_limit";
    case close_reason::dead_at_checkout: return "dead_at_checkout";
    case close_reason::not_reusable: return "not_reusable";
    case close_reason::body_abandoned: return "body_abandoned";
    case close_reason::error: return "error";
    case close_reason::shutdown: return "shutdown";
    }
    return "unknown";
}

/// Connections closed, by reason.
struct close_counters {
    std::uint64_t idle_timeout = 0;      ///< idle longer than idle_conn_timeout (or the server's hint)
    std::uint64_t idle_limit = 0;        ///< over max_idle_conns_per_host or max_idle_conns
    std::uint64_t dead_at_checkout = 0;  ///< found closed or readable by the checkout probe
    std::uint64_t not_reusable = 0;      ///< Connection: close, HTTP/1.0, close-delimited body
    std::uint64_t body_abandoned = 0;    ///< a body was closed or destroyed before its end
    std::uint64_t error = 0;             ///< an I/O, protocol or timeout error, or cancellation
    std::uint64_t shutdown = 0;          ///< closed by transport::shutdown()

    /// Connections closed for any reason.
    std::uint64_t total() const noexcept
    {
        return idle_timeout + idle_limit + dead_at_checkout + not_reusable + body_abandoned + error
            + shutdown;
    }
};

/// Timeouts that fired, by phase.
struct timeout_counters {
    std::uint64_t pool_wait = 0;        ///< error::pool_wait_timeout
    std::uint64_t resolve = 0;          ///< error::resolve_timeout
    std::uint64_t connect = 0;          ///< error::connect_timeout
    std::uint64_t tls_handshake = 0;    ///< error::tls_handshake_timeout
    std::uint64_t write = 0;            ///< error::write_timeout
    std::uint64_t response_header = 0;  ///< error::response_header_timeout
    std::uint64_t body_read = 0;        ///< error::body_read_timeout
    std::uint64_t request = 0;          ///< error::request_timeout
};

/// What happened to the requests and connections of a host, or of the whole transport.
struct traffic_counters {
    std::uint64_t requests = 0;            ///< requests that obtained a connection (each attempt)
    std::uint64_t connections_opened = 0;  ///< successful dials
    std::uint64_t dial_failures = 0;       ///< dials that gave no connection (resolve, connect, proxy tunnel, TLS, or canceled)
    std::uint64_t reused = 0;              ///< attempts served on a previously used connection
    std::uint64_t retries = 0;             ///< transparent retries after a stale connection
    std::uint64_t pool_overloaded = 0;     ///< requests refused because the waiter queue was full
    std::uint64_t tls_handshakes = 0;      ///< completed TLS handshakes
    std::uint64_t tls_resumptions = 0;     ///< of which resumed a cached session
    close_counters closed;                 ///< connections closed, by reason
    timeout_counters timeouts;             ///< timeouts that fired, by phase
};

/// A snapshot of a transport's pool gauges and counters.
///
/// The counters (inherited: stats.requests, stats.closed.error, ...) are the transport's
/// totals since it was constructed.
struct transport_stats : traffic_counters {
    /// The gauges summed over hosts.
    pool_gauges total;
    /// Gauges of the hosts that have connections, dials, bodies or waiters now, keyed by
    /// "scheme://host:port".
    std::map<std::string, pool_gauges> hosts;
    /// Counters of every host the transport sent to (the first max_counted_hosts of them;
    /// later hosts are counted in the totals only, so the map stays bounded).
    std::map<std::string, traffic_counters> host_counters;
    /// The bound on the hosts in host_counters.
    static constexpr std::size_t max_counted_hosts = 1024;
};

/// Writes the snapshot in the Prometheus text exposition format, every metric named
/// `prefix` + "_" + its name, with a host="scheme://host:port" label per host and without
/// one for the totals (so a sum over every series of a metric counts twice: select
/// host="" for the totals, or host!="" to sum hosts). For logs as much as for scrapes.
inline std::string to_prometheus_text(const transport_stats& s, std::string_view prefix = "leash");

} // namespace leash

#include <leash/detail/stats_text.hpp>
