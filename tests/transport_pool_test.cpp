// The pool's promises, end to end against the in-process server.
#include <support/harness.hpp>

using namespace leash::test;
using leash::transport_options;

namespace {

transport_options with_max_conns(std::size_t n)
{
    transport_options o;
    o.max_conns_per_host = n;
    return o;
}

} // namespace

TEST_CASE("transport pool: 1000 sequential GETs on one host use exactly one connection")
{
    LEASH_EVERY_TRANSPORT_KIND();
    harness h({}, {}, kind);
    h.run([&]() -> asio::awaitable<void> {
        for (int i = 0; i < 1000; ++i) {
            auto r = co_await fetch(h.transport, h.url());
            REQUIRE_FALSE(r.ec);
            REQUIRE(r.body == "ok");
        }
    }());
    CHECK(h.server.accepted() == 1);
    auto s = h.transport.stats();
    CHECK(s.connections_opened == 1);
    CHECK(s.reused == 999);
    CHECK(s.total.idle == 1);
    h.require_clean_end();
}

TEST_CASE("transport pool: 64 concurrent requests never exceed max_conns_per_host and all succeed")
{
    LEASH_EVERY_TRANSPORT_KIND();
    harness h([](const received_request&) { return reply::ok("slow").delay(5ms); }, with_max_conns(8), kind);
    std::size_t succeeded = 0;
    std::size_t peak_leased = 0;
    h.run([&]() -> asio::awaitable<void> {
        auto ex = co_await asio::this_coro::executor;
        std::size_t finished = 0;
        for (int i = 0; i < 64; ++i)
            asio::co_spawn(ex, fetch(h.transport, h.url()), [&](std::exception_ptr, const fetched& r) {
                succeeded += (!r.ec && r.body == "slow");
                ++finished;
                peak_leased = std::max(peak_leased, h.transport.stats().total.open);
            });
        const bool all_finished = co_await eventually([&] { return finished == 64; }, 10s);
        CHECK(all_finished);
    }());
    CHECK(succeeded == 64);
    CHECK(h.server.peak_open_connections() <= 8);
    CHECK(h.server.accepted() <= 8);
    CHECK(peak_leased <= 8);
    CHECK(h.transport.stats().connections_opened == h.server.accepted());
    h.require_clean_end();
}

TEST_CASE("transport pool: the per-host idle cap closes surplus connections when they return")
{
    auto o = with_max_conns(4);
    o.max_idle_conns_per_host = 2;
    harness h([](const received_request&) { return reply::ok().delay(20ms); }, o);
    h.run([&]() -> asio::awaitable<void> {
        auto ex = co_await asio::this_coro::executor;
        int finished = 0;
        for (int i = 0; i < 4; ++i)
            asio::co_spawn(ex, fetch(h.transport, h.url()), [&](std::exception_ptr, const fetched& r) {
                CHECK_FALSE(r.ec);
                ++finished;
            });
        co_await wait_until([&] { return finished == 4; });
    }());
    CHECK(h.server.accepted() == 4);
    auto s = h.transport.stats();
    CHECK(s.total.idle == 2);
    CHECK(s.closed.idle_limit == 2);
    CHECK(h.server.wait_for_closed_by_client(2, 5s));
    h.require_clean_end();
}

TEST_CASE("transport pool: the global idle cap evicts the least recently used host's connection")
{
    test_server second;
    test_server third;
    transport_options o;
    o.max_idle_conns = 2;
    harness h({}, o);
    h.run([&]() -> asio::awaitable<void> {
        co_await fetch_ok(h.transport, h.url());
        co_await fetch_ok(h.transport, second.url());
        co_await fetch_ok(h.transport, third.url());
    }());
    auto s = h.transport.stats();
    CHECK(s.total.idle == 2);
    CHECK(s.closed.idle_limit == 1);
    CHECK(s.hosts.count("http://127.0.0.1:" + std::to_string(h.server.port())) == 0);
    CHECK(h.server.wait_for_closed_by_client(1, 5s));
    CHECK(second.closed_by_client() == 0);
    CHECK(third.closed_by_client() == 0);
    h.require_clean_end({&second, &third});
}

