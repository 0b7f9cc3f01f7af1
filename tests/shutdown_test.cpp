// Shutdown: new work refused, waiters failed, in-flight work drained or canceled.
#include <support/harness.hpp>

using namespace leash::test;

namespace {

// Runs async_shutdown(grace) to completion from inside a scenario.
asio::awaitable<std::error_code> shut_down(leash::transport& t, std::chrono::milliseconds grace)
{
    auto [ec] = co_await t.async_shutdown(grace, as_tuple);
    co_return ec;
}

} // namespace

TEST_CASE("shutdown: async_shutdown with nothing in flight completes at once and closes idle connections")
{
    LEASH_EVERY_TRANSPORT_KIND();
    harness h({}, {}, kind);
    h.run([&]() -> asio::awaitable<void> {
        co_await fetch_ok(h.transport, h.url());
        auto ec = co_await shut_down(h.transport, 10s);
        CHECK_FALSE(ec);
        CHECK(h.transport.stats().total.open == 0);
        auto late = co_await fetch(h.transport, h.url());
        CHECK(late.ec == leash::error::shut_down);
    }(), 5s);
    CHECK(h.transport.stats().closed.shutdown == 1);
    h.require_clean_end();
}

TEST_CASE("shutdown: async_shutdown waits for a request in flight to finish")
{
    LEASH_EVERY_TRANSPORT_KIND();
    harness h([](const received_request&) { return reply::ok("late").delay(100ms); }, {}, kind);
    h.run([&]() -> asio::awaitable<void> {
        auto ex = co_await asio::this_coro::executor;
        std::optional<fetched> in_flight;
        asio::co_spawn(ex, fetch(h.transport, h.url()), [&](std::exception_ptr, const fetched& r) { in_flight = r; });
        co_await wait_until([&] { return h.server.request_count() == 1; });
        auto ec = co_await shut_down(h.transport, 10s);
        CHECK_FALSE(ec);
        REQUIRE(in_flight.has_value());  // finished before the shutdown completed
        CHECK_FALSE(in_flight->ec);
        CHECK(in_flight->body == "late");
    }(), 5s);
    h.require_clean_end();
}

TEST_CASE("shutdown: after the grace period, remaining requests are canceled with shut_down")
{
    LEASH_EVERY_TRANSPORT_KIND();
    harness h([](const received_request&) { return reply::never(); }, {}, kind);
    const auto start = std::chrono::steady_clock::now();
    h.run([&]() -> asio::awaitable<void> {
        auto ex = co_await asio::this_coro::executor;
        std::optional<fetched> in_flight;
        asio::co_spawn(ex, fetch(h.transport, h.url()), [&](std::exception_ptr, const fetched& r) { in_flight = r; });
        co_await wait_until([&] { return h.server.request_count() == 1; });
        auto ec = co_await shut_down(h.transport, 100ms);
        CHECK(ec == leash::error::shutdown_incomplete);
        co_await wait_until([&] { return in_flight.has_value(); });
        CHECK(in_flight->ec == leash::error::shut_down);
    }(), 5s);
    CHECK(std::chrono::steady_clock::now() - start < 3s);
    h.require_clean_end();
}

TEST_CASE("shutdown: a body still unread at the deadline loses its connection")
{
    LEASH_EVERY_TRANSPORT_KIND();
    harness h([](const received_request&) {
        return reply::raw("HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\nabc").then_hold();
    }, {}, kind);
    h.run([&]() -> asio::awaitable<void> {
        auto [ec, res] = co_await h.transport.async_send(leash::request::get(h.url()), as_tuple);
        REQUIRE_FALSE(ec);
        auto shut = co_await shut_down(h.transport, 50ms);
        CHECK(shut == leash::error::shutdown_incomplete);
        co_await wait_until([&] { return h.server.closed_by_client() == 1; });
        auto [read_ec, text] = co_await res.body.async_read_all(1000, as_tuple);
        CHECK(read_ec == leash::error::shut_down);
    }(), 5s);
    h.require_clean_end();
}

TEST_CASE("shutdown: waiters are failed with shut_down at once")
{
    leash::transport_options o;
    o.max_conns_per_host = 1;
    harness h([](const received_request&) { return reply::ok().delay(50ms); }, o);
    h.run([&]() -> asio::awaitable<void> {
        auto ex = co_await asio::this_coro::executor;
        std::optional<fetched> first, waiting;
        asio::co_spawn(ex, fetch(h.transport, h.url()), [&](std::exception_ptr, const fetched& r) { first = r; });
        asio::co_spawn(ex, fetch(h.transport, h.url()), [&](std::exception_ptr, const fetched& r) { waiting = r; });
        co_await wait_until([&] { return h.server.request_count() == 1 && h.transport.stats().total.waiters == 1; });
        auto ec = co_await shut_down(h.transport, 5s);
        CHECK_FALSE(ec);
        REQUIRE(waiting.has_value());
        CHECK(waiting->ec == leash::error::shut_down);
        REQUIRE(first.has_value());
        CHECK_FALSE(first->ec);
    }(), 5s);
    h.require_clean_end();
}
