#include <leash/sse.hpp>

#include <catch2/catch.hpp>

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <functional>
#include <initializer_list>
#include <optional>
#include <random>
#include <sstream>
#include <string>
#include <string_view>
#include <system_error>
#include <vector>

using leash::sse::decoder;
using leash::sse::event;
using namespace std::chrono_literals;
using namespace std::string_literals;

namespace {

// Everything observable after decoding a whole stream.
struct outcome {
    std::vector<event> events;
    std::error_code ec;  // the first error a feed returned
    std::string last_event_id;
    std::optional<std::chrono::milliseconds> retry;
};

std::string printable(std::string_view s)
{
    std::string out;
    for (const char c : s) {
        const auto u = static_cast<unsigned char>(c);
        if (c == '\n')
            out += "\\n";
        else if (c == '\r')
            out += "\\r";
        else if (c == '\\')
            out += "\\\\";
        else if (u < 0x20 || u >= 0x7f) {
            static constexpr char hex[] = "0123456789abcdef";
            out += "\\x";
            out += hex[u >> 4];
            out += hex[u & 0xf];
        } else
            out += c;
    }
    return out;
}

std::string describe(const std::vector<event>& events)
{
    std::string out;
    for (const event& e : events)
        out += "{type=\"" + printable(e.type) + "\" data=\"" + printable(e.data) + "\" id=\""
             + printable(e.id) + "\"}\n";
    return out;
}

std::string list(std::initializer_list<event> events)
{
    return describe(std::vector<event>(events));
}

std::string describe(const outcome& o)
{
    std::ostringstream out;
    out << describe(o.events) << "ec=" << o.ec.message() << " last_event_id=\""
        << printable(o.last_event_id) << "\" retry=";
    if (o.retry)
        out << o.retry->count() << "ms";
    else
        out << "none";
    return out.str();
}

// Feeds `input` in pieces whose lengths `next_piece(remaining)` chooses (0 feeds an empty
// piece), through the vector or the callback overload, then finishes the stream. Checks on the
// way that an error, once returned, is returned by every later feed and stops all events.
outcome run(std::string_view input, std::size_t max_event_bytes,
            const std::function<std::size_t(std::size_t)>& next_piece, bool use_vector)
{
    decoder d(max_event_bytes);
    outcome o;
    while (!input.empty()) {
        const std::size_t n = std::min(next_piece(input.size()), input.size());
        const std::size_t before = o.events.size();
        std::error_code ec;
        if (use_vector)
            ec = d.feed(input.substr(0, n), o.events);
        else
            ec = d.feed(input.substr(0, n), [&o](event&& e) { o.events.push_back(std::move(e)); });
        input.remove_prefix(n);
        if (o.ec) {
            CHECK(ec == o.ec);
            CHECK(o.events.size() == before);
        }
        if (ec && !o.ec)
            o.ec = ec;
    }
    d.finish();
    o.last_event_id = d.last_event_id();
    o.retry = d.retry();
    return o;
}

// Decodes `input` fed whole, byte by byte and in several random chunkings (fixed seeds,
// empty feeds included), checks that all of them agree, and returns the outcome.
outcome decode(std::string_view input,
               std::size_t max_event_bytes = decoder::default_max_event_bytes)
{
    const outcome whole = run(input, max_event_bytes, [](std::size_t rest) { return rest; }, true);
    const std::string expected = describe(whole);
    {
        INFO("fed byte by byte");
        const outcome bytewise = run(input, max_event_bytes, [](std::size_t) { return 1; }, false);
        CHECK(describe(bytewise) == expected);
    }
    for (const std::uint32_t seed : {1u, 2u, 3u, 5u, 8u, 13u, 21u, 34u}) {
        INFO("fed in random chunks, seed " << seed);
        std::mt19937 rng(seed);
        const std::size_t longest = 2 + seed % 23;
        const outcome chunked = run(
            input, max_event_bytes,
            [&](std::size_t) { return static_cast<std::size_t>(rng() % (longest + 1)); },
            seed % 2 == 0);
        CHECK(describe(chunked) == expected);
    }
    return whole;
}

// Feeds exactly the given pieces (to pin a chunk boundary), checks that the result is the
// same as for the concatenation decoded every way, and returns the outcome.
outcome decode_parts(std::initializer_list<std::string_view> parts)
{
    std::vector<std::string_view> pieces(parts);
    std::string whole;
    for (const auto piece : pieces)
        whole += piece;
    std::size_t index = 0;
    const outcome o = run(
        whole, decoder::default_max_event_bytes,
        [&](std::size_t) { return index < pieces.size() ? pieces[index++].size() : std::size_t(-1); },
        false);
    CHECK(describe(o) == describe(decode(whole)));
    return o;
}

} // namespace

