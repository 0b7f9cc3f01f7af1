// HTTP/1.1 framing end to end: how each kind of message ends, and whether its connection
// can carry the next request.
#include <support/harness.hpp>

using namespace leash::test;

namespace {

// Sends `req`, reads the body, then a second GET: returns the first response's status,
// body and trailers; the server's accept count tells whether the connection was reused.
struct exchange_result {
    int status = 0;
    std::string body;
    leash::headers headers;
    leash::headers trailers;
};

asio::awaitable<exchange_result> send_and_read(leash::transport& t, leash::request req)
{
    auto [ec, res] = co_await t.async_send(std::move(req), as_tuple);
    REQUIRE_FALSE(ec);
    auto [read_ec, text] = co_await res.body.async_read_all(1 << 20, as_tuple);
    REQUIRE_FALSE(read_ec);
    co_return exchange_result{res.status, std::move(text), std::move(res.headers), res.body.trailers()};
}

test_server::handler always(std::string raw)
{
    return [raw](const received_request&) { return reply::raw(raw); };
}

} // namespace

TEST_CASE("framing: chunked body with trailers, connection reused")
{
    LEASH_EVERY_TRANSPORT_KIND();
    harness h([](const received_request&) { return reply::chunked({"hel", "lo ", "world"}, {{"X-Checksum", "42"}}); }, {}, kind);
    h.run([&]() -> asio::awaitable<void> {
        auto r = co_await send_and_read(h.transport, leash::request::get(h.url()));
        CHECK(r.body == "hello world");
        CHECK(r.trailers.get("x-checksum") == "42");
        co_await fetch_ok(h.transport, h.url());
    }());
    CHECK(h.server.accepted() == 1);
    h.require_clean_end();
}

TEST_CASE("framing: close-delimited body is read to end of stream, connection not reused")
{
    LEASH_EVERY_TRANSPORT_KIND();
    harness h([](const received_request&) { return reply::raw("HTTP/1.1 200 OK\r\n\r\nuntil the end").then_close(); }, {}, kind);
    h.run([&]() -> asio::awaitable<void> {
        auto r = co_await send_and_read(h.transport, leash::request::get(h.url()));
        CHECK(r.body == "until the end");
        co_await fetch_ok(h.transport, h.url());
    }());
    CHECK(h.server.accepted() == 2);
    CHECK(h.transport.stats().closed.not_reusable == 2);
    h.require_clean_end();
}

TEST_CASE("framing: HEAD has no body and returns its connection before the response arrives")
{
    LEASH_EVERY_TRANSPORT_KIND();
    harness h(always("HTTP/1.1 200 OK\r\nContent-Length: 123\r\n\r\n"), {}, kind);
    h.run([&]() -> asio::awaitable<void> {
        auto [ec, res] = co_await h.transport.async_send(leash::request::head(h.url()), as_tuple);
        REQUIRE_FALSE(ec);
        CHECK(res.headers.get("Content-Length") == "123");
        CHECK(h.transport.stats().total.idle == 1);
        CHECK(res.body.is_done());
        auto [read_ec, text] = co_await res.body.async_read_all(10, as_tuple);
        CHECK_FALSE(read_ec);
        CHECK(text.empty());
        auto again = co_await send_and_read(h.transport, leash::request::head(h.url()));
        CHECK(again.status == 200);
    }());
    CHECK(h.server.accepted() == 1);
    h.require_clean_end();
}

TEST_CASE("framing: 204 and 304 have no body and keep the connection")
{
    harness h([](const received_request& req) {
        return req.target == "/204" ? reply::status(204) : reply::raw("HTTP/1.1 304 Not Modified\r\nETag: \"x\"\r\n\r\n");
    });
    h.run([&]() -> asio::awaitable<void> {
        auto a = co_await send_and_read(h.transport, leash::request::get(h.url("/204")));
        CHECK(a.status == 204);
        CHECK(a.body.empty());
        auto b = co_await send_and_read(h.transport, leash::request::get(h.url("/304")));
        CHECK(b.status == 304);
        CHECK(b.body.empty());
    }());
    CHECK(h.server.accepted() == 1);
    h.require_clean_end();
}

TEST_CASE("framing: 100 Continue before the final response is skipped")
{
    harness h(always("HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 201 Created\r\nContent-Length: 4\r\n\r\ndone"));
    h.run([&]() -> asio::awaitable<void> {
        auto r = co_await send_and_read(h.transport, leash::request::post(h.url(), "{}"));
        CHECK(r.status == 201);
        CHECK(r.body == "done");
        co_await send_and_read(h.transport, leash::request::post(h.url(), "{}"));
    }());
    CHECK(h.server.accepted() == 1);
    h.require_clean_end();
}

