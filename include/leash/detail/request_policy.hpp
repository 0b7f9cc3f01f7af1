// What the transport's options and a request decide before any I/O: the pool's limits, the
// pool key of a URL, each phase's time limit and the total deadline (counted from a time
// given, never read from the clock here), and how long a connection may idle after a
// response. Without I/O and without the clock.
#pragma once

#include <leash/detail/phase_limits.hpp>
#include <leash/detail/pool_core.hpp>
#include <leash/detail/request_writer.hpp>
#include <leash/headers.hpp>
#include <leash/proxy.hpp>
#include <leash/request.hpp>
#include <leash/transport_options.hpp>
#include <leash/url.hpp>

#include <algorithm>
#include <charconv>
#include <chrono>
#include <optional>
#include <string>
#include <string_view>

namespace leash::detail {

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

// "scheme://host:port", the pool's per-host key; through a proxy, followed by " via " and the
// proxy's host:port, so that a tunnel to one origin never carries another's requests and a
// proxied connection never a direct request. (The proxy's credentials are not in the key:
// they are fixed per proxy and scheme by the transport's options, and keys are shown in stats.)
inline std::string pool_key(const url& u, const proxy_server* via = nullptr)
{
    char port[8];
    const auto port_size = static_cast<std::size_t>(std::to_chars(port, port + sizeof port, u.port()).ptr - port);
    const std::string_view open = u.is_ipv6_literal() ? "://[" : "://", close = u.is_ipv6_literal() ? "]:" : ":";
    const std::string proxy = via ? " via " + via->authority() : std::string();
    const std::string_view parts[] = {u.scheme(), open, u.host(), close, {port, port_size}, proxy};
    std::size_t size = 0;
    for (const auto part : parts)
        size += part.size();
    std::string key(size, '\0');  // (one allocation, filled in place: this runs for every request)
    char* out = key.data();
    for (const auto part : parts)
        out = std::copy(part.begin(), part.end(), out);
    return key;
}

// Each phase's limit for one request: its overrides, else the transport's; the total deadline
// counts from `now`.
inline phase_limits make_phase_limits(const transport_options& o, const request_timeouts& overrides,
                                      clock::time_point now)
{
    auto pick = [](const std::optional<std::chrono::milliseconds>& value, std::chrono::milliseconds fallback) {
        return std::chrono::duration_cast<clock::duration>(value.value_or(fallback));
    };
    phase_limits l;
    l.pool_wait = pick(overrides.pool_wait, o.pool_wait_timeout);
    l.resolve = pick(overrides.resolve, o.resolve_timeout);
    l.connect = pick(overrides.connect, o.connect_timeout);
    l.tls_handshake = pick(overrides.tls_handshake, o.tls_handshake_timeout);
    l.write = pick(overrides.write, o.write_timeout);
    l.response_header = pick(overrides.response_header, o.response_header_timeout);
    l.body_read = pick(overrides.body_read, o.body_read_timeout);
    const auto total = overrides.total.value_or(o.request_timeout);
    if (total.count() > 0)
        l.deadline = now + total;
    return l;
}

// How long a connection may stay idle after this response: the transport's idle_conn_timeout,
// shortened by the server's Keep-Alive hint less a safety margin.
inline clock::duration idle_timeout_after(const transport_options& o, const headers& response_headers)
{
    clock::duration timeout = o.idle_conn_timeout;
    if (auto hint = keep_alive_timeout_hint(response_headers)) {
        const auto announced = std::chrono::duration_cast<clock::duration>(std::chrono::seconds(*hint));
        const auto margin = std::min<clock::duration>(o.keep_alive_hint_margin, announced / 2);
        timeout = std::min<clock::duration>(timeout, announced - margin);
    }
    return timeout;
}

} // namespace leash::detail