// --- The specification's own examples ---

TEST_CASE("sse: data lines are joined with LF (the spec's stock-ticker example)")
{
    const auto o = decode("data: YHOO\ndata: +2\ndata: 10\n\n");
    CHECK(describe(o.events) == list({{"message", "YHOO\n+2\n10", ""}}));
    CHECK_FALSE(o.ec);
}

TEST_CASE("sse: the spec's comment, id and reset example")
{
    const auto o = decode(": test stream\n"
                          "\n"
                          "data: first event\n"
                          "id: 1\n"
                          "\n"
                          "data:second event\n"
                          "id\n"
                          "\n"
                          "data:  third event\n"
                          "\n");
    CHECK(describe(o.events) == list({{"message", "first event", "1"},
                                      {"message", "second event", ""},
                                      {"message", " third event", ""}}));
    CHECK(o.last_event_id.empty());
}

TEST_CASE("sse: a value with or without the space after the colon is the same (the spec's two identical events)")
{
    const auto o = decode("data:test\n\ndata: test\n\n");
    CHECK(describe(o.events) == list({{"message", "test", ""}, {"message", "test", ""}}));
}

TEST_CASE("sse: a bare field name is a field with an empty value (the spec's data/data/data example)")
{
    const auto o = decode("data\n\ndata\ndata\n\ndata:");
    CHECK(describe(o.events) == list({{"message", "", ""}, {"message", "\n", ""}}));
}

// --- Lines and fields ---

TEST_CASE("sse: a single data line dispatches a message event")
{
    const auto o = decode("data: hello\n\n");
    CHECK(describe(o.events) == list({{"message", "hello", ""}}));
}

TEST_CASE("sse: an empty data value dispatches an event with empty data")
{
    const auto o = decode("data:\n\n");
    CHECK(describe(o.events) == list({{"message", "", ""}}));
}

TEST_CASE("sse: only one leading space of the value is removed")
{
    const auto o = decode("data:  two\n\ndata: \n\ndata:   \n\n");
    CHECK(describe(o.events) == list({{"message", " two", ""}, {"message", "", ""}, {"message", "  ", ""}}));
}

TEST_CASE("sse: a tab after the colon is kept")
{
    const auto o = decode("data:\tx\n\n");
    CHECK(describe(o.events) == list({{"message", "\tx", ""}}));
}

TEST_CASE("sse: trailing spaces of a value are kept")
{
    const auto o = decode("data: x  \n\n");
    CHECK(describe(o.events) == list({{"message", "x  ", ""}}));
}

TEST_CASE("sse: only the first colon separates the name from the value")
{
    const auto o = decode("data: a: b\n\ndata::x\n\n");
    CHECK(describe(o.events) == list({{"message", "a: b", ""}, {"message", ":x", ""}}));
}

TEST_CASE("sse: an event without a blank line is discarded at the end of the stream")
{
    CHECK(decode("data: x").events.empty());
    CHECK(decode("data: x\n").events.empty());
    CHECK(describe(decode("data: a\n\ndata: b\n").events) == list({{"message", "a", ""}}));
}

TEST_CASE("sse: blank lines without fields dispatch nothing")
{
    CHECK(decode("\n\n\r\n\r\r\n").events.empty());
}

TEST_CASE("sse: lines starting with a colon are comments")
{
    const auto o = decode(":\n: comment\n:data: x\ndata: a\n\n");
    CHECK(describe(o.events) == list({{"message", "a", ""}}));
}