TEST_CASE("framing: an HTTP/1.0 response without keep-alive is not reused")
{
    harness h([](const received_request&) { return reply::raw("HTTP/1.0 200 OK\r\nContent-Length: 2\r\n\r\nok").then_close(); });
    h.run([&]() -> asio::awaitable<void> {
        auto r = co_await send_and_read(h.transport, leash::request::get(h.url()));
        CHECK(r.body == "ok");
        co_await send_and_read(h.transport, leash::request::get(h.url()));
    }());
    CHECK(h.server.accepted() == 2);
    h.require_clean_end();
}

TEST_CASE("framing: Connection: close from the server is honoured after the body")
{
    harness h([](const received_request&) { return reply::ok(std::string(20000, 'z'), {{"Connection", "close"}}); });
    h.run([&]() -> asio::awaitable<void> {
        auto r = co_await send_and_read(h.transport, leash::request::get(h.url()));
        CHECK(r.body.size() == 20000);
        co_await send_and_read(h.transport, leash::request::get(h.url()));
    }());
    CHECK(h.server.accepted() == 2);
    h.require_clean_end();
}

TEST_CASE("framing: Connection: close from the caller is sent once and the connection not reused")
{
    harness h;
    h.run([&]() -> asio::awaitable<void> {
        auto req = leash::request::get(h.url());
        req.headers.set("Connection", "close");
        co_await send_and_read(h.transport, std::move(req));
        co_await send_and_read(h.transport, leash::request::get(h.url()));
    }());
    CHECK(h.server.accepted() == 2);
    CHECK(h.server.requests().front().count_header("Connection") == 1);
    h.require_clean_end();
}

TEST_CASE("framing: the request carries Host, User-Agent and the body's Content-Length")
{
    harness h;
    h.run([&]() -> asio::awaitable<void> {
        co_await send_and_read(h.transport, leash::request::post(h.url("/v1/chat?stream=false"), "{\"a\":1}"));
    }());
    auto req = h.server.requests().at(0);
    CHECK(req.method == "POST");
    CHECK(req.target == "/v1/chat?stream=false");
    CHECK(req.header("Host") == "127.0.0.1:" + std::to_string(h.server.port()));
    CHECK(req.header("User-Agent").rfind("leash/", 0) == 0);
    CHECK(req.header("Content-Type") == "application/json");
    CHECK(req.body == "{\"a\":1}");
    h.require_clean_end();
}

TEST_CASE("framing: bytes after a complete response make the connection unusable")
{
    harness h(always("HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nokHTTP/1.1 200 OK\r\n"));
    h.run([&]() -> asio::awaitable<void> {
        auto r = co_await send_and_read(h.transport, leash::request::get(h.url()));
        CHECK(r.body == "ok");
        co_await send_and_read(h.transport, leash::request::get(h.url()));
    }());
    CHECK(h.server.accepted() == 2);
    h.require_clean_end();
}

TEST_CASE("framing: a head larger than the first read buffer is read whole")
{
    LEASH_EVERY_TRANSPORT_KIND();
    leash::test::header_list big;
    for (int i = 0; i < 40; ++i)
        big.push_back({"X-Field-" + std::to_string(i), std::string(200, static_cast<char>('a' + i % 26))});
    harness h([&](const received_request&) { return reply::ok("done", big); }, {}, kind);
    h.run([&]() -> asio::awaitable<void> {
        auto [ec, res] = co_await h.transport.async_send(leash::request::get(h.url()), as_tuple);
        REQUIRE_FALSE(ec);
        CHECK(res.headers.get("X-Field-39") == std::string(200, static_cast<char>('a' + 39 % 26)));
        auto [read_ec, text] = co_await res.body.async_read_all(100, as_tuple);
        REQUIRE_FALSE(read_ec);
        CHECK(text == "done");
        co_await fetch_ok(h.transport, h.url());
    }());
    CHECK(h.server.accepted() == 1);
    h.require_clean_end();
}

TEST_CASE("framing: chunk data not followed by CRLF fails the read and the connection is not reused")
{
    LEASH_EVERY_TRANSPORT_KIND();
    harness h([](const received_request& req) {
        return req.target == "/bad" ? reply::raw("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhelloXX0\r\n\r\n")
                                    : reply::ok("fine");
    }, {}, kind);
    h.run([&]() -> asio::awaitable<void> {
        auto [ec, res] = co_await h.transport.async_send(leash::request::get(h.url("/bad")), as_tuple);
        REQUIRE_FALSE(ec);
        auto [read_ec, text] = co_await res.body.async_read_all(1 << 20, as_tuple);
        CHECK(read_ec == leash::error::invalid_chunk);
        auto next = co_await fetch_ok(h.transport, h.url("/next"));
        CHECK(next.body == "fine");
    }());
    CHECK(h.server.accepted() == 2);
    h.require_clean_end();
}
