// Compressed responses through the transport: asking for them, every coding under both
// framings, bodies in pieces, event streams event by event, bombs, corrupt and truncated
// data, and responses without a body. (The decoder itself: content_decoder_test.cpp.)
#include <leash/detail/content_decoder.hpp>
#include <leash/sse_reader.hpp>
#include <support/coded_bodies.hpp>
#include <support/harness.hpp>

#include <fstream>
#include <string>

using namespace leash::test;

namespace {

leash::transport_options decoding_on()
{
    leash::transport_options o;
    o.decoding.decompress = true;
    return o;
}

struct decoded {
    std::error_code ec;
    int status = 0;
    leash::headers headers;
    std::string decoded_from;
    std::string body;
};

asio::awaitable<decoded> get(leash::transport& t, leash::request req, std::size_t limit = 1 << 24)
{
    auto [ec, res] = co_await t.async_send(std::move(req), as_tuple);
    decoded d{ec, res.status, std::move(res.headers), std::move(res.decoded_content_encoding), {}};
    if (!ec) {
        auto [read_ec, text] = co_await res.body.async_read_all(limit, as_tuple);
        d.ec = read_ec;
        d.body = std::move(text);
    }
    co_return d;
}

reply coded_reply(std::string coding, std::string coded, bool chunked = false)
{
    if (!chunked)
        return reply::ok(std::move(coded), {{"Content-Encoding", std::move(coding)}});
    auto r = reply::raw("HTTP/1.1 200 OK\r\nContent-Encoding: " + coding + "\r\nTransfer-Encoding: chunked\r\n\r\n");
    for (std::size_t at = 0; at < coded.size(); at += 100)
        r.piece(0ms, reply::chunk(std::string_view(coded).substr(at, 100)));
    r.piece(0ms, reply::last_chunk());
    return r;
}

#if defined(__SANITIZE_ADDRESS__) || defined(__SANITIZE_THREAD__)
constexpr bool memory_is_instrumented = true;
#elif defined(__has_feature)
#if __has_feature(address_sanitizer) || __has_feature(thread_sanitizer)
constexpr bool memory_is_instrumented = true;
#else
constexpr bool memory_is_instrumented = false;
#endif
#else
constexpr bool memory_is_instrumented = false;
#endif

// Resets the process's peak resident memory (VmHWM below): Linux does when "5" is written to
// /proc/self/clear_refs.
void reset_peak_rss()
{
    std::ofstream("/proc/self/clear_refs") << "5";
}

// A figure of /proc/self/status in KiB ("VmHWM", "VmRSS"), or -1.
long proc_status_kib(std::string_view field)
{
    std::ifstream status("/proc/self/status");
    for (std::string line; std::getline(status, line);)
        if (line.starts_with(field) && line.size() > field.size() && line[field.size()] == ':')
            return std::stol(line.substr(field.size() + 1));
    return -1;
}

long peak_rss_kib() { return proc_status_kib("VmHWM"); }
long resident_kib() { return proc_status_kib("VmRSS"); }

} // namespace

