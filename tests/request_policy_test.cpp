// What options and a request decide before any I/O: phase limits, the total deadline (from a
// time given, not the clock), the pool key and the idle timeout after a response.
#include <leash/detail/request_policy.hpp>

#include <catch2/catch.hpp>

#include <chrono>

using namespace std::chrono_literals;
using sclock = leash::detail::clock;

namespace {

const sclock::time_point t0 = sclock::time_point() + 1000h;  // any instant: the clock is not read

leash::url parsed(std::string_view text)
{
    std::error_code ec;
    auto u = leash::url::parse(text, ec);
    REQUIRE(u);
    return *u;
}

} // namespace

TEST_CASE("request policy: each phase takes the transport's timeout unless the request overrides it")
{
    leash::transport_options o;
    o.connect_timeout = 3s;
    o.body_read_timeout = 7s;
    leash::request_timeouts overrides;
    overrides.body_read = 250ms;
    const auto l = leash::detail::make_phase_limits(o, overrides, t0);
    CHECK(l.connect == 3s);
    CHECK(l.body_read == 250ms);
    CHECK(l.response_header == o.response_header_timeout);
}

TEST_CASE("request policy: without a total timeout there is no deadline")
{
    const auto l = leash::detail::make_phase_limits(leash::transport_options{}, {}, t0);
    CHECK(l.deadline == sclock::time_point::max());
}

TEST_CASE("request policy: the total deadline counts from the time given, and a request's own total wins")
{
    leash::transport_options o;
    o.request_timeout = 30s;
    CHECK(leash::detail::make_phase_limits(o, {}, t0).deadline == t0 + 30s);
    leash::request_timeouts overrides;
    overrides.total = 2s;
    CHECK(leash::detail::make_phase_limits(o, overrides, t0).deadline == t0 + 2s);
    overrides.total = 0ms;  // off for this request
    CHECK(leash::detail::make_phase_limits(o, overrides, t0).deadline == sclock::time_point::max());
}

TEST_CASE("request policy: the pool key is scheme, host and port, brackets around an IPv6 host")
{
    CHECK(leash::detail::pool_key(parsed("http://example.com/a")) == "http://example.com:80");
    CHECK(leash::detail::pool_key(parsed("https://example.com:8443/")) == "https://example.com:8443");
    CHECK(leash::detail::pool_key(parsed("http://[::1]:8080/")) == "http://[::1]:8080");
}

TEST_CASE("request policy: through a proxy the pool key names the proxy too, without its credentials")
{
    const auto proxy = leash::proxy_server::parse("http://user:secret@proxy.internal:3128");
    CHECK(leash::detail::pool_key(parsed("https://example.com/"), &proxy) == "https://example.com:443 via proxy.internal:3128");
    CHECK(leash::detail::pool_key(parsed("http://[::1]:8080/"), &proxy) == "http://[::1]:8080 via proxy.internal:3128");
    CHECK(leash::detail::pool_key(parsed("https://example.com/"), &proxy) != leash::detail::pool_key(parsed("https://example.com/")));
}

TEST_CASE("request policy: a Keep-Alive timeout shortens the idle timeout, less a margin of at most half")
{
    leash::transport_options o;
    o.idle_conn_timeout = 90s;
    o.keep_alive_hint_margin = 1s;
    leash::headers h;
    CHECK(leash::detail::idle_timeout_after(o, h) == 90s);
    h.set("Keep-Alive", "timeout=5, max=100");
    CHECK(leash::detail::idle_timeout_after(o, h) == 4s);
    h.set("Keep-Alive", "timeout=1");
    CHECK(leash::detail::idle_timeout_after(o, h) == 500ms);
    h.set("Keep-Alive", "timeout=600");  // never longer than the transport's own
    CHECK(leash::detail::idle_timeout_after(o, h) == 90s);
    h.set("Keep-Alive", "timeout=-5");  // not a number: ignored
    CHECK(leash::detail::idle_timeout_after(o, h) == 90s);
}
