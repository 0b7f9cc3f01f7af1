#include <leash/detail/response_parser.hpp>

#include <catch2/catch.hpp>

#include <string>

using leash::detail::parser_limits;
using leash::detail::response_parser;
namespace error = leash;

namespace {

struct parsed {
    std::error_code ec;
    std::string body;
    std::size_t leftover = 0;
};

// Feeds `input` in pieces of at most `step` bytes, collecting body bytes, until the message
// ends, an error occurs, or the input runs out (then reports end of stream if `eof`).
parsed parse(response_parser& p, std::string_view input, std::size_t step = 1 << 20, bool eof = true)
{
    parsed out;
    std::size_t offset = 0;
    while (!p.message_done()) {
        if (p.has_body()) {
            out.body += p.take_body();
            continue;
        }
        const auto n = std::min(step, input.size() - offset);
        const auto used = p.feed(input.data() + offset, n, out.ec);
        if (out.ec)
            return out;
        offset += used;
        if (used == 0 && n == 0 && !p.has_body() && !p.message_done()) {
            if (eof)
                p.feed_eof(out.ec);
            break;
        }
    }
    out.leftover = input.size() - offset;
    return out;
}

parsed parse(std::string_view input, bool head = false, std::size_t step = 1 << 20)
{
    response_parser p;
    p.reset(head, {});
    return parse(p, input, step);
}

} // namespace

TEST_CASE("parser: Content-Length body, message ends with its last byte")
{
    response_parser p;
    p.reset(false, {});
    auto r = parse(p, "HTTP/1.1 200 OK\r\nContent-Length: 5\r\nX-A: b\r\n\r\nhello");
    CHECK_FALSE(r.ec);
    CHECK(r.body == "hello");
    CHECK(p.status() == 200);
    CHECK(p.reason() == "OK");
    CHECK(p.head_fields().get("x-a") == "b");
    CHECK(p.content_length() == 5);
    CHECK(p.keep_alive());
    CHECK(r.leftover == 0);
}

TEST_CASE("parser: body bytes arrive incrementally, byte by byte")
{
    response_parser p;
    p.reset(false, {});
    auto r = parse(p, "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n2\r\nde\r\n0\r\n\r\n", 1);
    CHECK_FALSE(r.ec);
    CHECK(r.body == "abcde");
    CHECK(p.message_done());
}

TEST_CASE("parser: chunked body with extensions and trailers")
{
    response_parser p;
    p.reset(false, {});
    auto r = parse(p, "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5;ext=1\r\nhello\r\n0\r\nX-T: v\r\n\r\n");
    CHECK_FALSE(r.ec);
    CHECK(r.body == "hello");
    CHECK(p.trailer_fields().get("X-T") == "v");
    CHECK(p.keep_alive());
}

TEST_CASE("parser: close-delimited body ends at end of stream and is not reusable")
{
    response_parser p;
    p.reset(false, {});
    auto r = parse(p, "HTTP/1.1 200 OK\r\n\r\nall of it");
    CHECK_FALSE(r.ec);
    CHECK(r.body == "all of it");
    CHECK(p.message_done());
    CHECK(p.close_delimited());
    CHECK_FALSE(p.keep_alive());
}

TEST_CASE("parser: HEAD response has no body despite Content-Length")
{
    response_parser p;
    p.reset(true, {});
    auto r = parse(p, "HTTP/1.1 200 OK\r\nContent-Length: 123\r\n\r\n");
    CHECK_FALSE(r.ec);
    CHECK(p.message_done());
    CHECK(r.body.empty());
    CHECK(p.content_length() == 123);
    CHECK(p.keep_alive());
}

TEST_CASE("parser: 204 and 304 have no body, even with Transfer-Encoding")
{
    for (const char* head : {"HTTP/1.1 204 No Content\r\n\r\n", "HTTP/1.1 304 Not Modified\r\nTransfer-Encoding: chunked\r\n\r\n"}) {
        response_parser p;
        p.reset(false, {});
        auto r = parse(p, head);
        CHECK_FALSE(r.ec);
        CHECK(p.message_done());
        CHECK(r.body.empty());
    }
}