TEST_CASE("transport pool: idle_conn_timeout closes an idle connection")
{
    LEASH_EVERY_TRANSPORT_KIND();
    transport_options o;
    o.idle_conn_timeout = 50ms;
    harness h({}, o, kind);
    h.run([&]() -> asio::awaitable<void> {
        co_await fetch_ok(h.transport, h.url());
        CHECK(h.transport.stats().total.idle == 1);
        co_await wait_until([&] { return h.server.closed_by_client() == 1; });
        CHECK(h.transport.stats().total.idle == 0);
        CHECK(h.transport.stats().closed.idle_timeout == 1);
        co_await fetch_ok(h.transport, h.url());
    }());
    CHECK(h.server.accepted() == 2);
    h.require_clean_end();
}

TEST_CASE("transport pool: a Keep-Alive timeout hint shortens the idle timeout")
{
    transport_options o;
    o.idle_conn_timeout = std::chrono::hours(1);
    o.keep_alive_hint_margin = 900ms;  // capped at half the hint: 1s - 0.5s
    harness h([](const received_request&) { return reply::ok("ok", {{"Keep-Alive", "timeout=1"}}); }, o);
    h.run([&]() -> asio::awaitable<void> {
        co_await fetch_ok(h.transport, h.url());
        co_await wait_until([&] { return h.server.closed_by_client() == 1; }, 5s);
        CHECK(h.transport.stats().closed.idle_timeout == 1);
    }());
    h.require_clean_end();
}

TEST_CASE("transport pool: an idle connection closed by the server is not handed out")
{
    LEASH_EVERY_TRANSPORT_KIND();
    harness h([](const received_request&) { return reply::ok().close_idle_after(1ms); }, {}, kind);
    h.run([&]() -> asio::awaitable<void> {
        co_await fetch_ok(h.transport, h.url());
        co_await wait_until([&] { return h.server_side_all_closed(); });
        auto r = co_await fetch(h.transport, leash::request::post(h.url(), "{}"));
        CHECK_FALSE(r.ec);
    }());
    auto s = h.transport.stats();
    CHECK(s.closed.dead_at_checkout == 1);
    CHECK(s.retries == 0);
    CHECK(h.server.accepted() == 2);
    h.require_clean_end();
}

namespace {

// The second request on every connection is read, then the connection is closed unanswered:
// what a client meets when a server drops a kept-alive connection as a request arrives.
reply drop_second_request(const received_request& req)
{
    return req.index_on_connection == 0 ? reply::ok() : reply::close_without_reply();
}

} // namespace

TEST_CASE("transport pool: a GET that meets a stale reused connection is retried once, transparently")
{
    LEASH_EVERY_TRANSPORT_KIND();
    harness h(drop_second_request, {}, kind);
    h.run([&]() -> asio::awaitable<void> {
        co_await fetch_ok(h.transport, h.url());
        auto r = co_await fetch(h.transport, h.url("/again"));
        CHECK_FALSE(r.ec);
        CHECK(r.body == "ok");
    }());
    CHECK(h.transport.stats().retries == 1);
    CHECK(h.server.accepted() == 2);
    CHECK(h.server.request_count() == 3);
    h.require_clean_end();
}

TEST_CASE("transport pool: a POST that meets a stale reused connection is not retried without opt-in")
{
    LEASH_EVERY_TRANSPORT_KIND();
    harness h(drop_second_request, {}, kind);
    h.run([&]() -> asio::awaitable<void> {
        co_await fetch_ok(h.transport, h.url());
        auto r = co_await fetch(h.transport, leash::request::post(h.url(), "{}"));
        CHECK(r.ec == leash::error::closed_before_response);
    }());
    CHECK(h.transport.stats().retries == 0);
    CHECK(h.server.request_count() == 2);
    h.require_clean_end();
}

TEST_CASE("transport pool: a POST marked replayable is retried after a stale reused connection")
{
    LEASH_EVERY_TRANSPORT_KIND();
    harness h(drop_second_request, {}, kind);
    h.run([&]() -> asio::awaitable<void> {
        co_await fetch_ok(h.transport, h.url());
        auto req = leash::request::post(h.url(), "{\"n\":1}");
        req.replayable = true;
        auto r = co_await fetch(h.transport, std::move(req));
        CHECK_FALSE(r.ec);
    }());
    CHECK(h.transport.stats().retries == 1);
    auto reqs = h.server.requests();
    REQUIRE(reqs.size() == 3);
    CHECK(reqs[1].body == "{\"n\":1}");
    CHECK(reqs[2].body == "{\"n\":1}");
    h.require_clean_end();
}

