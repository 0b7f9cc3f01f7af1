// to_prometheus_text(): a transport_stats snapshot as Prometheus text exposition lines.
#pragma once

#include <leash/stats.hpp>

#include <cstdint>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace leash {

namespace detail {

class prometheus_writer {
public:
    prometheus_writer(std::string& out, std::string_view prefix) : out_(out), prefix_(prefix) {}

    void type(std::string_view name, std::string_view kind)
    {
        out_ += "# TYPE ";
        name_(name);
        out_ += ' ';
        out_ += kind;
        out_ += '\n';
    }

    // name{host="...",label="value"} number
    void sample(std::string_view name, std::string_view host, std::string_view label, std::string_view value,
                std::uint64_t number)
    {
        name_(name);
        if (!host.empty() || !label.empty()) {
            out_ += '{';
            if (!host.empty()) {
                out_ += "host=\"";
                escaped(host);
                out_ += '"';
            }
            if (!label.empty()) {
                if (!host.empty())
                    out_ += ',';
                out_ += label;
                out_ += "=\"";
                escaped(value);
                out_ += '"';
            }
            out_ += '}';
        }
        out_ += ' ';
        out_ += std::to_string(number);
        out_ += '\n';
    }

private:
    void name_(std::string_view name)
    {
        out_ += prefix_;
        out_ += '_';
        out_ += name;
    }
    void escaped(std::string_view v)
    {
        for (char c : v) {
            if (c == '\\' || c == '"')
                out_ += '\\';
            if (c == '\n') {
                out_ += "\\n";
                continue;
            }
            out_ += c;
        }
    }

    std::string& out_;
    std::string_view prefix_;
};

// The counter of one close reason (in a close_counters, const or not).
template <class Counters>
auto& close_counter(Counters& c, close_reason why) noexcept
{
    switch (why) {
    case close_reason::idle_timeout: return c.idle_timeout;
    case close_reason::idle_limit: return c.idle_limit;
    case close_reason::dead_at_checkout: return c.dead_at_checkout;
    case close_reason::not_reusable: return c.not_reusable;
    case close_reason::body_abandoned: return c.body_abandoned;
    case close_reason::shutdown: return c.shutdown;
    case close_reason::error: break;
    }
    return c.error;
}

inline constexpr close_reason every_close_reason[] = {
    close_reason::idle_timeout, close_reason::idle_limit, close_reason::dead_at_checkout, close_reason::not_reusable,
    close_reason::body_abandoned, close_reason::error, close_reason::shutdown,
};

template <class Field>
struct named_field {
    std::string_view name;
    Field field;
};

inline constexpr named_field<std::size_t pool_gauges::*> gauge_fields[] = {
    {"connections_open", &pool_gauges::open},       {"connections_idle", &pool_gauges::idle},
    {"connections_leased", &pool_gauges::leased},   {"connections_dialing", &pool_gauges::dialing},
    {"pool_waiters", &pool_gauges::waiters},        {"live_bodies", &pool_gauges::live_bodies},
};

inline constexpr named_field<std::uint64_t traffic_counters::*> counter_fields[] = {
    {"requests_total", &traffic_counters::requests},
    {"connections_opened_total", &traffic_counters::connections_opened},
    {"dial_failures_total", &traffic_counters::dial_failures},
    {"reused_total", &traffic_counters::reused},
    {"retries_total", &traffic_counters::retries},
    {"pool_overloaded_total", &traffic_counters::pool_overloaded},
    {"tls_handshakes_total", &traffic_counters::tls_handshakes},
    {"tls_resumptions_total", &traffic_counters::tls_resumptions},
};

inline constexpr named_field<std::uint64_t timeout_counters::*> timeout_fields[] = {
    {"pool_wait", &timeout_counters::pool_wait},
    {"resolve", &timeout_counters::resolve},
    {"connect", &timeout_counters::connect},
    {"tls_handshake", &timeout_counters::tls_handshake},
    {"write", &timeout_counters::write},
    {"response_header", &timeout_counters::response_header},
    {"body_read", &timeout_counters::body_read},
    {"request", &timeout_counters::request},
};

} // namespace detail

inline std::string to_prometheus_text(const transport_stats& s, std::string_view prefix)
{
    std::string out;
    detail::prometheus_writer w(out, prefix);
    for (const auto& [name, field] : detail::gauge_fields) {
        w.type(name, "gauge");
        w.sample(name, {}, {}, {}, s.total.*field);
        for (const auto& [host, g] : s.hosts)
            w.sample(name, host, {}, {}, g.*field);
    }
    // The totals (no host label), then each host's.
    std::vector<std::pair<std::string_view, const traffic_counters*>> scopes{{{}, &s}};
    for (const auto& [host, c] : s.host_counters)
        scopes.emplace_back(host, &c);
    for (const auto& [name, field] : detail::counter_fields) {
        w.type(name, "counter");
        for (const auto& [host, c] : scopes)
            w.sample(name, host, {}, {}, c->*field);
    }
    w.type("connections_closed_total", "counter");
    for (const auto& [host, c] : scopes)
        for (const auto reason : detail::every_close_reason)
            w.sample("connections_closed_total", host, "reason", to_string(reason), detail::close_counter(c->closed, reason));
    w.type("timeouts_total", "counter");
    for (const auto& [host, c] : scopes)
        for (const auto& [phase, field] : detail::timeout_fields)
            w.sample("timeouts_total", host, "phase", phase, c->timeouts.*field);
    return out;
}

} // namespace leash
