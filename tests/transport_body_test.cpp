// Body handles: the lease ends exactly once, the right way, however the body is left.
#include <support/harness.hpp>

#include <thread>
#include <typeinfo>

using namespace leash::test;

namespace {

reply big_body(const received_request&)
{
    return reply::ok(std::string(4 << 20, 'x'));
}

// Headers and a little body, then the server keeps the connection open and silent.
reply stalled_body(const received_request&)
{
    return reply::raw("HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\nabc").then_hold();
}

} // namespace

TEST_CASE("body: an unread body that is destroyed closes its connection")
{
    LEASH_EVERY_TRANSPORT_KIND();
    harness h(big_body, {}, kind);
    h.run([&]() -> asio::awaitable<void> {
        {
            auto [ec, res] = co_await h.transport.async_send(leash::request::get(h.url()), as_tuple);
            REQUIRE_FALSE(ec);
            CHECK(res.body.holds_connection());
            CHECK(h.transport.stats().total.live_bodies == 1);
        }
        auto s = h.transport.stats();
        CHECK(s.total.live_bodies == 0);
        CHECK(s.total.open == 0);
        CHECK(s.closed.body_abandoned == 1);
        co_await wait_until([&] { return h.server.closed_by_client() == 1; });
        co_await fetch_ok(h.transport, h.url());
    }());
    CHECK(h.server.accepted() == 2);
    h.require_clean_end();
}

TEST_CASE("body: a fully read body returns its connection for the next request")
{
    LEASH_EVERY_TRANSPORT_KIND();
    harness h({}, {}, kind);
    h.run([&]() -> asio::awaitable<void> {
        auto [ec, res] = co_await h.transport.async_send(leash::request::get(h.url()), as_tuple);
        REQUIRE_FALSE(ec);
        auto [read_ec, text] = co_await res.body.async_read_all(1024, as_tuple);
        REQUIRE_FALSE(read_ec);
        CHECK(text == "ok");
        // Returned at the end of the message, while the body handle still exists.
        CHECK(res.body.is_done());
        CHECK_FALSE(res.body.holds_connection());
        CHECK(h.transport.stats().total.idle == 1);
        co_await fetch_ok(h.transport, h.url());
    }());
    CHECK(h.server.accepted() == 1);
    CHECK(h.transport.stats().reused == 1);
    h.require_clean_end();
}

TEST_CASE("body: reading exactly Content-Length bytes returns the connection with the last read")
{
    LEASH_EVERY_TRANSPORT_KIND();
    harness h([](const received_request&) { return reply::ok("123456"); }, {}, kind);
    h.run([&]() -> asio::awaitable<void> {
        auto [ec, res] = co_await h.transport.async_send(leash::request::get(h.url()), as_tuple);
        REQUIRE_FALSE(ec);
        char buf[6];
        auto [read_ec, n] = co_await res.body.async_read_some(asio::buffer(buf), as_tuple);
        REQUIRE_FALSE(read_ec);
        CHECK(n == 6);
        CHECK(res.body.is_done());
        CHECK(h.transport.stats().total.idle == 1);
        auto [eof, zero] = co_await res.body.async_read_some(asio::buffer(buf), as_tuple);
        CHECK(eof == asio::error::eof);
        CHECK(zero == 0);
    }());
    h.require_clean_end();
}

TEST_CASE("body: a closed body whose rest is already buffered keeps its connection")
{
    LEASH_EVERY_TRANSPORT_KIND();
    harness h({}, {}, kind);
    h.run([&]() -> asio::awaitable<void> {
        {
            auto [ec, res] = co_await h.transport.async_send(leash::request::get(h.url()), as_tuple);
            REQUIRE_FALSE(ec);
        }
        CHECK(h.transport.stats().total.idle == 1);
        co_await fetch_ok(h.transport, h.url());
    }());
    CHECK(h.server.accepted() == 1);
    h.require_clean_end();
}

TEST_CASE("body: a body runs on a strand of the transport's io_context when the caller's executor is none")
{
    harness h(stalled_body);
    h.run([&]() -> asio::awaitable<void> {
        auto [ec, res] = co_await h.transport.async_send(leash::request::get(h.url()), as_tuple);
        REQUIRE_FALSE(ec);
        CHECK(res.body.get_executor().target_type() == typeid(asio::strand<asio::io_context::executor_type>));
    }());
    h.require_clean_end();
}

TEST_CASE("body: a body runs on the caller's strand when the request was sent from one")
{
    harness h(stalled_body);
    const asio::any_io_executor strand = asio::make_strand(h.ioc);
    asio::any_io_executor body_executor;
    h.run(asio::co_spawn(strand, [&]() -> asio::awaitable<void> {
        auto [ec, res] = co_await h.transport.async_send(leash::request::get(h.url()), as_tuple);
        REQUIRE_FALSE(ec);
        body_executor = res.body.get_executor();
    }, asio::use_awaitable));
    CHECK(body_executor == strand);
    h.require_clean_end();
}

