// Every phase has a finite timeout of its own, overridable per request.
#include <support/faults.hpp>
#include <support/harness.hpp>

using namespace leash::test;

TEST_CASE("timeouts: connect_timeout fires against an address that never answers")
{
    blackhole_listener hole;
    leash::transport_options o;
    o.connect_timeout = 100ms;
    harness h({}, o);
    const auto start = std::chrono::steady_clock::now();
    h.run([&]() -> asio::awaitable<void> {
        auto r = co_await fetch(h.transport, "http://127.0.0.1:" + std::to_string(hole.port()) + "/");
        CHECK(r.ec == leash::error::connect_timeout);
    }());
    CHECK(std::chrono::steady_clock::now() - start < 3s);
    CHECK(h.transport.stats().timeouts.connect == 1);
    CHECK(h.transport.stats().dial_failures == 1);
    h.require_clean_end();
}

TEST_CASE("timeouts: each resolved address gets its own connect attempt, in order")
{
    test_server backend;
    blackhole_listener hole("127.0.0.3", backend.port());  // same port, an address that hangs
    leash::transport_options o;
    o.connect_timeout = 100ms;
    o.resolve_overrides["api.test"] = {"127.0.0.3", "127.0.0.2", "127.0.0.1"};  // hangs, refuses, works
    harness h({}, o);
    h.run([&]() -> asio::awaitable<void> {
        auto r = co_await fetch(h.transport, "http://api.test:" + std::to_string(backend.port()) + "/");
        CHECK_FALSE(r.ec);
        CHECK(r.body == "ok");
    }());
    CHECK(h.transport.stats().timeouts.connect == 0);  // the request succeeded: no phase timed out
    CHECK(backend.accepted() == 1);
    h.require_clean_end({&backend});
}

TEST_CASE("timeouts: a request's own connect timeout overrides the transport's")
{
    blackhole_listener hole;
    harness h;  // transport default: 10 s
    h.run([&]() -> asio::awaitable<void> {
        auto req = leash::request::get("http://127.0.0.1:" + std::to_string(hole.port()) + "/");
        req.timeouts.connect = 50ms;
        auto r = co_await fetch(h.transport, std::move(req));
        CHECK(r.ec == leash::error::connect_timeout);
    }(), 5s);
    h.require_clean_end();
}

TEST_CASE("timeouts: per-request header and body-read timeouts override the transport's")
{
    harness h([](const received_request& req) {
        if (req.target == "/slow-head")
            return reply::never();
        return reply::raw("HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nabc").then_hold();
    });
    h.run([&]() -> asio::awaitable<void> {
        auto slow_head = leash::request::get(h.url("/slow-head"));
        slow_head.timeouts.response_header = 50ms;
        auto a = co_await fetch(h.transport, std::move(slow_head));
        CHECK(a.ec == leash::error::response_header_timeout);

        auto slow_body = leash::request::get(h.url("/slow-body"));
        slow_body.timeouts.body_read = 50ms;
        auto b = co_await fetch(h.transport, std::move(slow_body));
        CHECK(b.ec == leash::error::body_read_timeout);
        CHECK(b.body == "abc");
    }(), 5s);
    h.require_clean_end();
}

TEST_CASE("timeouts: the total deadline also bounds reading the body")
{
    harness h([](const received_request&) {
        return reply::raw("HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\n").piece(10ms, "a").piece(10ms, "b")
            .repeat_forever(10ms, "c");
    });
    h.run([&]() -> asio::awaitable<void> {
        auto req = leash::request::get(h.url());
        req.timeouts.total = 150ms;  // body bytes keep coming, so only the total deadline can end it
        auto r = co_await fetch(h.transport, std::move(req));
        CHECK(r.ec == leash::error::request_timeout);
    }(), 5s);
    CHECK(h.transport.stats().timeouts.request == 1);
    h.require_clean_end();
}

TEST_CASE("timeouts: the body-read timeout is re-armed by every read that makes progress")
{
    leash::transport_options o;
    o.body_read_timeout = 200ms;
    harness h([](const received_request&) {
        auto r = reply::raw("HTTP/1.1 200 OK\r\nContent-Length: 8\r\n\r\n");
        for (int i = 0; i < 8; ++i)
            r.piece(60ms, "x");  // 480 ms in all, never 200 ms of silence
        return r;
    }, o);
    h.run([&]() -> asio::awaitable<void> {
        auto r = co_await fetch(h.transport, h.url());
        CHECK_FALSE(r.ec);
        CHECK(r.body == "xxxxxxxx");
    }(), 5s);
    h.require_clean_end();
}

TEST_CASE("timeouts: write_timeout fires when the server does not read a large request body")
{
    silent_listener silent;  // a 64 MiB body fills every buffer on the way
    leash::transport_options o;
    o.write_timeout = 200ms;
    harness h({}, o);
    h.run([&]() -> asio::awaitable<void> {
        auto r = co_await fetch(h.transport, leash::request::post(silent.url(), std::string(64 << 20, 'b')));
        CHECK(r.ec == leash::error::write_timeout);
    }(), 10s);
    CHECK(h.transport.stats().timeouts.write == 1);
    silent.close_held();
    h.require_clean_end();
}
