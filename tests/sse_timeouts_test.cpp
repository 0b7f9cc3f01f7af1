// Event streams kept alive by comments: the reader's bounds on the time to the first event and
// between events, apart from the body's byte-level timeout. Each case ends with the leak check.
#include <leash/sse_reader.hpp>
#include <support/harness.hpp>

#include <future>

using namespace leash::test;
using clock_type = std::chrono::steady_clock;

namespace {

const std::string stream_head =
    "HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\nTransfer-Encoding: chunked\r\n\r\n";

// `first` (if any) as one chunk, then a ": ping" comment every `every`, forever.
reply pinging(std::string first, std::chrono::milliseconds every)
{
    auto r = reply::raw(stream_head + (first.empty() ? "" : reply::chunk(first)));
    r.repeat_forever(every, reply::chunk(": ping\n\n"));
    return r;
}

leash::sse::reader_options bounds(std::chrono::milliseconds first_event, std::chrono::milliseconds between)
{
    leash::sse::reader_options o;
    o.first_event_timeout = first_event;
    o.event_timeout = between;
    return o;
}

asio::awaitable<leash::response> get_stream(harness& h)
{
    auto [ec, res] = co_await h.transport.async_send(leash::request::get(h.url()), as_tuple);
    REQUIRE_FALSE(ec);
    co_return std::move(res);
}

asio::awaitable<leash::sse::reader> open_stream(harness& h, leash::sse::reader_options o)
{
    auto res = co_await get_stream(h);
    co_return leash::sse::reader(std::move(res.body), o);
}

} // namespace

TEST_CASE("sse timeouts: comments every 100 ms after an event fail at the event timeout")
{
    harness h([](const received_request&) { return pinging("data: hello\n\n", 100ms); });
    h.run([&]() -> asio::awaitable<void> {
        auto events = co_await open_stream(h, bounds(10s, 500ms));
        auto [ec, first] = co_await events.async_next(as_tuple);
        REQUIRE_FALSE(ec);
        CHECK(first.data == "hello");
        const auto start = clock_type::now();
        auto [timeout, ignored] = co_await events.async_next(as_tuple);
        CHECK(timeout == leash::error::sse_event_timeout);
        CHECK(timeout == leash::condition::timeout);
        CHECK(clock_type::now() - start >= 400ms);  // the pings did not end it sooner
        CHECK_FALSE(events.body().holds_connection());
    }());
    h.require_clean_end();
}

TEST_CASE("sse timeouts: comments between events that come in time do not fail the stream")
{
    harness h([](const received_request&) {
        auto r = reply::raw(stream_head);
        for (int i = 0; i < 4; ++i) {
            r.piece(100ms, reply::chunk(": ping\n\n"));
            r.piece(100ms, reply::chunk("id: 7\nretry: 10\n\n"));  // no data: no event
            r.piece(100ms, reply::chunk("data: e" + std::to_string(i) + "\n\n"));
        }
        r.piece(0ms, reply::last_chunk());
        return r;
    });
    h.run([&]() -> asio::awaitable<void> {
        auto events = co_await open_stream(h, bounds(2s, 2s));
        for (int i = 0; i < 4; ++i) {
            auto [ec, e] = co_await events.async_next(as_tuple);
            REQUIRE_FALSE(ec);
            CHECK(e.data == "e" + std::to_string(i));
        }
        auto [end, ignored] = co_await events.async_next(as_tuple);
        CHECK(end == asio::error::eof);
    }());
    CHECK(h.server.accepted() == 1);
    h.require_clean_end();
}

TEST_CASE("sse timeouts: a stream that falls silent fails with the byte-level body_read_timeout")
{
    leash::transport_options o;
    o.body_read_timeout = 300ms;
    harness h([](const received_request&) { return reply::raw(stream_head + reply::chunk("data: one\n\n")).then_hold(); },
              o);
    h.run([&]() -> asio::awaitable<void> {
        auto events = co_await open_stream(h, bounds(10s, 10s));
        auto [ec, e] = co_await events.async_next(as_tuple);
        REQUIRE_FALSE(ec);
        auto [stalled, ignored] = co_await events.async_next(as_tuple);
        CHECK(stalled == leash::error::body_read_timeout);
    }());
    h.require_clean_end();
}

TEST_CASE("sse timeouts: a first event that does not come fails at the first-event timeout")
{
    harness h([](const received_request&) { return pinging("", 100ms); });
    h.run([&]() -> asio::awaitable<void> {
        auto events = co_await open_stream(h, bounds(400ms, 0ms));
        auto [ec, ignored] = co_await events.async_next(as_tuple);
        CHECK(ec == leash::error::sse_first_event_timeout);
        CHECK_FALSE(events.body().holds_connection());
    }());
    h.require_clean_end();
}

TEST_CASE("sse timeouts: the first-event timeout runs from the reader's start, across reads")
{
    // Comments only, read after read: the bound is on the whole wait, not on each read.
    harness h([](const received_request&) { return pinging("", 50ms); });
    h.run([&]() -> asio::awaitable<void> {
        auto events = co_await open_stream(h, bounds(300ms, 0ms));
        const auto start = clock_type::now();
        auto [ec, ignored] = co_await events.async_next(as_tuple);
        CHECK(ec == leash::error::sse_first_event_timeout);
        CHECK(clock_type::now() - start < 5s);
    }());
    h.require_clean_end();
}

TEST_CASE("sse timeouts: the event timeout is honoured with a callback")
{
    harness h([](const received_request&) { return pinging("", 100ms); });
    std::optional<leash::sse::reader> events(std::in_place, h.run(get_stream(h)).body, bounds(0ms, 300ms));
    std::optional<std::error_code> got;
    events->async_next([&](std::error_code ec, leash::sse::event) { got = ec; });
    h.ioc.restart();
    const auto deadline = clock_type::now() + 5s;
    while (!got && clock_type::now() < deadline)
        h.ioc.run_one_for(100ms);
    REQUIRE(got);
    CHECK(*got == leash::error::sse_event_timeout);
    events.reset();
    h.require_clean_end();
}

TEST_CASE("sse timeouts: the event timeout is honoured with a future")
{
    harness h([](const received_request&) { return pinging("", 100ms); });
    std::optional<leash::sse::reader> events(std::in_place, h.run(get_stream(h)).body, bounds(0ms, 300ms));
    auto future = events->async_next(asio::use_future);
    h.ioc.restart();
    const auto deadline = clock_type::now() + 5s;
    while (future.wait_for(0s) != std::future_status::ready && clock_type::now() < deadline)
        h.ioc.run_one_for(100ms);
    REQUIRE(future.wait_for(0s) == std::future_status::ready);
    try {
        future.get();
        FAIL("the future held an event");
    } catch (const std::system_error& e) {
        CHECK(e.code() == leash::error::sse_event_timeout);
    }
    events.reset();
    h.require_clean_end();
}