TEST_CASE("body: a body destroyed on another thread releases its connection")
{
    harness h(big_body);
    h.run([&]() -> asio::awaitable<void> {
        auto [ec, res] = co_await h.transport.async_send(leash::request::get(h.url()), as_tuple);
        REQUIRE_FALSE(ec);
        std::thread([b = std::move(res.body)]() mutable { leash::body gone = std::move(b); }).join();
        CHECK(h.transport.stats().total.live_bodies == 0);
        co_await wait_until([&] { return h.server.closed_by_client() == 1; });
    }());
    h.require_clean_end();
}

TEST_CASE("body: reading after close fails with body_closed; close is idempotent")
{
    harness h(big_body);
    h.run([&]() -> asio::awaitable<void> {
        auto [ec, res] = co_await h.transport.async_send(leash::request::get(h.url()), as_tuple);
        REQUIRE_FALSE(ec);
        res.body.close();
        res.body.close();
        char buf[16];
        auto [read_ec, n] = co_await res.body.async_read_some(asio::buffer(buf), as_tuple);
        CHECK(read_ec == leash::error::body_closed);
        CHECK(n == 0);
    }());
    h.require_clean_end();
}

TEST_CASE("body: read_all beyond its limit fails with body_too_large and closes the connection")
{
    harness h(big_body);
    h.run([&]() -> asio::awaitable<void> {
        auto [ec, res] = co_await h.transport.async_send(leash::request::get(h.url()), as_tuple);
        REQUIRE_FALSE(ec);
        auto [read_ec, text] = co_await res.body.async_read_all(1000, as_tuple);
        CHECK(read_ec == leash::error::body_too_large);
        CHECK(text.size() <= 1000);
        CHECK_FALSE(res.body.holds_connection());
        co_await wait_until([&] { return h.server.closed_by_client() == 1; });
    }());
    h.require_clean_end();
}

TEST_CASE("body: silence longer than body_read_timeout fails the read and closes the connection")
{
    LEASH_EVERY_TRANSPORT_KIND();
    leash::transport_options o;
    o.body_read_timeout = 50ms;
    harness h(stalled_body, o, kind);
    h.run([&]() -> asio::awaitable<void> {
        auto [ec, res] = co_await h.transport.async_send(leash::request::get(h.url()), as_tuple);
        REQUIRE_FALSE(ec);
        auto [read_ec, text] = co_await res.body.async_read_all(1000, as_tuple);
        CHECK(read_ec == leash::error::body_read_timeout);
        CHECK(read_ec == leash::condition::timeout);
        CHECK(text == "abc");
        co_await wait_until([&] { return h.server.closed_by_client() == 1; });
    }());
    auto s = h.transport.stats();
    CHECK(s.timeouts.body_read == 1);
    CHECK(s.closed.error == 1);
    h.require_clean_end();
}

TEST_CASE("body: canceling a body read closes the connection")
{
    LEASH_EVERY_TRANSPORT_KIND();
    harness h(stalled_body, {}, kind);
    h.run([&]() -> asio::awaitable<void> {
        auto [ec, res] = co_await h.transport.async_send(leash::request::get(h.url()), as_tuple);
        REQUIRE_FALSE(ec);
        asio::cancellation_signal cancel;
        std::optional<std::error_code> result;
        res.body.async_read_all(1000, asio::bind_cancellation_slot(cancel.slot(), [&](std::error_code e, std::string) {
                                    result = e;
                                }));
        co_await pause(10ms);
        CHECK_FALSE(result);
        cancel.emit(asio::cancellation_type::terminal);
        co_await wait_until([&] { return result.has_value(); });
        CHECK(*result == asio::error::operation_aborted);
        CHECK_FALSE(res.body.holds_connection());
        co_await wait_until([&] { return h.server.closed_by_client() == 1; });
    }());
    h.require_clean_end();
}

TEST_CASE("body: a read canceled before its first step completes once with operation_aborted and closes the connection")
{
    const auto type = GENERATE(asio::cancellation_type::terminal, asio::cancellation_type::partial,
                               asio::cancellation_type::total);
    CAPTURE(static_cast<int>(type));
    harness h(stalled_body);
    auto res = h.run(h.transport.async_send(leash::request::get(h.url()), asio::use_awaitable));
    asio::cancellation_signal cancel;
    std::optional<std::error_code> result;
    int calls = 0;
    // The io_context is not running: the read has not begun when the signal comes.
    res.body.async_read_all(1000, asio::bind_cancellation_slot(cancel.slot(), [&](std::error_code e, std::string) {
                                ++calls;
                                result = e;
                            }));
    cancel.emit(type);
    h.run([&]() -> asio::awaitable<void> {
        co_await wait_until([&] { return result.has_value(); }, 1s);
        CHECK(*result == asio::error::operation_aborted);
        CHECK_FALSE(res.body.holds_connection());
        co_await wait_until([&] { return h.server.closed_by_client() == 1; });
    }());
    CHECK(calls == 1);
    res.body = leash::body();
    h.require_clean_end();
}