TEST_CASE("parser: interim 100 and 103 responses are skipped")
{
    response_parser p;
    p.reset(false, {});
    auto r = parse(p, "HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 103 Early Hints\r\nLink: x\r\n\r\n"
                      "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok");
    CHECK_FALSE(r.ec);
    CHECK(p.status() == 200);
    CHECK(r.body == "ok");
    CHECK_FALSE(p.head_fields().contains("Link"));
}

TEST_CASE("parser: HTTP/1.0 is not kept alive unless it asks")
{
    response_parser p;
    p.reset(false, {});
    parse(p, "HTTP/1.0 200 OK\r\nContent-Length: 2\r\n\r\nok");
    CHECK(p.version_minor() == 0);
    CHECK_FALSE(p.keep_alive());
    p.reset(false, {});
    parse(p, "HTTP/1.0 200 OK\r\nConnection: keep-alive\r\nContent-Length: 2\r\n\r\nok");
    CHECK(p.keep_alive());
}

TEST_CASE("parser: Connection: close makes the connection not reusable")
{
    response_parser p;
    p.reset(false, {});
    parse(p, "HTTP/1.1 200 OK\r\nConnection: close\r\nContent-Length: 2\r\n\r\nok");
    CHECK(p.message_done());
    CHECK_FALSE(p.keep_alive());
}

TEST_CASE("parser: stops at the end of the message, leaving later bytes unparsed")
{
    auto r = parse("HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nokHTTP/1.1 200 OK\r\n");
    CHECK_FALSE(r.ec);
    CHECK(r.leftover == 17);
}

TEST_CASE("parser: conflicting or duplicate Content-Length is an error")
{
    CHECK(parse("HTTP/1.1 200 OK\r\nContent-Length: 2\r\nContent-Length: 3\r\n\r\nok").ec == error::error::invalid_content_length);
    CHECK(parse("HTTP/1.1 200 OK\r\nContent-Length: +3\r\n\r\nabc").ec == error::error::invalid_content_length);
    CHECK(parse("HTTP/1.1 200 OK\r\nContent-Length: 2\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n").ec
          == error::error::invalid_content_length);
}

TEST_CASE("parser: bad chunk size is an error")
{
    CHECK(parse("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n").ec == error::error::invalid_chunk);
}

TEST_CASE("parser: malformed status line is an error")
{
    CHECK(parse("HTTP/1.1 20X OK\r\n\r\n").ec == error::error::malformed_response);
    CHECK(parse("garbage\r\n\r\n").ec == error::error::malformed_response);
}

TEST_CASE("parser: truncated head or body is unexpected_eof; nothing at all is closed_before_response")
{
    CHECK(parse("HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nhe").ec == error::error::unexpected_eof);
    CHECK(parse("HTTP/1.1 200 OK\r\nContent-").ec == error::error::unexpected_eof);
    CHECK(parse("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhel").ec == error::error::unexpected_eof);
    CHECK(parse("").ec == error::error::closed_before_response);
}

TEST_CASE("parser: the head size and field count are bounded")
{
    response_parser p;
    p.reset(false, parser_limits{64, 128});
    auto r = parse(p, "HTTP/1.1 200 OK\r\nX-Long: " + std::string(100, 'a') + "\r\n\r\n");
    CHECK(r.ec == error::error::headers_too_large);

    p.reset(false, parser_limits{1 << 16, 3});
    r = parse(p, "HTTP/1.1 200 OK\r\nA: 1\r\nB: 2\r\nC: 3\r\nD: 4\r\n\r\n");
    CHECK(r.ec == error::error::too_many_headers);
}

TEST_CASE("parser: 101 Switching Protocols is refused")
{
    CHECK(parse("HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\r\n").ec
          == error::error::upgrade_not_supported);
}

