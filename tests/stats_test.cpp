// Statistics as a value: per host and in total, and their text form.
#include <support/harness.hpp>

#include <leash/stats.hpp>

#include <string>

using namespace leash::test;

namespace {

bool has_line(const std::string& text, const std::string& line)
{
    return ("\n" + text).find("\n" + line + "\n") != std::string::npos;
}

} // namespace

TEST_CASE("stats: counters are kept per host as well as in total")
{
    test_server other;
    harness h;
    h.run([&]() -> asio::awaitable<void> {
        co_await fetch_ok(h.transport, h.url());
        co_await fetch_ok(h.transport, h.url());
        co_await fetch_ok(h.transport, other.url());
    }());
    const auto s = h.transport.stats();
    const auto here = "http://127.0.0.1:" + std::to_string(h.server.port());
    const auto there = "http://127.0.0.1:" + std::to_string(other.port());
    CHECK(s.requests == 3);
    CHECK(s.connections_opened == 2);
    REQUIRE(s.host_counters.size() == 2);
    CHECK(s.host_counters.at(here).requests == 2);
    CHECK(s.host_counters.at(here).reused == 1);
    CHECK(s.host_counters.at(here).connections_opened == 1);
    CHECK(s.host_counters.at(there).requests == 1);
    CHECK(s.host_counters.at(there).reused == 0);
    h.require_clean_end({&other});
    const auto after = h.transport.stats();
    CHECK(after.closed.shutdown == 2);
    CHECK(after.host_counters.at(here).closed.shutdown == 1);
    CHECK(after.host_counters.at(there).closed.shutdown == 1);
}

TEST_CASE("stats: timeouts are counted for their host")
{
    leash::transport_options o;
    o.response_header_timeout = 20ms;
    harness h([](const received_request&) { return reply::never(); }, o);
    h.run([&]() -> asio::awaitable<void> {
        auto r = co_await fetch(h.transport, h.url());
        CHECK(r.ec == leash::error::response_header_timeout);
    }());
    const auto s = h.transport.stats();
    CHECK(s.timeouts.response_header == 1);
    CHECK(s.host_counters.at("http://127.0.0.1:" + std::to_string(h.server.port())).timeouts.response_header == 1);
    h.require_clean_end();
}

TEST_CASE("stats: the Prometheus text has every gauge and counter, in total and per host")
{
    leash::transport_stats s;
    s.total.open = 3;
    s.total.idle = 2;
    s.hosts["https://api.example.com:443"].open = 3;
    s.requests = 10;
    s.closed.idle_timeout = 4;
    s.timeouts.connect = 1;
    auto& h = s.host_counters["https://api.example.com:443"];
    h.requests = 10;
    h.closed.idle_timeout = 4;
    const auto text = leash::to_prometheus_text(s, "llm_client");
    CHECK(has_line(text, "# TYPE llm_client_connections_open gauge"));
    CHECK(has_line(text, "llm_client_connections_open 3"));
    CHECK(has_line(text, "llm_client_connections_idle 2"));
    CHECK(has_line(text, "llm_client_connections_open{host=\"https://api.example.com:443\"} 3"));
    CHECK(has_line(text, "# TYPE llm_client_requests_total counter"));
    CHECK(has_line(text, "llm_client_requests_total 10"));
    CHECK(has_line(text, "llm_client_requests_total{host=\"https://api.example.com:443\"} 10"));
    CHECK(has_line(text, "llm_client_connections_closed_total{reason=\"idle_timeout\"} 4"));
    CHECK(has_line(text, "llm_client_connections_closed_total{host=\"https://api.example.com:443\",reason=\"idle_timeout\"} 4"));
    CHECK(has_line(text, "llm_client_timeouts_total{phase=\"connect\"} 1"));
    CHECK(has_line(text, "llm_client_timeouts_total{host=\"https://api.example.com:443\",phase=\"connect\"} 0"));
    CHECK(has_line(text, "llm_client_live_bodies 0"));
    CHECK(text.back() == '\n');
}

TEST_CASE("stats: label values are escaped in the Prometheus text")
{
    leash::transport_stats s;
    s.hosts["a\"b\\c"].open = 1;
    const auto text = leash::to_prometheus_text(s);
    CHECK(has_line(text, "leash_connections_open{host=\"a\\\"b\\\\c\"} 1"));
}