TEST_CASE("sse: a comment-only keep-alive stream dispatches nothing")
{
    const auto o = decode(": keep-alive\n\n: keep-alive\n\n:\n\n");
    CHECK(o.events.empty());
    CHECK_FALSE(o.ec);
    CHECK(o.last_event_id.empty());
    CHECK_FALSE(o.retry);
}

TEST_CASE("sse: a comment between data lines does not split the event")
{
    const auto o = decode("data: a\n: ping\ndata: b\n\n");
    CHECK(describe(o.events) == list({{"message", "a\nb", ""}}));
}

TEST_CASE("sse: unknown fields are ignored")
{
    const auto o = decode("foo: bar\ndata: x\nbaz\n\nfoo: only\n\n");
    CHECK(describe(o.events) == list({{"message", "x", ""}}));
}

TEST_CASE("sse: field names are case-sensitive")
{
    const auto o = decode("Data: x\n\nDATA: y\n\nEvent: e\nID: 7\nRetry: 5\ndata: z\n\n");
    CHECK(describe(o.events) == list({{"message", "z", ""}}));
    CHECK_FALSE(o.retry);
}

TEST_CASE("sse: a space before the colon makes a different field name")
{
    const auto o = decode("data : x\n\n data: y\n\nevent : e\ndata: z\n\n");
    CHECK(describe(o.events) == list({{"message", "z", ""}}));
}

TEST_CASE("sse: NUL and non-UTF-8 bytes in values are passed through")
{
    const auto o = decode("data: a\0b\xff\xfe\xc3\n\n"s);
    CHECK(describe(o.events) == list({{"message", "a\0b\xff\xfe\xc3"s, ""}}));
}

// --- event ---

TEST_CASE("sse: the event field sets the event type")
{
    const auto o = decode("event: add\ndata: 1\n\n");
    CHECK(describe(o.events) == list({{"add", "1", ""}}));
}

TEST_CASE("sse: the last event field of an event wins")
{
    const auto o = decode("event: a\nevent: b\ndata: x\n\n");
    CHECK(describe(o.events) == list({{"b", "x", ""}}));
}

TEST_CASE("sse: an empty event field means message")
{
    const auto o = decode("event:\ndata: x\n\nevent: a\nevent\ndata: y\n\n");
    CHECK(describe(o.events) == list({{"message", "x", ""}, {"message", "y", ""}}));
}

TEST_CASE("sse: the event type does not carry over to the next event")
{
    const auto o = decode("event: add\ndata: 1\n\ndata: 2\n\n");
    CHECK(describe(o.events) == list({{"add", "1", ""}, {"message", "2", ""}}));
}

TEST_CASE("sse: an event field without data is not dispatched and is forgotten")
{
    const auto o = decode("event: add\n\ndata: x\n\n");
    CHECK(describe(o.events) == list({{"message", "x", ""}}));
}

// --- id ---

TEST_CASE("sse: the last event id persists across events")
{
    const auto o = decode("id: 1\ndata: a\n\ndata: b\n\n");
    CHECK(describe(o.events) == list({{"message", "a", "1"}, {"message", "b", "1"}}));
    CHECK(o.last_event_id == "1");
}

TEST_CASE("sse: an empty id field resets the last event id")
{
    const auto o = decode("id: 1\ndata: a\n\nid\ndata: b\n\nid: 2\ndata: c\n\nid:\ndata: d\n\n");
    CHECK(describe(o.events)
          == list({{"message", "a", "1"}, {"message", "b", ""}, {"message", "c", "2"}, {"message", "d", ""}}));
    CHECK(o.last_event_id.empty());
}

TEST_CASE("sse: an id field containing NUL is ignored")
{
    const auto o = decode("id: 1\ndata: a\n\nid: 2\0x\ndata: b\n\n"s);
    CHECK(describe(o.events) == list({{"message", "a", "1"}, {"message", "b", "1"}}));
    CHECK(o.last_event_id == "1");
}

TEST_CASE("sse: an id field after the data of the same event applies to it")
{
    const auto o = decode("data: a\nid: 5\n\n");
    CHECK(describe(o.events) == list({{"message", "a", "5"}}));
}

