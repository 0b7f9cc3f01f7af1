// TLS: secure defaults, verification failures by kind, resumption, handshake timeout, closes.
#include <support/harness.hpp>

#include <asio/ssl.hpp>

using namespace leash::test;
using leash::tls_error;

namespace {

constexpr auto tls = transport_kind::tls;

// A harness whose TLS front presents `identity`.
tls_setup presenting(pem_identity identity)
{
    tls_setup s;
    s.identity = std::move(identity);
    return s;
}

} // namespace

TEST_CASE("tls: a certificate from a trusted CA works, and the connection is reused")
{
    harness h({}, {}, tls);
    h.run([&]() -> asio::awaitable<void> {
        co_await fetch_ok(h.transport, h.url());
        co_await fetch_ok(h.transport, h.url());
    }());
    CHECK(h.front->handshakes() == 1);
    CHECK(h.server.accepted() == 1);
    CHECK(h.transport.stats().tls_handshakes == 1);
    CHECK(h.transport.stats().reused == 1);
    h.require_clean_end();
}

TEST_CASE("tls: ALPN offers http/1.1 and SNI names the host")
{
    harness h({}, {}, tls);
    h.run([&]() -> asio::awaitable<void> { co_await fetch_ok(h.transport, h.url()); }());
    CHECK(h.front->last_alpn() == "http/1.1");
    CHECK(h.front->last_sni() == "localhost");
    h.require_clean_end();
}

TEST_CASE("tls: an IP literal is verified against the certificate's IP entries, without SNI")
{
    harness h({}, {}, tls);
    h.run([&]() -> asio::awaitable<void> { co_await fetch_ok(h.transport, h.front->ip_url()); }());
    CHECK(h.front->last_sni().empty());
    h.require_clean_end();
}

TEST_CASE("tls: a new connection to a known host resumes the session")
{
    harness h({}, {}, tls);
    h.run([&]() -> asio::awaitable<void> {
        auto first = leash::request::get(h.url());
        first.headers.set("Connection", "close");  // the next request needs a new connection
        auto r = co_await fetch(h.transport, std::move(first));
        REQUIRE_FALSE(r.ec);
        co_await fetch_ok(h.transport, h.url());
    }());
    auto s = h.transport.stats();
    CHECK(s.tls_handshakes == 2);
    CHECK(s.tls_resumptions == 1);
    CHECK(h.front->resumed_handshakes() == 1);
    h.require_clean_end();
}

TEST_CASE("tls: a burst of new connections to a known host resumes on every one")
{
    // Each TLS 1.3 ticket serves one resumption: the cache keeps several per host.
    leash::transport_options o;
    o.max_idle_conns_per_host = 0;  // every request needs a new connection
    harness h({}, o, tls);
    constexpr int burst = 2;
    h.run([&]() -> asio::awaitable<void> {
        co_await fetch_ok(h.transport, h.url());  // a full handshake; the server sends tickets
        co_await fetch_ok(h.transport, h.url());  // resumed, with a ticket of its own
        co_await wait_until([&] { return h.server_side_all_closed(); });
        auto ex = co_await asio::this_coro::executor;
        int done = 0;
        for (int i = 0; i < burst; ++i)
            asio::co_spawn(ex, fetch_ok(h.transport, h.url()), [&](std::exception_ptr, const auto&) { ++done; });
        co_await wait_until([&] { return done == burst; });
    }());
    auto s = h.transport.stats();
    CHECK(s.tls_handshakes == 2 + burst);
    CHECK(s.tls_resumptions == 1 + burst);
    CHECK(h.front->resumed_handshakes() == 1 + burst);
    h.require_clean_end();
}

TEST_CASE("tls: session resumption can be switched off")
{
    leash::transport_options o;
    o.tls.session_resumption = false;
    harness h({}, o, tls);
    h.run([&]() -> asio::awaitable<void> {
        auto first = leash::request::get(h.url());
        first.headers.set("Connection", "close");
        auto r = co_await fetch(h.transport, std::move(first));
        REQUIRE_FALSE(r.ec);
        co_await fetch_ok(h.transport, h.url());
    }());
    CHECK(h.transport.stats().tls_resumptions == 0);
    CHECK(h.front->resumed_handshakes() == 0);
    h.require_clean_end();
}

namespace {

// Runs one GET against a front presenting `identity` and returns its error; nothing may be
// pooled and the backend must never see a request.
std::error_code failed_handshake(tls_setup setup, leash::transport_options o = {})
{
    harness h({}, std::move(o), tls, std::move(setup));
    std::error_code ec;
    h.run([&]() -> asio::awaitable<void> {
        auto r = co_await fetch(h.transport, h.url());
        ec = r.ec;
    }());
    auto s = h.transport.stats();
    CHECK(s.connections_opened == 0);
    CHECK(s.total.open == 0);
    CHECK(s.tls_handshakes == 0);
    CHECK(h.server.request_count() == 0);
    h.require_clean_end();
    return ec;
}

} // namespace

TEST_CASE("tls: an unknown CA fails with certificate_untrusted")
{
    tls_setup setup;
    setup.trust_test_ca = false;  // the system store does not know the test CA
    auto ec = failed_handshake(setup);
    CHECK(ec == tls_error::certificate_untrusted);
    CHECK(ec == tls_error::verification_failed);
    CHECK_FALSE(ec.message().empty());
}

TEST_CASE("tls: a self-signed certificate fails with certificate_untrusted")
{
    CHECK(failed_handshake(presenting(shared_test_pki().self_signed())) == tls_error::certificate_untrusted);
}

