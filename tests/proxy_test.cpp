// Requests through an HTTP proxy (tests/support/test_proxy.hpp): https:// through a CONNECT
// tunnel with TLS verified for the target, http:// in absolute form, credentials only for the
// proxy, and every way a CONNECT can fail.
#include <support/harness.hpp>
#include <support/real_proxy.hpp>
#include <support/test_proxy.hpp>

using namespace leash::test;

namespace {

leash::transport_options through(const test_proxy& proxy, std::string_view userinfo = {})
{
    leash::transport_options o;
    o.proxy.http = proxy.url(userinfo);
    o.proxy.https = proxy.url(userinfo);
    return o;
}

bool starts_with(const std::string& text, const std::string& prefix)
{
    return text.rfind(prefix, 0) == 0;
}

} // namespace

TEST_CASE("proxy: an https request goes through a CONNECT tunnel and TLS is verified for the target", "[proxy]")
{
    test_proxy proxy;
    harness h({}, through(proxy), transport_kind::tls);
    h.run([&]() -> asio::awaitable<void> {
        co_await fetch_ok(h.transport, h.url());
        co_await fetch_ok(h.transport, h.url());
    }());
    const auto heads = proxy.heads();
    REQUIRE(heads.size() == 1);  // one tunnel, reused
    CHECK(starts_with(heads[0], "CONNECT localhost:" + std::to_string(h.front->port()) + " HTTP/1.1\r\n"));
    CHECK(heads[0].find("Proxy-Authorization") == std::string::npos);
    CHECK(h.front->last_sni() == "localhost");
    CHECK(h.front->handshakes() == 1);
    CHECK(h.transport.stats().reused == 1);
    h.require_clean_end();
}

TEST_CASE("proxy: the proxy's credentials go to the proxy only, never through the tunnel", "[proxy]")
{
    test_proxy proxy;
    harness h({}, through(proxy, "user:pass"), transport_kind::tls);
    h.run([&]() -> asio::awaitable<void> { co_await fetch_ok(h.transport, h.url()); }());
    const auto heads = proxy.heads();
    REQUIRE(heads.size() == 1);
    CHECK(heads[0].find("Proxy-Authorization: Basic dXNlcjpwYXNz\r\n") != std::string::npos);
    const auto seen = h.server.requests();
    REQUIRE(seen.size() == 1);
    CHECK_FALSE(seen[0].has_header("Proxy-Authorization"));
    h.require_clean_end();
}

TEST_CASE("proxy: an http request goes to the proxy in absolute form, with the proxy's credentials", "[proxy]")
{
    test_proxy proxy;
    harness h({}, through(proxy, "user:pass"));
    h.run([&]() -> asio::awaitable<void> {
        co_await fetch_ok(h.transport, h.url("/a?b=1"));
        co_await fetch_ok(h.transport, h.url("/c"));
    }());
    const auto heads = proxy.heads();
    REQUIRE(heads.size() == 1);  // the second request reused the connection to the proxy
    CHECK(starts_with(heads[0], "GET http://127.0.0.1:" + std::to_string(h.server.port()) + "/a?b=1 HTTP/1.1\r\n"));
    CHECK(heads[0].find("Proxy-Authorization: Basic dXNlcjpwYXNz\r\n") != std::string::npos);
    CHECK(proxy.accepted() == 1);
    h.require_clean_end();
}

TEST_CASE("proxy: each https target gets a tunnel of its own, never another target's", "[proxy]")
{
    test_proxy proxy;
    test_server other;
    tls_front second(other.port(), shared_test_pki().valid());
    harness h({}, through(proxy), transport_kind::tls);
    h.run([&]() -> asio::awaitable<void> {
        co_await fetch_ok(h.transport, h.url("/a"));
        co_await fetch_ok(h.transport, second.url("/b"));
        co_await fetch_ok(h.transport, h.url("/c"));
        co_await fetch_ok(h.transport, second.url("/d"));
    }());
    const auto heads = proxy.heads();
    REQUIRE(heads.size() == 2);
    CHECK(starts_with(heads[0], "CONNECT localhost:" + std::to_string(h.front->port()) + " HTTP/1.1\r\n"));
    CHECK(starts_with(heads[1], "CONNECT localhost:" + std::to_string(second.port()) + " HTTP/1.1\r\n"));
    CHECK(h.front->handshakes() == 1);
    CHECK(second.handshakes() == 1);
    CHECK(h.transport.stats().reused == 2);
    h.require_clean_end({&other});
    CHECK(second.wait_for_open_connections(0, 5s));
}