TEST_CASE("parser: reset prepares for the next response on the same connection")
{
    response_parser p;
    p.reset(false, {});
    parse(p, "HTTP/1.1 404 Not Found\r\nContent-Length: 1\r\n\r\nx");
    p.reset(false, {});
    auto r = parse(p, "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok");
    CHECK(p.status() == 200);
    CHECK(r.body == "ok");
    CHECK(p.head_fields().size() == 1);
}

TEST_CASE("parser: a status line whose code is not three digits is refused")
{
    // llhttp 8.1 reads an empty status code after an extra space as 0 (found by fuzzing).
    static const char raw[] = "HTTP/1.1  \0O0902\xce\xce\xce\xce\xce\xceK\r\nContent-Length: 0\r\n\r\n";
    const std::string input(raw, sizeof raw - 1);
    CHECK(parse(input).ec == error::error::malformed_response);
    CHECK(parse(input, true).ec == error::error::malformed_response);
}

namespace {

// Parses `input` given whole and then in pieces of every size from 1 byte, and checks that
// every way of splitting it ends in the same error.
void check_refused_in_any_pieces(std::string_view input, std::error_code expected)
{
    for (std::size_t step = 1; step <= input.size(); ++step) {
        INFO("pieces of " << step << " bytes");
        CHECK(parse(input, false, step).ec == expected);
    }
}

} // namespace

TEST_CASE("parser: a header line folded onto the previous one (obs-fold) is refused")
{
    check_refused_in_any_pieces("HTTP/1.1 200 OK\r\nX-A: a\r\n b\r\nContent-Length: 0\r\n\r\n",
                                error::error::malformed_response);
    check_refused_in_any_pieces("HTTP/1.1 200 OK\r\nX-A: a\r\n\tb\r\nContent-Length: 0\r\n\r\n",
                                error::error::malformed_response);
}

TEST_CASE("parser: a folded line continuing an empty header value is refused")
{
    check_refused_in_any_pieces("HTTP/1.1 200 OK\r\nX-A:\r\n b\r\nContent-Length: 0\r\n\r\n",
                                error::error::malformed_response);
}

TEST_CASE("parser: a folded line in the head of an interim response is refused")
{
    check_refused_in_any_pieces("HTTP/1.1 103 Early Hints\r\nLink: </a>\r\n ; rel=preload\r\n\r\n"
                                "HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n",
                                error::error::malformed_response);
}

TEST_CASE("parser: a folded line in the trailer section is refused")
{
    check_refused_in_any_pieces("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"
                                "2\r\nok\r\n0\r\nX-T: a\r\n b\r\n\r\n",
                                error::error::malformed_response);
}

TEST_CASE("parser: body bytes that look like a folded line are body")
{
    const std::string body = "a\r\n b\n\tc\r\n\r\n d";
    const std::string input = "HTTP/1.1 200 OK\r\nContent-Length: " + std::to_string(body.size()) + "\r\n\r\n" + body;
    for (std::size_t step = 1; step <= input.size(); ++step) {
        INFO("pieces of " << step << " bytes");
        const auto r = parse(input, false, step);
        CHECK_FALSE(r.ec);
        CHECK(r.body == body);
    }
}

TEST_CASE("parser: trailers after a chunked body are parsed in any pieces")
{
    const std::string input = "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"
                              "3\r\n\r\n \r\n0\r\nX-T: v\r\nX-U: w\r\n\r\n";
    for (std::size_t step = 1; step <= input.size(); ++step) {
        INFO("pieces of " << step << " bytes");
        response_parser p;
        p.reset(false, {});
        const auto r = parse(p, input, step);
        CHECK_FALSE(r.ec);
        CHECK(r.body == "\r\n ");
        CHECK(r.leftover == 0);
        CHECK(p.trailer_fields().get("X-T") == "v");
        CHECK(p.trailer_fields().get("X-U") == "w");
    }
}

