// Event streams through the pool: every lifetime promise of a body holds for a stream.
#include <leash/sse_reader.hpp>
#include <support/harness.hpp>

using namespace leash::test;

namespace {

std::string chunk_of(std::string_view s)
{
    return reply::chunk(s);
}

reply stream_of(std::vector<std::string> events, bool end)
{
    auto r = reply::raw("HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\nTransfer-Encoding: chunked\r\n\r\n");
    for (auto& e : events)
        r.piece(1ms, chunk_of(e));
    if (end)
        r.piece(1ms, reply::last_chunk());
    else
        r.then_hold();
    return r;
}

asio::awaitable<leash::sse::reader> open_stream(leash::transport& t, std::string url,
                                                leash::sse::reader_options o = {})
{
    auto [ec, res] = co_await t.async_send(leash::request::get(std::move(url)), as_tuple);
    REQUIRE_FALSE(ec);
    REQUIRE(res.status == 200);
    co_return leash::sse::reader(std::move(res.body), o);
}

} // namespace

TEST_CASE("sse reader: a stream read to its end returns its connection")
{
    LEASH_EVERY_TRANSPORT_KIND();
    harness h([](const received_request&) {
        return stream_of({"data: one\n\n", ": keep-alive\n\n", "event: note\ndata: two\nid: 7\n\n"}, true);
    }, {}, kind);
    h.run([&]() -> asio::awaitable<void> {
        auto events = co_await open_stream(h.transport, h.url());
        auto [e1, first] = co_await events.async_next(as_tuple);
        REQUIRE_FALSE(e1);
        CHECK(first.data == "one");
        CHECK(first.type == "message");
        auto [e2, second] = co_await events.async_next(as_tuple);
        REQUIRE_FALSE(e2);
        CHECK(second.type == "note");
        CHECK(second.data == "two");
        CHECK(second.id == "7");
        auto [e3, none] = co_await events.async_next(as_tuple);
        CHECK(e3 == asio::error::eof);
        CHECK_FALSE(events.done_seen());  // ended without [DONE]
        CHECK(h.transport.stats().total.idle == 1);
        co_await fetch_ok(h.transport, h.url());
    }());
    CHECK(h.server.accepted() == 1);
    h.require_clean_end();
}

TEST_CASE("sse reader: data: [DONE] ends the stream and keeps the connection")
{
    LEASH_EVERY_TRANSPORT_KIND();
    harness h([](const received_request&) {
        return stream_of({"data: {\"choices\":[{\"delta\":{\"content\":\"Hi\"}}]}\n\n", "data: [DONE]\n\n"}, true);
    }, {}, kind);
    h.run([&]() -> asio::awaitable<void> {
        auto events = co_await open_stream(h.transport, h.url());
        auto [e1, chunk] = co_await events.async_next(as_tuple);
        REQUIRE_FALSE(e1);
        CHECK(chunk.data.find("Hi") != std::string::npos);
        auto [e2, none] = co_await events.async_next(as_tuple);
        CHECK(e2 == asio::error::eof);
        CHECK(events.at_end());
        CHECK(events.done_seen());
        CHECK(h.transport.stats().total.idle == 1);
        co_await fetch_ok(h.transport, h.url());
    }());
    CHECK(h.server.accepted() == 1);
    h.require_clean_end();
}

TEST_CASE("sse reader: a stream abandoned midway closes its connection")
{
    LEASH_EVERY_TRANSPORT_KIND();
    harness h([](const received_request&) {
        auto r = reply::raw("HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\nTransfer-Encoding: chunked\r\n\r\n");
        r.repeat_forever(2ms, reply::chunk("data: tick\n\n"));
        return r;
    }, {}, kind);
    h.run([&]() -> asio::awaitable<void> {
        {
            auto events = co_await open_stream(h.transport, h.url());
            for (int i = 0; i < 3; ++i) {
                auto [ec, e] = co_await events.async_next(as_tuple);
                REQUIRE_FALSE(ec);
                CHECK(e.data == "tick");
            }
        }
        CHECK(h.transport.stats().total.open == 0);
        co_await wait_until([&] { return h.server.closed_by_client() == 1; });
    }());
    h.require_clean_end();
}

