// Failures: invalid input refused before any I/O, protocol violations, timeouts,
// cancellation, shutdown. Each ends cleanly with its own error code.
#include <support/harness.hpp>

using namespace leash::test;

TEST_CASE("errors: invalid URLs fail before any connection is made")
{
    harness h;
    h.run([&]() -> asio::awaitable<void> {
        for (std::string u : {"not a url", "http://", "http://h:99999/", "ftp://127.0.0.1/", "http://a b/"}) {
            auto r = co_await fetch(h.transport, u);
            CHECK(r.ec == leash::condition::invalid_request);
        }
        auto r = co_await fetch(h.transport, "gopher://127.0.0.1/");
        CHECK(r.ec == leash::error::unsupported_scheme);
    }());
    CHECK(h.server.accepted() == 0);
    h.require_clean_end();
}

TEST_CASE("errors: tls_handshake_timeout fires against a server that never answers the handshake")
{
    leash::transport_options o;
    o.tls_handshake_timeout = 100ms;
    harness h({}, o);  // a plain HTTP server waits for a request head that a ClientHello never completes
    h.run([&]() -> asio::awaitable<void> {
        auto r = co_await fetch(h.transport, "https://127.0.0.1:" + std::to_string(h.server.port()) + "/");
        CHECK(r.ec == leash::error::tls_handshake_timeout);
        CHECK(r.ec == leash::condition::timeout);
        co_await wait_until([&] { return h.server.closed_by_client() == 1; });
    }());
    auto s = h.transport.stats();
    CHECK(s.tls_handshakes == 0);
    CHECK(s.timeouts.tls_handshake == 1);
    CHECK(s.connections_opened == 0);
    h.require_clean_end();
}

TEST_CASE("errors: CR or LF in a header value cannot reach the wire")
{
    harness h;
    auto req = leash::request::get(h.url());
    CHECK_THROWS_AS(req.headers.add("X-Evil", "a\r\nInjected: 1"), std::system_error);
    req.headers.append_unchecked("X-Evil", "a\r\nInjected: 1");
    h.run([&]() -> asio::awaitable<void> {
        auto r = co_await fetch(h.transport, std::move(req));
        CHECK(r.ec == leash::error::invalid_header_value);
        auto bad_method = leash::request::get(h.url());
        bad_method.method = "GET /x HTTP/1.1\r\n";
        r = co_await fetch(h.transport, std::move(bad_method));
        CHECK(r.ec == leash::error::invalid_method);
    }());
    CHECK(h.server.accepted() == 0);
    h.require_clean_end();
}

TEST_CASE("errors: conflicting Content-Length from the server fails and closes the connection")
{
    LEASH_EVERY_TRANSPORT_KIND();
    harness h([](const received_request&) {
        return reply::raw("HTTP/1.1 200 OK\r\nContent-Length: 2\r\nContent-Length: 5\r\n\r\nok");
    }, {}, kind);
    h.run([&]() -> asio::awaitable<void> {
        auto r = co_await fetch(h.transport, h.url());
        CHECK(r.ec == leash::error::invalid_content_length);
        co_await wait_until([&] { return h.server.closed_by_client() == 1; });
    }());
    CHECK(h.transport.stats().closed.error == 1);
    h.require_clean_end();
}

TEST_CASE("errors: responses shaped for smuggling fail and close the connection")
{
    struct shape {
        const char* name;
        std::string bytes;
        std::error_code expected;
    };
    const std::vector<shape> shapes{
        {"Transfer-Encoding with Content-Length",
         "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\nContent-Length: 3\r\n\r\n0\r\n\r\n",
         leash::error::invalid_content_length},
        {"a folded header line", "HTTP/1.1 200 OK\r\nX-A: a\r\n b\r\nContent-Length: 2\r\n\r\nok",
         leash::error::malformed_response},
        {"a bare LF ending the head", "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\nok", leash::error::malformed_response},
        {"a CR not followed by LF", "HTTP/1.1 200 OK\rContent-Length: 2\r\n\r\nok", leash::error::malformed_response},
        {"differing Content-Length values in one field",
         "HTTP/1.1 200 OK\r\nContent-Length: 2, 3\r\n\r\nok", leash::error::invalid_content_length},
    };
    for (const auto& s : shapes) {
        CAPTURE(s.name);
        harness h([&](const received_request&) { return reply::raw(s.bytes); });
        h.run([&]() -> asio::awaitable<void> {
            auto r = co_await fetch(h.transport, h.url());
            CHECK(r.ec == s.expected);
            co_await wait_until([&] { return h.server.closed_by_client() == 1; });
        }());
        CHECK(h.transport.stats().closed.error == 1);
        h.require_clean_end();
    }
}

TEST_CASE("errors: a malformed status line fails with malformed_response")
{
    harness h([](const received_request&) { return reply::raw("HTTP/1.1 2x0 OK\r\n\r\n"); });
    h.run([&]() -> asio::awaitable<void> {
        auto r = co_await fetch(h.transport, h.url());
        CHECK(r.ec == leash::error::malformed_response);
    }());
    h.require_clean_end();
}

TEST_CASE("errors: a truncated body fails with unexpected_eof")
{
    LEASH_EVERY_TRANSPORT_KIND();
    harness h([](const received_request&) { return reply::raw("HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nabc").then_close(); }, {}, kind);
    h.run([&]() -> asio::awaitable<void> {
        auto r = co_await fetch(h.transport, h.url());
        CHECK(r.ec == leash::error::unexpected_eof);
        CHECK(r.body == "abc");  // what did arrive is delivered with the error
    }());
    h.require_clean_end();
}