TEST_CASE("sse: a blank line commits the id even when no event is dispatched")
{
    const auto o = decode("id: 3\n\n");
    CHECK(o.events.empty());
    CHECK(o.last_event_id == "3");
}

TEST_CASE("sse: the id of an unfinished event is discarded with it")
{
    const auto o = decode("id: 1\ndata: a\n\nid: 2\ndata: b\n");
    CHECK(describe(o.events) == list({{"message", "a", "1"}}));
    CHECK(o.last_event_id == "1");
}

TEST_CASE("sse: the id value keeps everything after the one stripped space")
{
    const auto o = decode("id:  7 \ndata: a\n\n");
    CHECK(describe(o.events) == list({{"message", "a", " 7 "}}));
}

// --- retry ---

TEST_CASE("sse: retry with ASCII digits sets the reconnection time")
{
    const auto o = decode("retry: 3000\n");
    CHECK(o.events.empty());
    CHECK(o.retry == 3000ms);
    CHECK(decode("retry: 0\n\n").retry == 0ms);
    CHECK(decode("retry:007\n\n").retry == 7ms);
}

TEST_CASE("sse: retry with anything but digits is ignored")
{
    for (const char* value : {"+9", "-5", " 7", "2.5", "12a", "", "1 ", "0x10", "\xd9\xa3"}) {
        INFO("retry:" << value);
        const auto o = decode("retry: "s + value + "\ndata: x\n\n");
        CHECK_FALSE(o.retry);
        CHECK(o.events.size() == 1);
    }
    CHECK_FALSE(decode("retry\n\n").retry);
}

TEST_CASE("sse: an invalid retry keeps the last valid value")
{
    CHECK(decode("retry: 100\nretry: x\n\n").retry == 100ms);
    CHECK(decode("retry: 100\n\nretry: 200\n\n").retry == 200ms);
}

TEST_CASE("sse: retry applies at once, without a blank line")
{
    const auto o = decode("data: a\nretry: 250\n");
    CHECK(o.events.empty());
    CHECK(o.retry == 250ms);
}

TEST_CASE("sse: a retry too large for milliseconds saturates")
{
    const auto o = decode("retry: 99999999999999999999999999\n\n");
    CHECK(o.retry == std::chrono::milliseconds::max());
}

// --- The byte order mark ---

TEST_CASE("sse: a byte order mark at the start of the stream is skipped")
{
    const auto o = decode("\xEF\xBB\xBF" "data: a\n\n");
    CHECK(describe(o.events) == list({{"message", "a", ""}}));
    CHECK(describe(decode("\xEF\xBB\xBF\ndata: b\n\n").events) == list({{"message", "b", ""}}));
}

TEST_CASE("sse: a second byte order mark at the start is part of the field name")
{
    CHECK(decode("\xEF\xBB\xBF\xEF\xBB\xBF" "data: a\n\n").events.empty());
}

TEST_CASE("sse: a byte order mark after the start is part of the field name")
{
    const auto o = decode("data: a\n\n\xEF\xBB\xBF" "data: b\n\n");
    CHECK(describe(o.events) == list({{"message", "a", ""}}));
}

TEST_CASE("sse: a byte order mark inside a value is kept")
{
    const auto o = decode("\xEF\xBB\xBF" "data: \xEF\xBB\xBFx\n\n");
    CHECK(describe(o.events) == list({{"message", "\xEF\xBB\xBFx", ""}}));
}

TEST_CASE("sse: an incomplete byte order mark at the start is content")
{
    CHECK(decode("\xEF\xBB" "data: a\n\n").events.empty());
    CHECK(decode("\xEF" "data: a\n\n").events.empty());
    // The two bytes form a field name of their own; the next line is an ordinary field.
    CHECK(describe(decode("\xEF\xBB\ndata: a\n\n").events) == list({{"message", "a", ""}}));
}

// --- Line ends ---

TEST_CASE("sse: LF ends lines")
{
    const auto o = decode("event: e\ndata: a\ndata: b\n\n");
    CHECK(describe(o.events) == list({{"e", "a\nb", ""}}));
}