TEST_CASE("sse reader: a stream that stalls between events fails with body_read_timeout")
{
    LEASH_EVERY_TRANSPORT_KIND();
    leash::transport_options o;
    o.body_read_timeout = 100ms;
    harness h([](const received_request&) { return stream_of({"data: only\n\n"}, false); }, o, kind);
    h.run([&]() -> asio::awaitable<void> {
        auto events = co_await open_stream(h.transport, h.url());
        auto [e1, first] = co_await events.async_next(as_tuple);
        REQUIRE_FALSE(e1);
        auto [e2, none] = co_await events.async_next(as_tuple);
        CHECK(e2 == leash::error::body_read_timeout);
        co_await wait_until([&] { return h.server.closed_by_client() == 1; });
    }());
    h.require_clean_end();
}

TEST_CASE("sse reader: canceling async_next (terminal, partial or total) ends it and closes the stream's connection")
{
    const auto type = GENERATE(asio::cancellation_type::terminal, asio::cancellation_type::partial,
                               asio::cancellation_type::total);
    CAPTURE(static_cast<int>(type));
    harness h([](const received_request&) { return stream_of({"data: only\n\n"}, false); });
    h.run([&]() -> asio::awaitable<void> {
        auto events = co_await open_stream(h.transport, h.url());
        auto [e1, first] = co_await events.async_next(as_tuple);
        REQUIRE_FALSE(e1);
        asio::cancellation_signal cancel;
        std::optional<std::error_code> result;
        int calls = 0;
        events.async_next(asio::bind_cancellation_slot(cancel.slot(), [&](std::error_code ec, leash::sse::event) {
            ++calls;
            result = ec;
        }));
        // On the reader's strand, after the read it started there (strands run in order).
        asio::post(events.get_executor(), [&] {
            CHECK_FALSE(result);
            cancel.emit(type);
        });
        co_await wait_until([&] { return result.has_value(); }, 1s);
        CHECK(*result == asio::error::operation_aborted);
        CHECK(h.transport.stats().total.open == 0);
        co_await wait_until([&] { return h.server.closed_by_client() == 1; });
        CHECK(calls == 1);
    }());
    h.require_clean_end();
}

TEST_CASE("sse reader: canceling async_next when [DONE] is already buffered completes it with operation_aborted")
{
    const bool before_first_step = GENERATE(true, false);
    CAPTURE(before_first_step);
    harness h([](const received_request&) {
        // Both events in one write, and no end of body: [DONE] is decoded with "one".
        return reply::raw("HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\nTransfer-Encoding: chunked\r\n\r\n"
                          + reply::chunk("data: one\n\ndata: [DONE]\n\n"))
            .then_hold();
    });
    auto res = h.run(h.transport.async_send(leash::request::get(h.url()), asio::use_awaitable));
    std::optional<leash::sse::reader> stream(std::in_place, std::move(res.body));
    auto& events = *stream;
    auto [e1, first] = h.run(events.async_next(as_tuple));
    REQUIRE_FALSE(e1);
    CHECK(first.data == "one");

    asio::cancellation_signal cancel;
    std::optional<std::error_code> result;
    int calls = 0;
    const auto start_and_cancel = [&] {
        events.async_next(asio::bind_cancellation_slot(cancel.slot(), [&](std::error_code ec, leash::sse::event) {
            ++calls;
            result = ec;
        }));
        cancel.emit(asio::cancellation_type::terminal);
    };
    if (before_first_step)
        start_and_cancel();  // the io_context is not running: the operation has not begun
    else
        asio::post(events.get_executor(), start_and_cancel);  // on the strand: it begins at once,
                                                              // reading the rest of the stream
    h.run([&]() -> asio::awaitable<void> {
        co_await wait_until([&] { return result.has_value(); }, 1s);
        CHECK(*result == asio::error::operation_aborted);
        co_await wait_until([&] { return h.server.closed_by_client() == 1; });
        auto [e2, none] = co_await events.async_next(as_tuple);  // the stream stays ended
        CHECK(e2);
    }());
    CHECK(calls == 1);
    stream.reset();
    h.require_clean_end();
}

TEST_CASE("sse reader: an error status with a JSON body is read with a limit")
{
    harness h([](const received_request&) {
        return reply::status(429, R"({"error":{"code":"RateLimitExceeded","message":"slow down"}})",
                             {{"Content-Type", "application/json"}});
    });
    h.run([&]() -> asio::awaitable<void> {
        auto [ec, res] = co_await h.transport.async_send(leash::request::get(h.url()), as_tuple);
        REQUIRE_FALSE(ec);
        CHECK(res.status == 429);
        auto [read_ec, text] = co_await res.body.async_read_all(64 * 1024, as_tuple);
        CHECK_FALSE(read_ec);
        CHECK(text.find("RateLimitExceeded") != std::string::npos);
    }());
    h.require_clean_end();
}
