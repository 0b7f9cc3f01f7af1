// to_prometheus_text(): a transport_stats snapshot as Prometheus text exposition lines.
#pragma once

#include <leash/stats.hpp>

#include <cstdint>
#include <string>
#include <string_view>

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

template <class F>
void for_each_gauge(const pool_gauges& g, F f)
{
    f("connections_open", g.open);
    f("connections_idle", g.idle);
    f("connections_leased", g.leased);
    f("connections_dialing", g.dialing);
    f("pool_waiters", g.waiters);
    f("live_bodies", g.live_bodies);
}

template <class F>
void for_each_counter(const traffic_counters& c, F f)
{
    f("requests_total", c.requests);
    f("connections_opened_total", c.connections_opened);
    f("dial_failures_total", c.dial_failures);
    f("reused_total", c.reused);
    f("retries_total", c.retries);
    f("pool_overloaded_total", c.pool_overloaded);
    f("tls_handshakes_total", c.tls_handshakes);
    f("tls_resumptions_total", c.tls_resumptions);
}

template <class F>
void for_each_close_reason(const close_counters& c, F f)
{
    f(close_reason::idle_timeout, c.idle_timeout);
    f(close_reason::idle_limit, c.idle_limit);
    f(close_reason::dead_at_checkout, c.dead_at_checkout);
    f(close_reason::not_reusable, c.not_reusable);
    f(close_reason::body_abandoned, c.body_abandoned);
    f(close_reason::error, c.error);
    f(close_reason::shutdown, c.shutdown);
}

template <class F>
void for_each_timeout(const timeout_counters& t, F f)
{
    f("pool_wait", t.pool_wait);
    f("resolve", t.resolve);
    f("connect", t.connect);
    f("tls_handshake", t.tls_handshake);
    f("write", t.write);
    f("response_header", t.response_header);
    f("body_read", t.body_read);
    f("request", t.request);
}

} // namespace detail

inline std::string to_prometheus_text(const transport_stats& s, std::string_view prefix)
{
    std::string out;
    detail::prometheus_writer w(out, prefix);
    const pool_gauges no_gauges;
    detail::for_each_gauge(no_gauges, [&](std::string_view name, std::size_t) {
        w.type(name, "gauge");
        detail::for_each_gauge(s.total, [&](std::string_view n, std::size_t v) {
            if (n == name)
                w.sample(name, {}, {}, {}, v);
        });
        for (const auto& host : s.hosts)  // (no structured binding: lambdas cannot capture one in clang 14)
            detail::for_each_gauge(host.second, [&](std::string_view n, std::size_t v) {
                if (n == name)
                    w.sample(name, host.first, {}, {}, v);
            });
    });
    const traffic_counters no_counters;
    auto per_scope = [&](auto each) {
        each(std::string_view{}, static_cast<const traffic_counters&>(s));
        for (const auto& [host, c] : s.host_counters)
            each(std::string_view(host), c);
    };
    detail::for_each_counter(no_counters, [&](std::string_view name, std::uint64_t) {
        w.type(name, "counter");
        per_scope([&](std::string_view host, const traffic_counters& c) {
            detail::for_each_counter(c, [&](std::string_view n, std::uint64_t v) {
                if (n == name)
                    w.sample(name, host, {}, {}, v);
            });
        });
    });
    w.type("connections_closed_total", "counter");
    per_scope([&](std::string_view host, const traffic_counters& c) {
        detail::for_each_close_reason(c.closed, [&](close_reason r, std::uint64_t v) {
            w.sample("connections_closed_total", host, "reason", to_string(r), v);
        });
    });
    w.type("timeouts_total", "counter");
    per_scope([&](std::string_view host, const traffic_counters& c) {
        detail::for_each_timeout(c.timeouts, [&](std::string_view phase, std::uint64_t v) {
            w.sample("timeouts_total", host, "phase", phase, v);
        });
    });
    return out;
}

} // namespace leash