TEST_CASE("sse: a lone CR ends lines")
{
    const auto o = decode("event: e\rdata: a\rdata: b\r\rdata: c\r\r");
    CHECK(describe(o.events) == list({{"e", "a\nb", ""}, {"message", "c", ""}}));
}

TEST_CASE("sse: CRLF ends lines")
{
    const auto o = decode("event: e\r\ndata: a\r\ndata: b\r\n\r\ndata: c\r\n\r\n");
    CHECK(describe(o.events) == list({{"e", "a\nb", ""}, {"message", "c", ""}}));
}

TEST_CASE("sse: mixed line ends")
{
    const auto o = decode("data: a\r\ndata: b\rdata: c\ndata: d\n\r\ndata: e\r\r\n");
    CHECK(describe(o.events) == list({{"message", "a\nb\nc\nd", ""}, {"message", "e", ""}}));
}

TEST_CASE("sse: CR CR is a line end followed by an empty line")
{
    const auto o = decode("data: a\r\rdata: b\r\r");
    CHECK(describe(o.events) == list({{"message", "a", ""}, {"message", "b", ""}}));
}

TEST_CASE("sse: LF CR is a line end followed by an empty line")
{
    const auto o = decode("data: a\n\rdata: b\n\r");
    CHECK(describe(o.events) == list({{"message", "a", ""}, {"message", "b", ""}}));
}

TEST_CASE("sse: a CR inside a value ends the line")
{
    const auto o = decode("data: a\rb\n\n");
    CHECK(describe(o.events) == list({{"message", "a", ""}}));
}

TEST_CASE("sse: a CRLF split between feeds is one line end")
{
    const auto o = decode_parts({"data: a\r", "\ndata: b\r", "\n\r", "\n"});
    CHECK(describe(o.events) == list({{"message", "a\nb", ""}}));
}

TEST_CASE("sse: an empty feed between CR and LF does not split the CRLF")
{
    const auto o = decode_parts({"data: a\r", "", "\n", "", "data: b\r", "", "", "\n\r", "", "\n"});
    CHECK(describe(o.events) == list({{"message", "a\nb", ""}}));
}

TEST_CASE("sse: a CR at the end of a feed followed by CR in the next is two line ends")
{
    const auto o = decode_parts({"data: a\r", "\r", "data: b\r", "\rdata: c\r\n\r"});
    CHECK(describe(o.events) == list({{"message", "a", ""}, {"message", "b", ""}, {"message", "c", ""}}));
}

TEST_CASE("sse: a line split across many feeds is reassembled")
{
    const auto o = decode_parts({"da", "ta", ":", " he", "llo", "\n", "\n"});
    CHECK(describe(o.events) == list({{"message", "hello", ""}}));
}

// --- The size bound ---

TEST_CASE("sse: an event exactly at the size bound is accepted")
{
    // The bound covers the line being read plus the data and event type gathered so far.
    const auto o = decode("data: 0123\n\n", 10);
    CHECK_FALSE(o.ec);
    CHECK(describe(o.events) == list({{"message", "0123", ""}}));
}

TEST_CASE("sse: a line over the size bound fails with sse_event_too_large")
{
    const auto o = decode("data: 0123\n\n", 9);
    CHECK(o.ec == leash::error::sse_event_too_large);
    CHECK(o.events.empty());
}

TEST_CASE("sse: the size bound counts the data of earlier lines and the event type")
{
    CHECK_FALSE(decode("data: aaaa\ndata: bbbb\n\n", 15).ec);
    CHECK(decode("data: aaaa\ndata: bbbb\n\n", 14).ec == leash::error::sse_event_too_large);
    CHECK_FALSE(decode("event: tt\ndata: xxxx\n\n", 12).ec);
    CHECK(decode("event: tt\ndata: xxxx\n\n", 11).ec == leash::error::sse_event_too_large);
}

TEST_CASE("sse: the size bound applies to each event, not to the stream")
{
    std::string stream;
    for (int i = 0; i < 50; ++i)
        stream += "data: 0123456789\n\n";
    const auto o = decode(stream, 16);
    CHECK_FALSE(o.ec);
    CHECK(o.events.size() == 50);
}