TEST_CASE("decoding: every coding this build decodes, framed by Content-Length or chunked")
{
    struct coding {
        std::string name;
        std::string (*encode)(std::string_view);
    };
    std::vector<coding> codings{{"gzip", gzip}, {"deflate", zlib_deflate}, {"deflate", raw_deflate}};
#if LEASH_TEST_BROTLI
    codings.push_back({"br", [](std::string_view s) { return brotli(s); }});
#endif
#if LEASH_TEST_ZSTD
    codings.push_back({"zstd", [](std::string_view s) { return zstd(s); }});
#endif
    const auto content = sample_text(200'000);
    for (const auto& c : codings)
        for (const bool chunked : {false, true}) {
            CAPTURE(c.name, chunked);
            const auto coded = c.encode(content);
            harness h([&](const received_request&) { return coded_reply(c.name, coded, chunked); }, decoding_on());
            const auto got = h.run(get(h.transport, leash::request::get(h.url())));
            REQUIRE_FALSE(got.ec);
            CHECK(got.body == content);
            CHECK(got.decoded_from == c.name);
            CHECK_FALSE(got.headers.contains("Content-Encoding"));
            CHECK_FALSE(got.headers.contains("Content-Length"));
            CHECK(h.server.requests().at(0).header("Accept-Encoding") == leash::detail::accepted_encodings());
            h.require_clean_end();
        }
}

TEST_CASE("decoding: off by default: no Accept-Encoding, and coded bytes are delivered as they came")
{
    const auto coded = gzip("hello");
    harness h([&](const received_request&) { return coded_reply("gzip", coded); });
    const auto got = h.run(get(h.transport, leash::request::get(h.url())));
    CHECK(got.body == coded);
    CHECK(got.headers.get("Content-Encoding") == "gzip");
    CHECK(got.decoded_from.empty());
    CHECK_FALSE(h.server.requests().at(0).has_header("Accept-Encoding"));
    h.require_clean_end();
}

TEST_CASE("decoding: a request chooses for itself, either way")
{
    const auto coded = gzip("hello");
    const bool transport_decodes = GENERATE(false, true);
    auto o = decoding_on();
    o.decoding.decompress = transport_decodes;
    harness h([&](const received_request&) { return coded_reply("gzip", coded); }, o);
    auto req = leash::request::get(h.url());
    req.decompress = !transport_decodes;
    const auto got = h.run(get(h.transport, std::move(req)));
    CHECK(got.body == (transport_decodes ? coded : "hello"));
    CHECK(h.server.requests().at(0).has_header("Accept-Encoding") == !transport_decodes);
    h.require_clean_end();
}

TEST_CASE("decoding: a request with its own Accept-Encoding gets the coded bytes")
{
    const auto coded = gzip("hello");
    harness h([&](const received_request&) { return coded_reply("gzip", coded); }, decoding_on());
    auto req = leash::request::get(h.url());
    req.headers.set("Accept-Encoding", "gzip");
    const auto got = h.run(get(h.transport, std::move(req)));
    CHECK(got.body == coded);
    CHECK(got.headers.get("Content-Encoding") == "gzip");
    CHECK(h.server.requests().at(0).header("Accept-Encoding") == "gzip");
    h.require_clean_end();
}

TEST_CASE("decoding: an unknown coding or a list of codings is delivered as it came")
{
    const std::string field = GENERATE("compress", "gzip, br", "identity");
    CAPTURE(field);
    harness h([&](const received_request&) { return coded_reply(field, "raw bytes"); }, decoding_on());
    const auto got = h.run(get(h.transport, leash::request::get(h.url())));
    CHECK_FALSE(got.ec);
    CHECK(got.body == "raw bytes");
    CHECK(got.headers.get("Content-Encoding") == field);
    h.require_clean_end();
}

TEST_CASE("decoding: a body arriving in two pieces, split at every byte, decodes the same")
{
    const std::string content = "{\"choices\":[{\"delta\":{\"content\":\"split anywhere\"}}]}";
    const auto coded = gzip(content);
    std::size_t split = 0;
    harness h([&](const received_request&) {
        auto r = reply::raw("HTTP/1.1 200 OK\r\nContent-Encoding: gzip\r\nContent-Length: "
                            + std::to_string(coded.size()) + "\r\n\r\n" + coded.substr(0, split));
        r.piece(1ms, coded.substr(split));
        return r;
    }, decoding_on());
    for (split = 0; split <= coded.size(); ++split) {
        CAPTURE(split);
        const auto got = h.run(get(h.transport, leash::request::get(h.url())));
        REQUIRE_FALSE(got.ec);
        CHECK(got.body == content);
    }
    CHECK(h.server.accepted() == 1);  // every decoded body returned its connection
    h.require_clean_end();
}

TEST_CASE("decoding: an event stream over gzip yields each event as its bytes arrive")
{
    // The server sends the first event (flushed) and then holds the stream open: the reader
    // gets the event without waiting for the end of the compressed stream.
    auto z = std::make_shared<deflate_stream>(16 + MAX_WBITS);
    harness h([z](const received_request&) {
        auto r = reply::raw("HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\nContent-Encoding: gzip\r\n"
                            "Transfer-Encoding: chunked\r\n\r\n"
                            + reply::chunk(z->piece("data: first\n\n")));
        r.piece(1ms, reply::chunk(z->piece("data: second\n\n")));
        r.then_hold();
        return r;
    }, decoding_on());
    h.run([&]() -> asio::awaitable<void> {
        auto [ec, res] = co_await h.transport.async_send(leash::request::get(h.url()), as_tuple);
        REQUIRE_FALSE(ec);
        leash::sse::reader events(std::move(res.body));
        for (const char* expected : {"first", "second"}) {
            auto [event_ec, event] = co_await events.async_next(as_tuple);
            REQUIRE_FALSE(event_ec);
            CHECK(event.data == expected);
        }
    }());
    h.require_clean_end();
}

TEST_CASE("decoding: a bomb (1 MiB of gzip that inflates to 1 GiB) is stopped early, however it is read")
{
    static const auto bomb = gzip_bomb(64 << 20, 16);
    REQUIRE(bomb.size() < (2 << 20));
    const auto how = GENERATE(as<std::string>{}, "read_all", "read_some", "sse");
    CAPTURE(how, bomb.size());
    harness h([&](const received_request&) { return coded_reply("gzip", bomb); }, decoding_on());
    const long resident_before = resident_kib();
    reset_peak_rss();
    h.run([&]() -> asio::awaitable<void> {
        auto [ec, res] = co_await h.transport.async_send(leash::request::get(h.url()), as_tuple);
        REQUIRE_FALSE(ec);
        std::error_code read_ec;
        std::size_t decoded = 0;
        if (how == "read_all") {
            auto [e, text] = co_await res.body.async_read_all(std::size_t{4} << 30, as_tuple);
            read_ec = e;
            decoded = text.size();
        } else if (how == "read_some") {
            std::vector<char> buffer(64 * 1024);
            for (;;) {
                auto [e, n] = co_await res.body.async_read_some(asio::buffer(buffer), as_tuple);
                decoded += n;
                if ((read_ec = e))
                    break;
            }
        } else {
            leash::sse::reader events(std::move(res.body));
            auto [e, event] = co_await events.async_next(as_tuple);
            read_ec = e;
        }
        CHECK(read_ec == leash::error::decompression_ratio_exceeded);
        CHECK(decoded <= (2u << 20));
    }());
    INFO("resident before: " << resident_before << " KiB, peak during: " << peak_rss_kib() << " KiB");
    if (!memory_is_instrumented)  // (a sanitizer's quarantine and shadow memory grow on their own)
        CHECK(peak_rss_kib() - resident_before < 16 * 1024);
    h.require_clean_end();
}

TEST_CASE("decoding: read_all's limit counts decoded bytes")
{
    const auto coded = gzip(std::string(100'000, 'a'));
    harness h([&](const received_request&) { return coded_reply("gzip", coded); }, decoding_on());
    const auto got = h.run(get(h.transport, leash::request::get(h.url()), 50'000));
    CHECK(got.ec == leash::error::body_too_large);
    h.require_clean_end();
}

TEST_CASE("decoding: max_decoded_bytes bounds a body read piece by piece")
{
    auto o = decoding_on();
    o.decoding.max_decoded_bytes = 100'000;
    const auto coded = gzip(sample_text(300'000));
    harness h([&](const received_request&) { return coded_reply("gzip", coded); }, o);
    h.run([&]() -> asio::awaitable<void> {
        auto [ec, res] = co_await h.transport.async_send(leash::request::get(h.url()), as_tuple);
        REQUIRE_FALSE(ec);
        std::vector<char> buffer(4096);
        std::size_t decoded = 0;
        std::error_code read_ec;
        while (!read_ec) {
            auto [e, n] = co_await res.body.async_read_some(asio::buffer(buffer), as_tuple);
            decoded += n;
            read_ec = e;
        }
        CHECK(read_ec == leash::error::body_too_large);
        CHECK(decoded <= 100'000);
    }());
    h.require_clean_end();
}

TEST_CASE("decoding: corrupt data fails with decoding_failed and its connection is not reused")
{
    auto coded = gzip(sample_text(50'000));
    coded[coded.size() / 2] = static_cast<char>(coded[coded.size() / 2] ^ 0x55);
    coded[coded.size() / 2 + 1] = static_cast<char>(coded[coded.size() / 2 + 1] ^ 0xaa);
    harness h([&](const received_request& r) {
        return r.target == "/bad" ? coded_reply("gzip", coded) : reply::ok("fine");
    }, decoding_on());
    const auto bad = h.run(get(h.transport, leash::request::get(h.url("/bad"))));
    CHECK(bad.ec == leash::error::decoding_failed);
    CHECK(h.run(get(h.transport, leash::request::get(h.url("/good")))).body == "fine");
    CHECK(h.server.accepted() == 2);
    h.require_clean_end();
}

TEST_CASE("decoding: a small corrupt body that came whole with its head fails; its connection was sound")
{
    auto coded = gzip("short and corrupt");
    coded[12] = static_cast<char>(coded[12] ^ 0xff);
    harness h([&](const received_request& r) {
        return r.target == "/bad" ? coded_reply("gzip", coded) : reply::ok("fine");
    }, decoding_on());
    CHECK(h.run(get(h.transport, leash::request::get(h.url("/bad")))).ec == leash::error::decoding_failed);
    CHECK(h.run(get(h.transport, leash::request::get(h.url("/good")))).body == "fine");
    CHECK(h.server.accepted() == 1);
    h.require_clean_end();
}

TEST_CASE("decoding: a body that ends inside its compressed stream fails with decoding_truncated")
{
    const auto whole = gzip(sample_text(50'000));
    const auto cut = whole.substr(0, whole.size() - 20);
    const bool chunked = GENERATE(false, true);
    CAPTURE(chunked);
    harness h([&](const received_request&) { return coded_reply("gzip", cut, chunked); }, decoding_on());
    const auto got = h.run(get(h.transport, leash::request::get(h.url())));
    CHECK(got.ec == leash::error::decoding_truncated);
    h.require_clean_end();
}

TEST_CASE("decoding: HEAD, 204, 304 and an empty body with a Content-Encoding are delivered without error")
{
    harness h([](const received_request& r) {
        if (r.target == "/204")
            return reply::status(204, "", {{"Content-Encoding", "gzip"}});
        if (r.target == "/304")
            return reply::status(304, "", {{"Content-Encoding", "gzip"}});
        if (r.target == "/empty-chunked")
            return reply::raw("HTTP/1.1 200 OK\r\nContent-Encoding: gzip\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n");
        return reply::raw("HTTP/1.1 200 OK\r\nContent-Encoding: gzip\r\nContent-Length: 0\r\n\r\n");
    }, decoding_on());
    for (const char* target : {"/204", "/304", "/empty-chunked", "/empty"}) {
        CAPTURE(target);
        const auto got = h.run(get(h.transport, leash::request::get(h.url(target))));
        CHECK_FALSE(got.ec);
        CHECK(got.body.empty());
    }
    const auto head = h.run(get(h.transport, leash::request::head(h.url("/empty"))));
    CHECK_FALSE(head.ec);
    CHECK(head.headers.get("Content-Encoding") == "gzip");
    CHECK(h.server.accepted() == 1);
    h.require_clean_end();
}