TEST_CASE("tls: a certificate for another host fails with host_name_mismatch")
{
    auto ec = failed_handshake(presenting(shared_test_pki().wrong_host()));
    CHECK(ec == tls_error::host_name_mismatch);
    CHECK(ec.message() == "hostname mismatch");
}

TEST_CASE("tls: an expired certificate fails with certificate_expired")
{
    auto ec = failed_handshake(presenting(shared_test_pki().expired()));
    CHECK(ec == tls_error::certificate_expired);
    CHECK(ec.message() == "certificate has expired");
}

TEST_CASE("tls: verification is on by default; the skip switch accepts any certificate when set")
{
    CHECK_FALSE(leash::transport_options{}.tls.insecure_skip_verify);
    leash::transport_options o;
    o.tls.insecure_skip_verify = true;
    tls_setup setup = presenting(shared_test_pki().wrong_host());
    setup.trust_test_ca = false;
    harness h({}, o, tls, setup);
    h.run([&]() -> asio::awaitable<void> { co_await fetch_ok(h.transport, h.url()); }());
    h.require_clean_end();
}

TEST_CASE("tls: a CA directory can replace the CA file")
{
    leash::transport_options o;
    o.tls.ca_path = shared_test_pki().ca_dir().string();
    harness h({}, o, tls);
    h.run([&]() -> asio::awaitable<void> { co_await fetch_ok(h.transport, h.url()); }());
    h.require_clean_end();
}

TEST_CASE("tls: a caller's context supplies a client certificate, verification stays on")
{
    auto ctx = std::make_shared<asio::ssl::context>(asio::ssl::context::tls_client);
    ctx->load_verify_file(shared_test_pki().ca_cert().string());
    ctx->use_certificate_file(shared_test_pki().client().cert.string(), asio::ssl::context::pem);
    ctx->use_private_key_file(shared_test_pki().client().key.string(), asio::ssl::context::pem);
    leash::transport_options o;
    o.tls.context = ctx;
    tls_setup setup;
    setup.front.client_ca = shared_test_pki().ca_cert();
    harness h({}, o, tls, setup);
    h.run([&]() -> asio::awaitable<void> { co_await fetch_ok(h.transport, h.url()); }());
    CHECK(h.front->last_client_subject().find("leash test client") != std::string::npos);
    h.require_clean_end();

    tls_setup wrong = presenting(shared_test_pki().wrong_host());
    CHECK(failed_handshake(wrong, o) == tls_error::host_name_mismatch);
}

TEST_CASE("tls: an unreadable CA file is refused when the transport is made")
{
    asio::io_context ioc;
    leash::transport_options o;
    o.tls.ca_file = "/nonexistent/ca.pem";
    CHECK_THROWS_AS(leash::transport(ioc, o), std::system_error);
}

TEST_CASE("tls: a server that never finishes the handshake hits tls_handshake_timeout")
{
    leash::transport_options o;
    o.tls_handshake_timeout = 100ms;
    tls_setup setup;
    setup.front.complete_handshake = false;
    harness h({}, o, tls, setup);
    h.run([&]() -> asio::awaitable<void> {
        auto r = co_await fetch(h.transport, h.url());
        CHECK(r.ec == leash::error::tls_handshake_timeout);
        co_await wait_until([&] { return h.front->open_connections() == 0; });
    }());
    CHECK(h.front->accepted() == 1);
    CHECK(h.transport.stats().timeouts.tls_handshake == 1);
    h.require_clean_end();
}

TEST_CASE("tls: a TLS stream cut without close_notify in the middle of a body is an error")
{
    tls_setup setup;
    setup.front.send_close_notify = false;
    harness h([](const received_request&) { return reply::raw("HTTP/1.1 200 OK\r\n\r\nclose-delimited").then_close(); },
              {}, tls, setup);
    h.run([&]() -> asio::awaitable<void> {
        auto r = co_await fetch(h.transport, h.url());
        CHECK(r.ec == leash::error::unexpected_eof);
        CHECK(r.body == "close-delimited");
    }());
    h.require_clean_end();
}

TEST_CASE("tls: a close-delimited body ended by close_notify is complete")
{
    harness h([](const received_request&) { return reply::raw("HTTP/1.1 200 OK\r\n\r\nclose-delimited").then_close(); },
              {}, tls);
    h.run([&]() -> asio::awaitable<void> {
        auto r = co_await fetch_ok(h.transport, h.url());
        CHECK(r.body == "close-delimited");
    }());
    h.require_clean_end();
}

TEST_CASE("tls: closing an idle TLS connection does not wait for the peer")
{
    leash::transport_options o;
    o.tls_close_timeout = 10s;  // were the close waiting for the peer, shutdown would take this long
    tls_setup setup;
    setup.front.send_close_notify = false;
    harness h({}, o, tls, setup);
    h.run([&]() -> asio::awaitable<void> { co_await fetch_ok(h.transport, h.url()); }());
    const auto start = std::chrono::steady_clock::now();
    h.require_clean_end();
    CHECK(std::chrono::steady_clock::now() - start < 5s);
}

TEST_CASE("tls: http and https to the same port never share a pooled connection")
{
    harness h({}, {}, tls);
    const auto port = std::to_string(h.front->port());
    h.run([&]() -> asio::awaitable<void> {
        co_await fetch_ok(h.transport, "https://localhost:" + port + "/");
        auto plain = co_await fetch(h.transport, "http://localhost:" + port + "/");
        CHECK(plain.ec);  // plain HTTP to a TLS port: whatever the failure, not the pooled TLS connection
    }());
    CHECK(h.transport.stats().reused == 0);
    h.require_clean_end();
}
