// The fault-injection suite: servers that misbehave the ways real networks do. For each: the
// right error code, a bounded time, no reuse of a connection that must not be reused, and
// the clean end every transport test has (no work left, gauges zero, no descriptor leaked).
#include <support/faults.hpp>
#include <support/harness.hpp>

using namespace leash::test;
using clock_type = std::chrono::steady_clock;

namespace {

// Generous for a loaded CI machine, tiny next to the defaults a hang would run into.
constexpr auto bound = 5s;

leash::transport_options short_timeouts()
{
    leash::transport_options o;
    o.response_header_timeout = 200ms;
    o.body_read_timeout = 200ms;
    return o;
}

} // namespace

TEST_CASE("faults: a server that accepts and never reads hits response_header_timeout")
{
    silent_listener silent;
    harness h({}, short_timeouts());
    const auto start = clock_type::now();
    h.run([&]() -> asio::awaitable<void> {
        auto r = co_await fetch(h.transport, silent.url());
        CHECK(r.ec == leash::error::response_header_timeout);
    }());
    CHECK(clock_type::now() - start < bound);
    CHECK(silent.accepted() == 1);
    CHECK(h.transport.stats().total.open == 0);
    silent.close_held();
    h.require_clean_end();
}

TEST_CASE("faults: headers trickled a byte at a time are bounded by response_header_timeout")
{
    LEASH_EVERY_TRANSPORT_KIND();
    harness h([](const received_request&) {
        reply r = reply::raw("");
        for (char c : std::string("HTTP/1.1 200 OK\r\nX-Slow: aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa\r\n\r\n"))
            r.piece(20ms, std::string(1, c));  // ~1.3 s for the head: bytes keep coming, yet it must end
        return r;
    }, short_timeouts(), kind);
    const auto start = clock_type::now();
    h.run([&]() -> asio::awaitable<void> {
        auto r = co_await fetch(h.transport, h.url());
        CHECK(r.ec == leash::error::response_header_timeout);
    }());
    CHECK(clock_type::now() - start < bound);
    h.require_clean_end();
}

TEST_CASE("faults: headers trickled within the timeout are received")
{
    LEASH_EVERY_TRANSPORT_KIND();
    harness h([](const received_request&) {
        reply r = reply::raw("");
        for (char c : std::string("HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok"))
            r.piece(1ms, std::string(1, c));
        return r;
    }, {}, kind);
    h.run([&]() -> asio::awaitable<void> {
        auto r = co_await fetch_ok(h.transport, h.url());
        CHECK(r.body == "ok");
        co_await fetch_ok(h.transport, h.url());
    }());
    CHECK(h.server.accepted() == 1);
    h.require_clean_end();
}

TEST_CASE("faults: a body trickled slower than body_read_timeout fails the read")
{
    LEASH_EVERY_TRANSPORT_KIND();
    harness h([](const received_request&) {
        return reply::raw("HTTP/1.1 200 OK\r\nContent-Length: 3\r\n\r\na").piece(500ms, "b").piece(500ms, "c");
    }, short_timeouts(), kind);
    const auto start = clock_type::now();
    h.run([&]() -> asio::awaitable<void> {
        auto r = co_await fetch(h.transport, h.url());
        CHECK(r.ec == leash::error::body_read_timeout);
        CHECK(r.body == "a");
        co_await fetch(h.transport, h.url());  // a new connection: the timed-out one is gone
    }());
    CHECK(clock_type::now() - start < bound);
    CHECK(h.server.accepted() == 2);
    h.require_clean_end();
}

TEST_CASE("faults: a reset before the response fails with connection_reset, unretried on a fresh connection")
{
    harness h([](const received_request&) { return reply::raw("").then_reset(); });
    h.run([&]() -> asio::awaitable<void> {
        auto r = co_await fetch(h.transport, h.url());
        CHECK((r.ec == asio::error::connection_reset || r.ec == leash::error::closed_before_response));
    }());
    CHECK(h.server.accepted() == 1);
    CHECK(h.transport.stats().retries == 0);
    h.require_clean_end();
}

TEST_CASE("faults: a reset in the middle of the body fails the read and drops the connection")
{
    LEASH_EVERY_TRANSPORT_KIND();
    harness h([](const received_request& req) {
        if (req.target == "/next")
            return reply::ok();
        return reply::raw("HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\npartial").piece(20ms, "").then_reset();
    }, {}, kind);
    h.run([&]() -> asio::awaitable<void> {
        auto r = co_await fetch(h.transport, h.url());
        CHECK(r.ec);
        CHECK(r.ec != leash::error::body_read_timeout);
        CHECK(r.body == "partial");
        co_await fetch_ok(h.transport, h.url("/next"));
    }());
    CHECK(h.server.accepted() == 2);
    h.require_clean_end();
}

TEST_CASE("faults: a truncated body with close fails with unexpected_eof and is not reused")
{
    LEASH_EVERY_TRANSPORT_KIND();
    harness h([](const received_request& req) {
        if (req.target == "/next")
            return reply::ok();
        return reply::raw("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhel").then_close();
    }, {}, kind);
    h.run([&]() -> asio::awaitable<void> {
        auto r = co_await fetch(h.transport, h.url());
        CHECK(r.ec == leash::error::unexpected_eof);
        co_await fetch_ok(h.transport, h.url("/next"));
    }());
    CHECK(h.server.accepted() == 2);
    h.require_clean_end();
}

TEST_CASE("faults: a server that silently drops every connection after 3 responses is absorbed by retries")
{
    LEASH_EVERY_TRANSPORT_KIND();
    harness h([](const received_request& req) {
        return req.index_on_connection < 3 ? reply::ok() : reply::close_without_reply();
    }, {}, kind);
    h.run([&]() -> asio::awaitable<void> {
        for (int i = 0; i < 12; ++i)
            co_await fetch_ok(h.transport, h.url());
    }());
    auto s = h.transport.stats();
    CHECK(s.retries == 3);          // requests 4, 7, 10 met a dropped connection
    CHECK(h.server.accepted() == 4);
    h.require_clean_end();
}

TEST_CASE("faults: idle connections the server closes after T ms are never handed out")
{
    LEASH_EVERY_TRANSPORT_KIND();
    harness h([](const received_request&) { return reply::ok().close_idle_after(20ms); }, {}, kind);
    h.run([&]() -> asio::awaitable<void> {
        for (int i = 0; i < 3; ++i) {
            co_await fetch_ok(h.transport, h.url());
            co_await wait_until([&] { return h.server_side_all_closed(); });
            auto post = co_await fetch(h.transport, leash::request::post(h.url(), "{}"));  // not replayable
            CHECK_FALSE(post.ec);
            co_await wait_until([&] { return h.server_side_all_closed(); });
        }
    }());
    CHECK(h.transport.stats().retries == 0);
    CHECK(h.transport.stats().closed.dead_at_checkout >= 5);
    h.require_clean_end();
}

TEST_CASE("faults: a TLS server that never finishes the handshake is bounded by tls_handshake_timeout")
{
    leash::transport_options o;
    o.tls_handshake_timeout = 150ms;
    tls_setup setup;
    setup.front.complete_handshake = false;
    harness h({}, o, transport_kind::tls, setup);
    const auto start = clock_type::now();
    h.run([&]() -> asio::awaitable<void> {
        auto r = co_await fetch(h.transport, h.url());
        CHECK(r.ec == leash::error::tls_handshake_timeout);
    }());
    CHECK(clock_type::now() - start < bound);
    h.require_clean_end();
}