TEST_CASE("parser: a bare LF as a line ending is refused")
{
    check_refused_in_any_pieces("HTTP/1.1 200 OK\nContent-Length: 0\n\n", error::error::malformed_response);
    check_refused_in_any_pieces("HTTP/1.1 200 OK\r\nX-A: a\nContent-Length: 0\r\n\r\n", error::error::malformed_response);
    check_refused_in_any_pieces("HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\n", error::error::malformed_response);
}

TEST_CASE("parser: Transfer-Encoding together with Content-Length is refused (request smuggling)")
{
    check_refused_in_any_pieces("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\nContent-Length: 5\r\n\r\n0\r\n\r\n",
                                error::error::invalid_content_length);
}

TEST_CASE("parser: differing duplicate Content-Length headers are refused")
{
    check_refused_in_any_pieces("HTTP/1.1 200 OK\r\nContent-Length: 5\r\nContent-Length: 6\r\n\r\nhello!",
                                error::error::invalid_content_length);
}

TEST_CASE("parser: a CR not followed by LF in a head is refused")
{
    // llhttp 8.1 takes any byte after the CR ending the status line or the head (found by fuzzing).
    check_refused_in_any_pieces("HTTP/1.1 200 OK\rXContent-Length: 0\r\n\r\n", error::error::malformed_response);
    check_refused_in_any_pieces("HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\rX", error::error::malformed_response);
    check_refused_in_any_pieces("HTTP/1.0 100 \r\xf2\r\xf2\r\n", error::error::malformed_response);
    check_refused_in_any_pieces("HTTP/1.1 200 OK\r\nX-A: a\rb\r\nContent-Length: 0\r\n\r\n", error::error::malformed_response);
    // (and after the CR ending an empty header value)
    check_refused_in_any_pieces("HTTP/1.1 200 OK\r\nX-A: \rContent-Length: 0\r\n\r\n", error::error::malformed_response);
    check_refused_in_any_pieces("HTTP/1.1 200 OK\r\nX-A:\rContent-Length: 0\r\n\r\n", error::error::malformed_response);
    check_refused_in_any_pieces("HTTP/1.1 200 OK\r\nX-A: \t \r\rContent-Length: 0\r\n\r\n", error::error::malformed_response);
    // (and in the values llhttp reads itself)
    check_refused_in_any_pieces("HTTP/1.1 200 OK\r\nContent-Length: 0\rX\r\n\r\n", error::error::malformed_response);
    check_refused_in_any_pieces("HTTP/1.1 200 OK\r\nConnection: close\rX\r\nContent-Length: 0\r\n\r\n",
                                error::error::malformed_response);
    check_refused_in_any_pieces("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\rX\r\n\r\n0\r\n\r\n",
                                error::error::malformed_response);
}

TEST_CASE("parser: empty lines before the status line are skipped")
{
    for (std::size_t step = 1; step <= 8; ++step) {
        const auto r = parse("\r\n\r\nHTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok", false, step);
        CHECK_FALSE(r.ec);
        CHECK(r.body == "ok");
    }
}

namespace {

const std::string chunked_head = "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n";

// Parses `input` whole and in pieces of every size, and checks that each way gives `body`
// and ends the message with nothing left over.
void check_accepted_in_any_pieces(std::string_view input, std::string_view body)
{
    for (std::size_t step = 1; step <= input.size(); ++step) {
        INFO("pieces of " << step << " bytes");
        const auto r = parse(input, false, step);
        CHECK_FALSE(r.ec);
        CHECK(r.body == body);
        CHECK(r.leftover == 0);
    }
}

} // namespace

