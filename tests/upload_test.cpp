// Request bodies produced while they are sent, and Expect: 100-continue.
#include <support/harness.hpp>

using namespace leash::test;

namespace {

// A source of `total` bytes in pieces of at most `piece`, without rewind.
leash::body_source generated(std::size_t total, std::size_t piece, bool announce_length)
{
    auto produced = std::make_shared<std::size_t>(0);
    leash::body_source s;
    if (announce_length)
        s.length = total;
    s.read = [produced, total, piece](asio::mutable_buffer out) -> asio::awaitable<leash::body_source::read_result> {
        const auto n = std::min({out.size(), piece, total - *produced});
        std::memset(out.data(), 'a' + static_cast<int>(*produced % 26), n);
        *produced += n;
        co_return leash::body_source::read_result{std::error_code{}, n};
    };
    return s;
}

leash::request post_with(std::string url, leash::body_source source)
{
    leash::request r;
    r.method = "POST";
    r.url = std::move(url);
    r.source = std::move(source);
    return r;
}

} // namespace

TEST_CASE("upload: a body source of known length is sent with Content-Length")
{
    LEASH_EVERY_TRANSPORT_KIND();
    harness h({}, {}, kind);
    h.run([&]() -> asio::awaitable<void> {
        auto r = co_await fetch(h.transport, post_with(h.url(), generated(100000, 7000, true)));
        CHECK_FALSE(r.ec);
    }());
    auto got = h.server.requests().at(0);
    CHECK(got.header("Content-Length") == "100000");
    CHECK_FALSE(got.has_header("Transfer-Encoding"));
    CHECK(got.body.size() == 100000);
    h.require_clean_end();
}

TEST_CASE("upload: a body source of unknown length is sent chunked")
{
    LEASH_EVERY_TRANSPORT_KIND();
    harness h({}, {}, kind);
    h.run([&]() -> asio::awaitable<void> {
        auto r = co_await fetch(h.transport, post_with(h.url(), generated(50000, 3000, false)));
        CHECK_FALSE(r.ec);
        co_await fetch_ok(h.transport, h.url());  // the connection stayed in sync
    }());
    auto got = h.server.requests().at(0);
    CHECK(got.header("Transfer-Encoding") == "chunked");
    CHECK_FALSE(got.has_header("Content-Length"));
    CHECK(got.body.size() == 50000);
    CHECK(h.server.accepted() == 1);
    h.require_clean_end();
}

TEST_CASE("upload: a source that does not produce its declared length fails and closes the connection")
{
    harness h;
    h.run([&]() -> asio::awaitable<void> {
        auto src = generated(10, 10, false);
        src.length = 20;
        auto r = co_await fetch(h.transport, post_with(h.url(), std::move(src)));
        CHECK(r.ec == leash::error::body_length_mismatch);
    }());
    CHECK(h.transport.stats().total.open == 0);
    h.require_clean_end();
}

TEST_CASE("upload: a body and a body source together are refused before any I/O")
{
    harness h;
    h.run([&]() -> asio::awaitable<void> {
        auto req = post_with(h.url(), leash::body_source::from_string("x"));
        req.body = "y";
        auto r = co_await fetch(h.transport, std::move(req));
        CHECK(r.ec == leash::error::invalid_request_body);
    }());
    CHECK(h.server.accepted() == 0);
    h.require_clean_end();
}

namespace {

reply drop_second_request(const received_request& req)
{
    return req.index_on_connection == 0 ? reply::ok() : reply::close_without_reply();
}

} // namespace

TEST_CASE("upload: a rewindable source is sent again after a stale connection")
{
    harness h(drop_second_request);
    h.run([&]() -> asio::awaitable<void> {
        co_await fetch_ok(h.transport, h.url());
        auto req = post_with(h.url(), leash::body_source::from_string("{\"again\":true}", false));
        req.replayable = true;
        auto r = co_await fetch(h.transport, std::move(req));
        CHECK_FALSE(r.ec);
    }());
    auto reqs = h.server.requests();
    REQUIRE(reqs.size() == 3);
    CHECK(reqs[1].body == "{\"again\":true}");
    CHECK(reqs[2].body == "{\"again\":true}");
    CHECK(h.transport.stats().retries == 1);
    h.require_clean_end();
}

TEST_CASE("upload: a source without rewind is not sent again once it started")
{
    harness h(drop_second_request);
    h.run([&]() -> asio::awaitable<void> {
        co_await fetch_ok(h.transport, h.url());
        auto req = post_with(h.url(), generated(1000, 100, true));
        req.replayable = true;
        auto r = co_await fetch(h.transport, std::move(req));
        CHECK(r.ec == leash::error::closed_before_response);
    }());
    CHECK(h.transport.stats().retries == 0);
    h.require_clean_end();
}

TEST_CASE("upload: Expect: 100-continue sends the body after expect_continue_timeout without an answer")
{
    leash::transport_options o;
    o.expect_continue_timeout = 50ms;
    harness h({}, o);
    const auto start = std::chrono::steady_clock::now();
    h.run([&]() -> asio::awaitable<void> {
        auto req = leash::request::post(h.url(), "payload");
        req.headers.set("Expect", "100-continue");
        auto r = co_await fetch(h.transport, std::move(req));
        CHECK_FALSE(r.ec);
        co_await fetch_ok(h.transport, h.url());
    }());
    CHECK(std::chrono::steady_clock::now() - start >= 50ms);
    CHECK(h.server.requests().at(0).body == "payload");
    CHECK(h.server.accepted() == 1);
    h.require_clean_end();
}
