// Fuzz target: the response parser (llhttp, strict) over arbitrary server bytes.
//
// The first input byte chooses HEAD or not, end of stream or not, small or default limits,
// and how the rest is cut into pieces. Oracles: the same bytes parsed whole and in pieces
// either both fail or give the same outcome (status, every body byte, end of message); the
// status code has three digits; a declared Content-Length is never exceeded and is met
// exactly when the message ends; HEAD has no body; header limits hold. And the parser, fed
// in pieces, agrees with the reference decoder (tests/support/reference_framing.hpp) on what
// is framing: see agrees_with_reference().
#include <leash/detail/response_parser.hpp>

#include "fuzz_check.hpp"

#include <support/reference_framing.hpp>

#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string>
#include <string_view>

namespace {

struct outcome {
    std::error_code ec;
    int status = 0;
    bool keep_alive = false;
    bool headers_done = false;
    bool message_done = false;
    std::size_t header_fields = 0;
    std::string body;
    bool operator==(const outcome&) const = default;
};


// Feeds `bytes` `stride` at a time (0 = whole), the way the transport does: each call parses
// up to the next pause, body pieces are taken, the rest is offered again, and once all is
// offered, an empty call lets the message end after its last piece.
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
        if (pending.empty() && offered < bytes.size()) {
            const auto n = stride == 0 ? bytes.size() - offered : std::min(stride, bytes.size() - offered);
            pending = bytes.substr(offered, n);
            offered += n;
        }
        const auto used = p.feed(pending.data(), pending.size(), o.ec);
        FUZZ_CHECK(used <= pending.size());
        pending.remove_prefix(used);
        if (!o.ec && used == 0 && !p.has_body() && !p.message_done()) {
            if (pending.empty())
                break;  // everything parsed (an empty feed ends a message after its last piece)
            FUZZ_CHECK(false);  // no progress without a reason
        }
    }
    if (!o.ec && !p.message_done() && eof) {
        p.feed_eof(o.ec);
        while (p.has_body())
            o.body.append(p.take_body());
    }
    o.status = p.status();
    o.headers_done = p.headers_done();
    o.message_done = p.message_done();
    o.keep_alive = o.message_done && p.keep_alive();
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

// The parser and the reference agree. When the stream ended, on everything: accepted or
// refused, and for an accepted message its status, every body byte and whether the connection
// stays usable. Without the end of the stream a message may be cut anywhere, and the two may
// apply a rule at different bytes (the reference when the line it concerns is complete), so
// one may refuse while the other still waits for more; where both accept they agree.
void agrees_with_reference(const outcome& o, std::string_view bytes, bool head, leash::detail::parser_limits limits, bool eof)
{
    namespace ref = leash::test::reference;
    const auto r = ref::decode(bytes, head, eof, ref::limits{limits.max_header_bytes, limits.max_headers});
    const bool accepted = !o.ec;
    if (accepted != r.accepted) {
        FUZZ_CHECK(!eof);
        FUZZ_CHECK(accepted ? !o.message_done : !r.message_done);
        return;
    }
    if (!accepted)
        return;
    FUZZ_CHECK(o.message_done == r.message_done);
    FUZZ_CHECK(o.headers_done == r.headers_done);
    if (o.headers_done)
        FUZZ_CHECK(o.status == r.status);
    FUZZ_CHECK(o.body == r.body);
    if (o.message_done)
        FUZZ_CHECK(o.keep_alive == r.keep_alive);
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
    agrees_with_reference(pieces, bytes, head, limits, eof);
    return 0;
}