TEST_CASE("parser: chunk data followed by anything but CRLF is refused (request smuggling)")
{
    // llhttp 8.1 skips the two bytes after chunk data, whatever they are.
    check_refused_in_any_pieces(chunked_head + "5\r\nhelloXX0\r\n\r\n", error::error::invalid_chunk);
    check_refused_in_any_pieces(chunked_head + "5\r\nhello\rX0\r\n\r\n", error::error::invalid_chunk);
    check_refused_in_any_pieces(chunked_head + "5\r\nhello\n\r0\r\n\r\n", error::error::invalid_chunk);
    check_refused_in_any_pieces(chunked_head + "5\r\nhello\r\n3\r\nabc0\r\n\r\n\r\n", error::error::invalid_chunk);
}

TEST_CASE("parser: a chunk-size line not ended by CRLF is refused")
{
    // llhttp 8.1 takes any byte after the CR ending a chunk-size line.
    check_refused_in_any_pieces(chunked_head + "5\rXhello\r\n0\r\n\r\n", error::error::invalid_chunk);
    check_refused_in_any_pieces(chunked_head + "5;a=b\rXhello\r\n0\r\n\r\n", error::error::invalid_chunk);
    check_refused_in_any_pieces(chunked_head + "5\r\nhello\r\n0\rX\r\n", error::error::invalid_chunk);
    check_refused_in_any_pieces(chunked_head + "5\nhello\r\n0\r\n\r\n", error::error::invalid_chunk);
}

TEST_CASE("parser: malformed chunk extensions are refused")
{
    for (const char* line : {"5;\r\n", "5;=x\r\n", "5;a=\r\n", "5 ;a\r\n", "5; a\r\n", "5;a =b\r\n", "5;a b\r\n",
                             "5;a=\"x\r\n", "5;a=\"x\\\"y\"\r\n", "5;a=\"x\"y\r\n", "5;a=\"\x7f\"\r\n", "5;a@\r\n"}) {
        INFO(line);
        check_refused_in_any_pieces(chunked_head + line + "hello\r\n0\r\n\r\n", error::error::invalid_chunk);
    }
}

TEST_CASE("parser: chunk extensions with token and quoted values are accepted in any pieces")
{
    check_accepted_in_any_pieces(chunked_head + "5;a;b=\"c\";d=\"x ;=\t\x80\";f=g\r\nhello\r\n0;e=\"\"\r\n\r\n", "hello");
}

TEST_CASE("parser: a chunk extension with a token value followed by another extension is refused")
{
    // RFC 9112 7.1.1 allows it; llhttp 8.1 refuses it, and so does the reference decoder.
    check_refused_in_any_pieces(chunked_head + "5;a=b;c\r\nhello\r\n0\r\n\r\n", error::error::invalid_chunk);
}

TEST_CASE("parser: a chunk size too large for 64 bits is refused")
{
    check_refused_in_any_pieces(chunked_head + "10000000000000000\r\nhello\r\n0\r\n\r\n", error::error::invalid_chunk);
}

TEST_CASE("parser: a chunked body of many chunks is read whole in any pieces")
{
    check_accepted_in_any_pieces(chunked_head + "1\r\na\r\nA\r\n0123456789\r\n00002\r\n\r\n\r\n000\r\n\r\n", "a0123456789\r\n");
}

TEST_CASE("parser: a CR not followed by LF in the trailer section is refused")
{
    check_refused_in_any_pieces(chunked_head + "2\r\nok\r\n0\r\nX-T: v\r\n\rX", error::error::malformed_response);
    check_refused_in_any_pieces(chunked_head + "2\r\nok\r\n0\r\nX-T: v\rX\r\n\r\n", error::error::malformed_response);
}

TEST_CASE("parser: a field name that is not a token is refused")
{
    // llhttp 8.1 takes SP inside a field name (found by fuzzing against the reference decoder).
    check_refused_in_any_pieces("HTTP/1.1 200 OK\r\nContent-Lengttil th: 5\r\n\r\nhello", error::error::malformed_response);
    check_refused_in_any_pieces("HTTP/1.1 200 OK\r\nX(A): b\r\nContent-Length: 0\r\n\r\n", error::error::malformed_response);
    check_refused_in_any_pieces("HTTP/1.1 200 OK\r\n: b\r\nContent-Length: 0\r\n\r\n", error::error::malformed_response);
    check_refused_in_any_pieces("HTTP/1.1 200 OK\r\nX-A\r\nContent-Length: 0\r\n\r\n", error::error::malformed_response);
}

