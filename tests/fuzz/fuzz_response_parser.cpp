// Fuzz target: the response parser (llhttp, strict) over arbitrary server bytes.
//
// The first input byte chooses HEAD or not, end of stream or not, small or default limits,
// and how the rest is cut into pieces. Oracles: the same bytes parsed whole and in pieces
// either both fail or give the same outcome (status, every body byte, end of message); the
// status code has three digits; a declared Content-Length is never exceeded and is met
// exactly when the message ends; HEAD has no body; header limits hold.
#include <leash/detail/response_parser.hpp>

#include "fuzz_check.hpp"

#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string>
#include <string_view>

namespace {

struct outcome {
    std::error_code ec;
    int status = 0;
    bool headers_done = false;
    bool message_done = false;
    std::size_t header_fields = 0;
    std::string body;
    bool operator==(const outcome&) const = default;
};


// Feeds `bytes` `stride` at a time (0 = whole), the way the transport does: each call parses
// up to the next pause, body pieces are taken, and the rest is offered again.
outcome parse(std::string_view bytes, std::size_t stride, bool head, leash::detail::parser_limits limits, bool eof)
{
    leash::detail::response_parser p;
    p.reset(head, limits);
    outcome o;
    std::size_t offered = 0;
    std::string_view pending;
    while (!o.ec && !p.message_done()) {
        if (p.has_body()) {
            o.body.append(p.take_body());
            continue;
        }
        if (pending.empty()) {
            if (offered == bytes.size())
                break;
            const auto n = stride == 0 ? bytes.size() - offered : std::min(stride, bytes.size() - offered);
            pending = bytes.substr(offered, n);
            offered += n;
        }
        const auto used = p.feed(pending.data(), pending.size(), o.ec);
        FUZZ_CHECK(used <= pending.size());
        pending.remove_prefix(used);
        if (!o.ec && used == 0 && !p.has_body() && !p.message_done())
            FUZZ_CHECK(false);  // no progress without a reason
    }
    if (!o.ec && !p.message_done() && eof) {
        p.feed_eof(o.ec);
        while (p.has_body())
            o.body.append(p.take_body());
    }
    o.status = p.status();
    o.headers_done = p.headers_done();
    o.message_done = p.message_done();
    o.header_fields = p.head_fields().size();
    if (o.headers_done && !o.ec) {
        FUZZ_CHECK(p.status() >= 200 && p.status() <= 999);
        FUZZ_CHECK(o.header_fields <= limits.max_headers);
        if (auto length = p.content_length(); length && !head && p.status() != 204 && p.status() != 304) {
            FUZZ_CHECK(o.body.size() <= *length);
            if (o.message_done)
                FUZZ_CHECK(o.body.size() == *length);
        }
        if (head)
            FUZZ_CHECK(o.body.empty());
    }
    return o;
}

} // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size)
{
    if (size == 0)
        return 0;
    const std::uint8_t control = data[0];
    const std::string_view bytes(reinterpret_cast<const char*>(data + 1), size - 1);
    const bool head = control & 1;
    const bool eof = control & 2;
    leash::detail::parser_limits limits;
    if (control & 4) {
        limits.max_header_bytes = 256;
        limits.max_headers = 4;
    }
    const std::size_t stride = 1 + (control >> 3);  // 1..32
    const auto whole = parse(bytes, 0, head, limits, eof);
    const auto pieces = parse(bytes, stride, head, limits, eof);
    // The same bytes either fail both ways or give the same message. (Which error comes
    // first may differ: llhttp reports a span, and so its size, only when the span or the
    // piece ends, so a header limit can be met in pieces before a syntax error is seen whole.)
    if (whole.ec || pieces.ec)
        FUZZ_CHECK(whole.ec && pieces.ec);
    else
        FUZZ_CHECK(whole == pieces);
    return 0;
}
