// Fuzz target: the SSE decoder. Oracles: feeding the stream whole, byte by byte, or in
// pieces chosen by the input gives the same events and the same error; no event's data is
// larger than the decoder's limit.
#include <leash/sse.hpp>

#include "fuzz_check.hpp"

#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string_view>
#include <vector>

namespace {

struct outcome {
    std::vector<leash::sse::event> events;
    std::error_code ec;
};

bool same(const outcome& a, const outcome& b)
{
    if (a.ec != b.ec || a.events.size() != b.events.size())
        return false;
    for (std::size_t i = 0; i < a.events.size(); ++i)
        if (a.events[i].type != b.events[i].type || a.events[i].data != b.events[i].data
            || a.events[i].id != b.events[i].id)
            return false;
    return true;
}

outcome decode(std::string_view bytes, std::size_t stride, std::size_t limit)
{
    leash::sse::decoder d(limit);
    outcome o;
    for (std::size_t at = 0; at < bytes.size() && !o.ec;) {
        const auto n = stride == 0 ? bytes.size() : std::min(stride, bytes.size() - at);
        o.ec = d.feed(bytes.substr(at, n), o.events);
        at += n;
    }
    return o;
}

} // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size)
{
    if (size == 0)
        return 0;
    const std::size_t limit = (data[0] & 1) ? 64 : leash::sse::decoder::default_max_event_bytes;
    const std::size_t stride = 1 + (data[0] >> 1);
    const std::string_view bytes(reinterpret_cast<const char*>(data + 1), size - 1);
    const auto whole = decode(bytes, 0, limit);
    for (const auto& e : whole.events)
        FUZZ_CHECK(e.data.size() <= limit);
    FUZZ_CHECK(same(whole, decode(bytes, 1, limit)));
    FUZZ_CHECK(same(whole, decode(bytes, stride, limit)));
    return 0;
}