TEST_CASE("parser: a status line other than HTTP/1.x SP 3DIGIT SP reason-phrase is refused")
{
    for (const char* line : {"HTTP/1.1 0200 OK", "HTTP/1.1 200", "HTTP/1.1 200\tOK", "HTTP/1.1  200 OK", "HTTP/2.0 200 OK",
                             "HTTP/0.9 200 OK", "HTTP/1.2 200 OK", "HTTP/11.1 200 OK", "http/1.1 200 OK", "HTTP/1.1 200 O\x01K",
                             "HTTP/1.1 200 O\x7fK"}) {
        INFO(line);
        check_refused_in_any_pieces(std::string(line) + "\r\nContent-Length: 0\r\n\r\n", error::error::malformed_response);
    }
}

TEST_CASE("parser: a reason phrase may be empty or hold SP and HTAB and obs-text")
{
    check_accepted_in_any_pieces("HTTP/1.1 200 \r\nContent-Length: 2\r\n\r\nok", "ok");
    check_accepted_in_any_pieces("HTTP/1.0 404 Not\tFound \xe9\r\nContent-Length: 2\r\n\r\nok", "ok");
}

TEST_CASE("parser: the status line of each interim response is checked")
{
    check_refused_in_any_pieces("HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 0200 OK\r\nContent-Length: 0\r\n\r\n",
                                error::error::malformed_response);
    check_accepted_in_any_pieces("\r\nHTTP/1.1 100 Continue\r\n\r\n\r\nHTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok", "ok");
}

TEST_CASE("parser: the Transfer-Encoding fields are read as one list whose last coding decides chunked")
{
    // llhttp 8.1 reads "chunked," and "chunked<HTAB>" as not chunked, and so a body to the end
    // of the stream (found by fuzzing against the reference decoder).
    const std::string chunks = "\r\n\r\n5\r\nhello\r\n0\r\n\r\n";
    for (const char* te : {"Transfer-Encoding: chunked,", "Transfer-Encoding: chunked\t", "Transfer-Encoding: gzip, ,chunked",
                           "Transfer-Encoding: CHUNKED;x=1", "Transfer-Encoding: gzip\r\nTransfer-Encoding: chunked",
                           "Transfer-Encoding: chunked\r\nTransfer-Encoding:"}) {
        INFO(te);
        check_accepted_in_any_pieces("HTTP/1.1 200 OK\r\n" + std::string(te) + chunks, "hello");
    }
    for (const char* te : {"Transfer-Encoding: chunked, gzip", "Transfer-Encoding: chunked\r\nTransfer-Encoding: gzip"}) {
        INFO(te);
        response_parser p;
        p.reset(false, {});
        const auto r = parse(p, "HTTP/1.1 200 OK\r\n" + std::string(te) + chunks);
        CHECK_FALSE(r.ec);
        CHECK(p.close_delimited());
        CHECK(r.body == chunks.substr(4));
    }
}

TEST_CASE("parser: Content-Length or Transfer-Encoding in the trailer section is refused")
{
    check_refused_in_any_pieces(chunked_head + "2\r\nok\r\n0\r\nContent-Length: 2\r\n\r\n", error::error::malformed_response);
    check_refused_in_any_pieces(chunked_head + "2\r\nok\r\n0\r\nTransfer-Encoding: gzip\r\n\r\n", error::error::malformed_response);
}

TEST_CASE("parser: Connection: close with HTAB around it makes the connection not reusable")
{
    // llhttp 8.1 misses it (found by probing against the reference decoder).
    response_parser p;
    p.reset(false, {});
    const auto r = parse(p, "HTTP/1.1 200 OK\r\nConnection:\tclose\t\r\nContent-Length: 2\r\n\r\nok");
    CHECK_FALSE(r.ec);
    CHECK(p.message_done());
    CHECK_FALSE(p.keep_alive());
}