TEST_CASE("proxy: max_conns_per_host bounds the connections through the proxy to a target", "[proxy]")
{
    LEASH_EVERY_TRANSPORT_KIND();
    test_proxy proxy;
    auto options = through(proxy);
    options.max_conns_per_host = 2;
    harness h([](const received_request&) { return reply::ok("slow").delay(5ms); }, options, kind);
    std::size_t succeeded = 0;
    h.run([&]() -> asio::awaitable<void> {
        auto ex = co_await asio::this_coro::executor;
        std::size_t finished = 0;
        for (int i = 0; i < 16; ++i)
            asio::co_spawn(ex, fetch(h.transport, h.url()), [&](std::exception_ptr, const fetched& r) {
                succeeded += (!r.ec && r.body == "slow");
                ++finished;
            });
        const bool all_finished = co_await eventually([&] { return finished == 16; }, 10s);
        CHECK(all_finished);
    }());
    CHECK(succeeded == 16);
    CHECK(proxy.accepted() <= 2);
    CHECK(h.server.peak_open_connections() <= 2);
    CHECK(h.transport.stats().connections_opened == proxy.accepted());
    h.require_clean_end();
}

TEST_CASE("proxy: a proxy that cuts the tunnel before the answer fails the request, and pools nothing", "[proxy]")
{
    test_proxy proxy;
    harness h(
        [&](const received_request& r) {
            if (r.target == "/cut")
                proxy.cut_connections();  // before the answer is written
            return reply::ok();
        },
        through(proxy), transport_kind::tls);
    auto ec = h.run([&]() -> asio::awaitable<std::error_code> {
        co_return (co_await fetch(h.transport, leash::request::post(h.url("/cut"), "x"))).ec;
    }());
    CHECK(ec);
    CHECK(ec != leash::condition::timeout);
    CHECK(h.transport.stats().total.open == 0);
    h.run([&]() -> asio::awaitable<void> { co_await fetch_ok(h.transport, h.url("/after")); }());
    CHECK(proxy.heads().size() == 2);  // the next request had a new tunnel
    h.require_clean_end();
}

TEST_CASE("proxy: a tunnel the proxy closed while it was idle is not reused", "[proxy]")
{
    test_proxy proxy;
    harness h({}, through(proxy), transport_kind::tls);
    h.run([&]() -> asio::awaitable<void> {
        co_await fetch_ok(h.transport, h.url("/first"));
        proxy.cut_connections();
        co_await wait_until([&] { return h.front->open_connections() == 0; });
        co_await fetch_ok(h.transport, h.url("/second"));
    }());
    CHECK(proxy.heads().size() == 2);
    CHECK(h.transport.stats().reused == 0);
    h.require_clean_end();
}

TEST_CASE("proxy: NO_PROXY sends a listed host directly", "[proxy]")
{
    test_proxy proxy;
    auto options = through(proxy);
    options.proxy.no_proxy = "127.0.0.1";
    harness h({}, options);
    h.run([&]() -> asio::awaitable<void> { co_await fetch_ok(h.transport, h.url()); }());
    CHECK(proxy.accepted() == 0);
    h.require_clean_end();
}

TEST_CASE("proxy: 407 to CONNECT is proxy_auth_required and nothing is pooled", "[proxy]")
{
    test_proxy proxy({test_proxy_script::on_connect::answer,
                      "HTTP/1.1 407 Proxy Authentication Required\r\nProxy-Authenticate: Basic\r\nContent-Length: 0\r\n\r\n"});
    harness h({}, through(proxy), transport_kind::tls);
    auto [ec, status] = h.run([&]() -> asio::awaitable<std::tuple<std::error_code, int>> {
        auto r = co_await fetch(h.transport, leash::request::get(h.url()));
        co_return std::tuple{r.ec, r.status};
    }());
    CHECK(ec == leash::error::proxy_auth_required);
    CHECK(h.front->accepted() == 0);
    CHECK(h.transport.stats().total.idle == 0);
    h.require_clean_end();
}