TEST_CASE("sse: an unfinished line over the size bound fails before its end arrives")
{
    const auto o = decode("data: " + std::string(100, 'x'), 50);
    CHECK(o.ec == leash::error::sse_event_too_large);
}

TEST_CASE("sse: a comment line over the size bound fails too")
{
    const auto o = decode(": " + std::string(100, 'x') + "\n\n", 50);
    CHECK(o.ec == leash::error::sse_event_too_large);
}

TEST_CASE("sse: events before an oversized one are delivered")
{
    const auto o = decode("id: 1\ndata: a\n\ndata: " + std::string(100, 'x') + "\n\ndata: b\n\n", 50);
    CHECK(o.ec == leash::error::sse_event_too_large);
    CHECK(describe(o.events) == list({{"message", "a", "1"}}));
    CHECK(o.last_event_id == "1");
}

TEST_CASE("sse: the size error sticks")
{
    // decode() checks on the way that every feed after the error fails and dispatches nothing.
    CHECK(decode("data: " + std::string(100, 'x') + "\n\ndata: b\n\n", 50).ec
          == leash::error::sse_event_too_large);

    decoder d(50);
    std::vector<event> out;
    CHECK(d.feed("data: " + std::string(60, 'x'), out) == leash::error::sse_event_too_large);
    CHECK(d.feed("\n\ndata: ok\n\n", out) == leash::error::sse_event_too_large);
    d.finish();
    CHECK(d.feed("data: ok\n\n", out) == leash::error::sse_event_too_large);
    CHECK(d.feed("", out) == leash::error::sse_event_too_large);
    CHECK(out.empty());
}