TEST_CASE("transport pool: a canceled waiter leaves the queue at once")
{
    LEASH_EVERY_TRANSPORT_KIND();
    harness h([](const received_request&) { return reply::ok().delay(100ms); }, with_max_conns(1), kind);
    h.run([&]() -> asio::awaitable<void> {
        auto ex = co_await asio::this_coro::executor;
        bool first_done = false;
        asio::co_spawn(ex, fetch(h.transport, h.url()), [&](std::exception_ptr, const fetched& r) {
            CHECK_FALSE(r.ec);
            first_done = true;
        });
        asio::cancellation_signal cancel;
        std::optional<std::error_code> second;
        h.transport.async_send(leash::request::get(h.url()),
                               asio::bind_cancellation_slot(cancel.slot(), [&](std::error_code ec, leash::response) {
                                   second = ec;
                               }));
        co_await wait_until([&] { return h.transport.stats().total.waiters == 1; });
        cancel.emit(asio::cancellation_type::terminal);
        co_await wait_until([&] { return second.has_value(); });
        CHECK(*second == asio::error::operation_aborted);
        CHECK(h.transport.stats().total.waiters == 0);
        CHECK_FALSE(first_done);
        co_await wait_until([&] { return first_done; });
    }());
    CHECK(h.server.request_count() == 1);
    h.require_clean_end();
}

TEST_CASE("transport pool: a full waiter queue fails fast with pool_overloaded")
{
    auto o = with_max_conns(1);
    o.max_pending_per_host = 1;
    harness h([](const received_request&) { return reply::ok().delay(50ms); }, o);
    h.run([&]() -> asio::awaitable<void> {
        auto ex = co_await asio::this_coro::executor;
        int ok = 0;
        for (int i = 0; i < 2; ++i)
            asio::co_spawn(ex, fetch(h.transport, h.url()), [&](std::exception_ptr, const fetched& r) { ok += !r.ec; });
        co_await wait_until([&] { return h.transport.stats().total.waiters == 1; });
        auto r = co_await fetch(h.transport, h.url());
        CHECK(r.ec == leash::error::pool_overloaded);
        co_await wait_until([&] { return ok == 2; });
    }());
    CHECK(h.transport.stats().pool_overloaded == 1);
    h.require_clean_end();
}

TEST_CASE("transport pool: pool_wait_timeout bounds the wait for a connection")
{
    auto o = with_max_conns(1);
    o.pool_wait_timeout = 30ms;
    harness h([](const received_request&) { return reply::ok().delay(500ms); }, o);
    h.run([&]() -> asio::awaitable<void> {
        auto ex = co_await asio::this_coro::executor;
        bool first_ok = false;
        asio::co_spawn(ex, fetch(h.transport, h.url()), [&](std::exception_ptr, const fetched& r) { first_ok = !r.ec; });
        auto r = co_await fetch(h.transport, h.url());
        CHECK(r.ec == leash::error::pool_wait_timeout);
        CHECK(r.ec == leash::condition::timeout);
        co_await wait_until([&] { return first_ok; });
    }());
    CHECK(h.transport.stats().timeouts.pool_wait == 1);
    h.require_clean_end();
}

TEST_CASE("transport pool: http and https keys and distinct ports never share a connection")
{
    test_server other;
    harness h;
    h.run([&]() -> asio::awaitable<void> {
        co_await fetch_ok(h.transport, h.url());
        co_await fetch_ok(h.transport, other.url());
        co_await fetch_ok(h.transport, h.url("/x"));
    }());
    CHECK(h.server.accepted() == 1);
    CHECK(other.accepted() == 1);
    CHECK(h.transport.stats().hosts.size() == 2);
    h.require_clean_end({&other});
}

TEST_CASE("transport pool: gauges() is stats().total without the per-host copy")
{
    harness h;
    h.run([&]() -> asio::awaitable<void> {
        auto [ec, res] = co_await h.transport.async_send(leash::request::get(h.url()), as_tuple);
        REQUIRE_FALSE(ec);
        const auto g = h.transport.gauges();
        const auto t = h.transport.stats().total;
        CHECK(g.open == t.open);
        CHECK(g.idle == t.idle);
        CHECK(g.leased == t.leased);
        CHECK(g.live_bodies == t.live_bodies);
        CHECK(g.open == 1);
    }());
    h.require_clean_end();
}