TEST_CASE("errors: a server that closes before responding on a fresh connection is not retried")
{
    harness h([](const received_request&) { return reply::close_without_reply(); });
    h.run([&]() -> asio::awaitable<void> {
        auto r = co_await fetch(h.transport, h.url());
        CHECK(r.ec == leash::error::closed_before_response);
    }());
    CHECK(h.server.accepted() == 1);
    CHECK(h.transport.stats().retries == 0);
    h.require_clean_end();
}

TEST_CASE("errors: oversized response heads fail with headers_too_large")
{
    leash::transport_options o;
    o.max_response_header_bytes = 1024;
    harness h([](const received_request&) { return reply::ok("ok", {{"X-Big", std::string(4000, 'h')}}); }, o);
    h.run([&]() -> asio::awaitable<void> {
        auto r = co_await fetch(h.transport, h.url());
        CHECK(r.ec == leash::error::headers_too_large);
    }());
    h.require_clean_end();
}

TEST_CASE("errors: response_header_timeout fires against a server that never answers")
{
    LEASH_EVERY_TRANSPORT_KIND();
    leash::transport_options o;
    o.response_header_timeout = 50ms;
    harness h([](const received_request&) { return reply::never(); }, o, kind);
    h.run([&]() -> asio::awaitable<void> {
        auto r = co_await fetch(h.transport, h.url());
        CHECK(r.ec == leash::error::response_header_timeout);
        CHECK(r.ec == leash::condition::timeout);
        co_await wait_until([&] { return h.server.closed_by_client() == 1; });
    }());
    auto s = h.transport.stats();
    CHECK(s.timeouts.response_header == 1);
    CHECK(s.total.open == 0);
    h.require_clean_end();
}

TEST_CASE("errors: a request's total timeout bounds the wait for headers")
{
    harness h([](const received_request&) { return reply::never(); });
    h.run([&]() -> asio::awaitable<void> {
        auto req = leash::request::get(h.url());
        req.timeouts.total = 40ms;
        auto r = co_await fetch(h.transport, std::move(req));
        CHECK(r.ec == leash::error::request_timeout);
    }());
    CHECK(h.transport.stats().timeouts.request == 1);
    h.require_clean_end();
}

TEST_CASE("errors: canceling a request waiting for headers closes its connection")
{
    LEASH_EVERY_TRANSPORT_KIND();
    harness h([](const received_request&) { return reply::never(); }, {}, kind);
    h.run([&]() -> asio::awaitable<void> {
        asio::cancellation_signal cancel;
        std::optional<std::error_code> result;
        h.transport.async_send(leash::request::get(h.url()),
                               asio::bind_cancellation_slot(cancel.slot(), [&](std::error_code ec, leash::response) {
                                   result = ec;
                               }));
        co_await wait_until([&] { return h.server.request_count() == 1; });
        cancel.emit(asio::cancellation_type::terminal);
        co_await wait_until([&] { return result.has_value(); });
        CHECK(*result == asio::error::operation_aborted);
        co_await wait_until([&] { return h.server.closed_by_client() == 1; });
    }());
    h.require_clean_end();
}

TEST_CASE("errors: a refused connection reports the system error")
{
    std::string url;
    {
        test_server gone;
        url = gone.url();
    }
    harness h;
    h.run([&]() -> asio::awaitable<void> {
        auto r = co_await fetch(h.transport, url);
        CHECK(r.ec == asio::error::connection_refused);
    }());
    CHECK(h.transport.stats().dial_failures == 1);
    h.require_clean_end();
}

TEST_CASE("errors: after shutdown, requests fail with shut_down and waiters are released")
{
    leash::transport_options o;
    o.max_conns_per_host = 1;
    harness h([](const received_request&) { return reply::ok().delay(50ms); }, o);
    h.run([&]() -> asio::awaitable<void> {
        auto ex = co_await asio::this_coro::executor;
        std::optional<std::error_code> first, waiting;
        asio::co_spawn(ex, fetch(h.transport, h.url()), [&](std::exception_ptr, const fetched& r) { first = r.ec; });
        asio::co_spawn(ex, fetch(h.transport, h.url()), [&](std::exception_ptr, const fetched& r) { waiting = r.ec; });
        co_await wait_until([&] {
            return h.server.request_count() == 1 && h.transport.stats().total.waiters == 1;
        });
        h.transport.shutdown();
        co_await wait_until([&] { return waiting.has_value(); });
        CHECK(*waiting == leash::error::shut_down);
        auto late = co_await fetch(h.transport, h.url());
        CHECK(late.ec == leash::error::shut_down);
        co_await wait_until([&] { return first.has_value(); });
        CHECK_FALSE(*first);  // in flight at shutdown: completes, its connection then closes
    }());
    h.require_clean_end();
}

TEST_CASE("errors: completion tokens: use_future and callbacks deliver the same result")
{
    harness h;
    std::thread io([&] {
        auto guard = asio::make_work_guard(h.ioc);
        h.ioc.run_for(std::chrono::seconds(10));
    });
    auto fut = h.transport.async_send(leash::request::get(h.url()), asio::use_future);
    REQUIRE(fut.wait_for(10s) == std::future_status::ready);
    auto res = fut.get();
    CHECK(res.status == 200);
    auto text = res.body.async_read_all(100, asio::use_future);
    REQUIRE(text.wait_for(10s) == std::future_status::ready);
    CHECK(text.get() == "ok");
    h.ioc.stop();
    io.join();
    h.require_clean_end();
}