TEST_CASE("sse: a large single-line event within the bound is decoded")
{
    std::string payload;
    std::mt19937 rng(7);
    static constexpr char alphabet[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    for (int i = 0; i < 200000; ++i)
        payload += alphabet[rng() % 64];
    const auto o = decode("event: image\ndata: " + payload + "\n\n");
    REQUIRE(o.events.size() == 1);
    CHECK(o.events[0].type == "image");
    CHECK(o.events[0].data == payload);
}

// --- finish ---

TEST_CASE("sse: finish discards the unfinished event")
{
    decoder d;
    std::vector<event> out;
    CHECK_FALSE(d.feed("event: e\ndata: x\nid: 9\n", out));
    d.finish();
    CHECK_FALSE(d.feed("\n", out));
    CHECK(out.empty());
    CHECK(d.last_event_id().empty());
    CHECK(decode("event: e\ndata: x\nid: 9\n").events.empty());
}

TEST_CASE("sse: finish discards an unfinished line")
{
    decoder d;
    std::vector<event> out;
    CHECK_FALSE(d.feed("data: a\n\ndat", out));
    d.finish();
    CHECK_FALSE(d.feed("a: b\n\n", out));
    CHECK(describe(out) == list({{"message", "a", ""}}));
    CHECK(describe(decode("data: a\n\ndat").events) == list({{"message", "a", ""}}));
}

TEST_CASE("sse: after finish a new stream keeps the last event id and retry")
{
    decoder d;
    std::vector<event> out;
    CHECK_FALSE(d.feed("retry: 500\nid: 4\ndata: a\n\ndata: partial\r", out));
    d.finish();
    // The new stream may start with a byte order mark again.
    CHECK_FALSE(d.feed("\xEF\xBB\xBF" "data: b\n\n", out));
    CHECK(describe(out) == list({{"message", "a", "4"}, {"message", "b", "4"}}));
    CHECK(d.last_event_id() == "4");
    CHECK(d.retry() == 500ms);
    CHECK(decode("retry: 500\nid: 4\ndata: a\n\ndata: partial\r").last_event_id == "4");
}

// --- The overloads ---

TEST_CASE("sse: the callback receives every event in order")
{
    decoder d;
    std::vector<std::string> seen;
    const std::string_view stream = "data: 1\n\nevent: x\ndata: 2\n\ndata: 3\n\n";
    CHECK_FALSE(d.feed(stream, [&seen](event&& e) { seen.push_back(e.type + "=" + e.data); }));
    CHECK(seen == std::vector<std::string>{"message=1", "x=2", "message=3"});
    CHECK(describe(decode(stream).events)
          == list({{"message", "1", ""}, {"x", "2", ""}, {"message", "3", ""}}));
}

TEST_CASE("sse: empty feeds are harmless")
{
    const auto o = decode_parts({"", "data: a", "", "\n", "", "\n", ""});
    CHECK(describe(o.events) == list({{"message", "a", ""}}));
}

// --- Realistic streams ---

TEST_CASE("sse: an OpenAI-style chat completion stream ends with [DONE]")
{
    const std::string chunk1 =
        R"({"id":"chatcmpl-1","object":"chat.completion.chunk","created":1700000000,"model":"m",)"
        R"("choices":[{"index":0,"delta":{"role":"assistant","content":""},"finish_reason":null}]})";
    const std::string chunk2 =
        R"({"id":"chatcmpl-1","object":"chat.completion.chunk","created":1700000000,"model":"m",)"
        R"("choices":[{"index":0,"delta":{"content":"Hello, wor"},"finish_reason":null}]})";
    const std::string chunk3 =
        R"({"id":"chatcmpl-1","object":"chat.completion.chunk","created":1700000000,"model":"m",)"
        R"("choices":[{"index":0,"delta":{"content":"ld!\n"},"finish_reason":"stop"}]})";
    const auto o = decode("data: " + chunk1 + "\n\ndata: " + chunk2 + "\n\ndata: " + chunk3
                          + "\n\ndata: [DONE]\n\n");
    CHECK(describe(o.events)
          == list({{"message", chunk1, ""}, {"message", chunk2, ""}, {"message", chunk3, ""},
                   {"message", "[DONE]", ""}}));
    CHECK_FALSE(o.ec);
}

TEST_CASE("sse: an Ark-style stream with CRLF and keep-alive comments")
{
    const std::string chunk1 =
        R"({"choices":[{"delta":{"content":"你好","role":"assistant"},"index":0}],"created":1700000000,)"
        R"("id":"021700000000","model":"doubao","object":"chat.completion.chunk"})";
    const std::string chunk2 =
        R"({"choices":[{"delta":{"content":"","role":"assistant"},"finish_reason":"stop","index":0}],)"
        R"("created":1700000000,"id":"021700000000","model":"doubao","object":"chat.completion.chunk",)"
        R"("usage":{"prompt_tokens":10,"completion_tokens":2,"total_tokens":12}})";
    const auto o = decode(": keep-alive\r\n\r\ndata:" + chunk1 + "\r\n\r\n: keep-alive\r\n\r\ndata:"
                          + chunk2 + "\r\n\r\ndata:[DONE]\r\n\r\n");
    CHECK(describe(o.events)
          == list({{"message", chunk1, ""}, {"message", chunk2, ""}, {"message", "[DONE]", ""}}));
}

TEST_CASE("sse: an Anthropic-style stream with named events")
{
    const std::string start = R"({"type":"message_start","message":{"id":"msg_1","role":"assistant"}})";
    const std::string ping = R"({"type": "ping"})";
    const std::string delta =
        R"({"type":"content_block_delta","index":0,"delta":{"type":"text_delta","text":"Hi"}})";
    const std::string stop = R"({"type":"message_stop"})";
    const auto o = decode("event: message_start\ndata: " + start + "\n\nevent: ping\ndata: " + ping
                          + "\n\nevent: content_block_delta\ndata: " + delta
                          + "\n\nevent: message_stop\ndata: " + stop + "\n\n");
    CHECK(describe(o.events)
          == list({{"message_start", start, ""}, {"ping", ping, ""}, {"content_block_delta", delta, ""},
                   {"message_stop", stop, ""}}));
}

TEST_CASE("sse: a JSON payload split over several data lines is rejoined with LF")
{
    const auto o = decode("data: {\ndata: \"a\": 1\ndata: }\n\n");
    CHECK(describe(o.events) == list({{"message", "{\n\"a\": 1\n}", ""}}));
}