TEST_CASE("proxy: another refusal of CONNECT carries the proxy's status", "[proxy]")
{
    test_proxy proxy({test_proxy_script::on_connect::answer, "HTTP/1.1 403 Forbidden\r\nContent-Length: 5\r\n\r\nnope."});
    harness h({}, through(proxy), transport_kind::tls);
    auto ec = h.run([&]() -> asio::awaitable<std::error_code> {
        co_return (co_await fetch(h.transport, leash::request::get(h.url()))).ec;
    }());
    CHECK(ec == leash::error::proxy_connect_refused);
    CHECK(ec.value() == 403);
    h.require_clean_end();
}

TEST_CASE("proxy: a proxy that never answers CONNECT fails it at the connect timeout", "[proxy]")
{
    test_proxy proxy({test_proxy_script::on_connect::never_answer, {}});
    auto options = through(proxy);
    options.connect_timeout = std::chrono::milliseconds(200);
    harness h({}, options, transport_kind::tls);
    auto ec = h.run([&]() -> asio::awaitable<std::error_code> {
        co_return (co_await fetch(h.transport, leash::request::get(h.url()))).ec;
    }());
    CHECK(ec == leash::error::proxy_connect_timeout);
    CHECK(ec == leash::condition::timeout);
    h.require_clean_end();
}

TEST_CASE("proxy: a proxy that closes or answers CONNECT with garbage is proxy_bad_response", "[proxy]")
{
    const auto script = GENERATE(test_proxy_script{test_proxy_script::on_connect::close, {}},
                                 test_proxy_script{test_proxy_script::on_connect::answer, "SSH-2.0-OpenSSH\r\n\r\n"},
                                 test_proxy_script{test_proxy_script::on_connect::answer,
                                                   "HTTP/1.1 200 OK\r\n\r\nearly bytes"});
    test_proxy proxy(script);
    harness h({}, through(proxy), transport_kind::tls);
    auto ec = h.run([&]() -> asio::awaitable<std::error_code> {
        co_return (co_await fetch(h.transport, leash::request::get(h.url()))).ec;
    }());
    CHECK(ec == leash::error::proxy_bad_response);
    h.require_clean_end();
}

TEST_CASE("proxy: http and https requests go through a real proxy (tinyproxy)", "[proxy]")
{
    const auto binary = real_proxy::find();
    if (binary.empty()) {
        if (std::getenv("CI"))
            FAIL("tinyproxy is not installed (.ci/run installs it)");
        WARN("tinyproxy is not installed: skipped");
        return;
    }
    const real_proxy proxy(binary);
    leash::transport_options o;
    o.proxy.http = o.proxy.https = proxy.url();
    SECTION("http, in absolute form")
    {
        harness h({}, o);
        h.run([&]() -> asio::awaitable<void> { co_await fetch_ok(h.transport, h.url("/plain")); }());
        const auto seen = h.server.requests();
        REQUIRE(seen.size() == 1);
        CHECK(seen[0].target == "/plain");
        CHECK(seen[0].header("Via").find("tinyproxy") != std::string::npos);
        h.require_clean_end();
    }
    SECTION("https, through CONNECT, with the target's certificate verified")
    {
        auto hooks = std::make_shared<leash::trace_hooks>();
        std::vector<int> tunnel_statuses;
        hooks->proxy_connect_done = [&](const leash::proxy_connect_done_event& e) { tunnel_statuses.push_back(e.status); };
        o.trace = hooks;
        harness h({}, o, transport_kind::tls);
        h.run([&]() -> asio::awaitable<void> {
            co_await fetch_ok(h.transport, h.front->ip_url("/tunnelled"));
            co_await fetch_ok(h.transport, h.front->ip_url("/again"));
        }());
        CHECK(tunnel_statuses == std::vector<int>{200});
        CHECK(h.front->handshakes() == 1);
        CHECK(h.transport.stats().reused == 1);
        h.require_clean_end();
    }
}