TEST_CASE("parser: HTTP/1.0 listing both keep-alive and close is not kept alive")
{
    for (const char* fields : {"Connection: keep-alive, close\r\n", "Connection: keep-alive\r\nConnection: close\r\n"}) {
        INFO(fields);
        response_parser p;
        p.reset(false, {});
        const auto r = parse(p, "HTTP/1.0 200 OK\r\n" + std::string(fields) + "Content-Length: 2\r\n\r\nok");
        CHECK_FALSE(r.ec);
        CHECK(p.message_done());
        CHECK_FALSE(p.keep_alive());
    }
}

TEST_CASE("parser: Proxy-Connection does not decide whether the connection is reused")
{
    // (llhttp 8.1 takes it for Connection.)
    response_parser p;
    p.reset(false, {});
    const auto r = parse(p, "HTTP/1.1 200 OK\r\nProxy-Connection: close\r\nContent-Length: 2\r\n\r\nok");
    CHECK_FALSE(r.ec);
    CHECK(p.keep_alive());
}

TEST_CASE("parser: a Transfer-Encoding field with Content-Length is refused even when empty")
{
    // llhttp 8.1 lets an empty Transfer-Encoding beside Content-Length through.
    check_refused_in_any_pieces("HTTP/1.1 200 OK\r\nTransfer-Encoding:\r\nContent-Length: 2\r\n\r\nok",
                                error::error::invalid_content_length);
    check_refused_in_any_pieces("HTTP/1.1 200 OK\r\nContent-Length: 2\r\nTransfer-Encoding:  \r\n\r\nok",
                                error::error::invalid_content_length);
}

TEST_CASE("parser: HTAB after a Content-Length value is refused")
{
    // RFC 9112 allows OWS there; llhttp 8.1 takes SP only, and the reference decoder follows.
    check_refused_in_any_pieces("HTTP/1.1 200 OK\r\nContent-Length: 2\t\r\n\r\nok", error::error::invalid_content_length);
}

TEST_CASE("parser: Connection: close counts after the caller took the head fields")
{
    // The transport moves the head fields into the response before the body ends.
    response_parser p;
    p.reset(false, {});
    const std::string input = "HTTP/1.1 200 OK\r\nConnection: close\r\nContent-Length: 2\r\n\r\nok";
    std::error_code ec;
    auto used = p.feed(input.data(), input.size(), ec);
    REQUIRE(p.headers_done());
    const auto fields = std::move(p.head_fields());
    const auto r = parse(p, std::string_view(input).substr(used));
    CHECK_FALSE(r.ec);
    CHECK(r.body == "ok");
    CHECK(p.message_done());
    CHECK_FALSE(p.keep_alive());
}

TEST_CASE("parser: an interim response of HTTP/1.0 or with Connection: close is followed by the final one")
{
    // llhttp 8.1 took the final response for bytes after the last one (found by fuzzing
    // against the reference decoder). A "close" in the interim response still counts.
    const std::string final_response = "HTTP/1.1 204 No Content\r\n\r\n";
    for (const char* interim : {"HTTP/1.0 100 Continue\r\n\r\n", "HTTP/1.1 100 Continue\r\nConnection: close\r\n\r\n"}) {
        INFO(interim);
        const std::string input = interim + final_response;
        for (std::size_t step = 1; step <= input.size(); ++step) {
            INFO("pieces of " << step << " bytes");
            response_parser p;
            p.reset(false, {});
            const auto r = parse(p, input, step);
            CHECK_FALSE(r.ec);
            CHECK(p.message_done());
            CHECK(p.status() == 204);
            CHECK(p.keep_alive() == (input.find("close") == std::string::npos));
        }
    }
}