TEST_CASE("body: an endless body closed after one byte stops the server's writes")
{
    LEASH_EVERY_TRANSPORT_KIND();
    harness h([](const received_request&) { return reply::endless_chunked("data", 1ms); }, {}, kind);
    h.run([&]() -> asio::awaitable<void> {
        auto [ec, res] = co_await h.transport.async_send(leash::request::get(h.url()), as_tuple);
        REQUIRE_FALSE(ec);
        char byte;
        auto [read_ec, n] = co_await res.body.async_read_some(asio::buffer(&byte, 1), as_tuple);
        REQUIRE_FALSE(read_ec);
        CHECK(n == 1);
        res.body.close();
        co_await wait_until([&] { return h.server.closed_by_client() == 1; });
    }());
    h.require_clean_end();
}

TEST_CASE("body: a body outliving its transport's shutdown still reads to the end, then closes")
{
    harness h([](const received_request&) { return reply::ok(std::string(100000, 'y')); });
    h.run([&]() -> asio::awaitable<void> {
        auto [ec, res] = co_await h.transport.async_send(leash::request::get(h.url()), as_tuple);
        REQUIRE_FALSE(ec);
        h.transport.shutdown();
        auto [read_ec, text] = co_await res.body.async_read_all(1 << 20, as_tuple);
        CHECK_FALSE(read_ec);
        CHECK(text.size() == 100000);
        CHECK(h.transport.stats().total.open == 0);
        CHECK(h.transport.stats().closed.shutdown == 1);
    }());
    h.require_clean_end();
}

TEST_CASE("body: a small body that arrives with its head gives the connection back before the response is delivered")
{
    LEASH_EVERY_TRANSPORT_KIND();
    harness h([](const received_request&) { return reply::ok("a small body"); }, {}, kind);
    h.run([&]() -> asio::awaitable<void> {
        auto [ec, res] = co_await h.transport.async_send(leash::request::get(h.url()), as_tuple);
        REQUIRE_FALSE(ec);
        // The body came in the same read as the head: it is held by the response, and the
        // connection is idle again although nothing was read yet.
        CHECK_FALSE(res.body.holds_connection());
        CHECK_FALSE(res.body.is_done());
        CHECK(h.transport.stats().total.idle == 1);
        CHECK(h.transport.stats().total.live_bodies == 0);
        char first[5];
        auto [some_ec, n] = co_await res.body.async_read_some(asio::buffer(first), as_tuple);
        REQUIRE_FALSE(some_ec);
        CHECK(std::string_view(first, n) == "a sma");
        auto [all_ec, rest] = co_await res.body.async_read_all(1024, as_tuple);
        REQUIRE_FALSE(all_ec);
        CHECK(rest == "ll body");
        CHECK(res.body.is_done());
        char more[1];
        auto [eof, zero] = co_await res.body.async_read_some(asio::buffer(more), as_tuple);
        CHECK(eof == asio::error::eof);
        CHECK(zero == 0);
        co_await fetch_ok(h.transport, h.url());
    }());
    CHECK(h.server.accepted() == 1);
    h.require_clean_end();
}

TEST_CASE("body: a small body taken with its head still honours read_all's limit")
{
    harness h([](const received_request&) { return reply::ok(std::string(100, 'x')); });
    h.run([&]() -> asio::awaitable<void> {
        auto [ec, res] = co_await h.transport.async_send(leash::request::get(h.url()), as_tuple);
        REQUIRE_FALSE(ec);
        auto [all_ec, text] = co_await res.body.async_read_all(99, as_tuple);
        CHECK(all_ec == leash::error::body_too_large);
        auto [again, nothing] = co_await res.body.async_read_all(1000, as_tuple);
        CHECK(again == leash::error::body_closed);
        co_await fetch_ok(h.transport, h.url());  // the connection went back with the head
    }());
    CHECK(h.server.accepted() == 1);
    h.require_clean_end();
}

TEST_CASE("body: a body of several MiB is read whole, and its connection reused")
{
    LEASH_EVERY_TRANSPORT_KIND();
    std::string expected(3 * 1024 * 1024 + 7, '\0');
    for (std::size_t i = 0; i < expected.size(); ++i)
        expected[i] = static_cast<char>('a' + i % 26);
    harness h([&](const received_request&) { return reply::ok(expected); }, {}, kind);
    h.run([&]() -> asio::awaitable<void> {
        for (int i = 0; i < 2; ++i) {
            auto [ec, res] = co_await h.transport.async_send(leash::request::get(h.url()), as_tuple);
            REQUIRE_FALSE(ec);
            auto [read_ec, text] = co_await res.body.async_read_all(expected.size(), as_tuple);
            REQUIRE_FALSE(read_ec);
            CHECK(text.size() == expected.size());
            CHECK(text == expected);
        }
    }());
    CHECK(h.server.accepted() == 1);
    h.require_clean_end();
}
