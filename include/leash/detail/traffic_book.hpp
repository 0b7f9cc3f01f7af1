// The transport's counters (transport_stats without its gauges): every event is counted in the
// totals and in its host's counters. Not synchronised: the transport calls it under its lock.
#pragma once

#include <leash/detail/connection.hpp>
#include <leash/detail/stats_text.hpp>
#include <leash/error.hpp>
#include <leash/stats.hpp>

#include <string>
#include <system_error>

namespace leash::detail {

// The counter of a timeout error's phase, or null for any other error.
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

class traffic_book {
public:
    // Adds to the totals and to the counters of host `key`.
    template <class Count>
    void count(const std::string& key, Count add)
    {
        add(static_cast<traffic_counters&>(stats_));
        if (auto* host = host_counters(key))
            add(*host);
    }
    // The same for a connection's host, whose counters were found when it was dialed.
    template <class Count>
    void count(const connection& c, Count add)
    {
        add(static_cast<traffic_counters&>(stats_));
        if (c.host_counters)
            add(*c.host_counters);
    }

    // The counters of `key` (entries are never removed, so pointers to them stay valid); null
    // past transport_stats::max_counted_hosts.
    traffic_counters* host_counters(const std::string& key)
    {
        if (auto it = stats_.host_counters.find(key); it != stats_.host_counters.end())
            return &it->second;
        if (stats_.host_counters.size() >= transport_stats::max_counted_hosts)
            return nullptr;
        return &stats_.host_counters[key];
    }

    void count_closed(const connection& conn, close_reason why)
    {
        count(conn, [&](traffic_counters& c) { ++close_counter(c.closed, why); });
    }

    // Counts `ec` if it is a timeout.
    void count_timeout(const std::string& key, std::error_code ec)
    {
        timeout_counters probe;
        if (timeout_counter(probe, ec))
            count(key, [&](traffic_counters& c) { ++*timeout_counter(c.timeouts, ec); });
    }

    const transport_stats& stats() const noexcept { return stats_; }

private:
    transport_stats stats_;
};

} // namespace leash::detail
