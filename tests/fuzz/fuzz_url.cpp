// Fuzz target: URL parsing. Oracles: an accepted URL has a lower-case http(s) scheme, a
// non-empty host of allowed characters, a port in 1..65535 and a target starting with "/",
// and contains no byte a request line could be split on; printing it and parsing the result
// gives the same URL.
#include <leash/url.hpp>

#include "fuzz_check.hpp"

#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string_view>

namespace {
bool clean(std::string_view s)
{
    for (unsigned char c : s)
        if (c <= 0x20 || c >= 0x7f)
            return false;
    return true;
}
} // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size)
{
    const std::string_view text(reinterpret_cast<const char*>(data), size);
    std::error_code ec;
    const auto u = leash::url::parse(text, ec);
    if (!u) {
        FUZZ_CHECK(static_cast<bool>(ec));
        return 0;
    }
    FUZZ_CHECK(!ec);
    FUZZ_CHECK(u->scheme() == "http" || u->scheme() == "https");
    FUZZ_CHECK(!u->host().empty() && clean(u->host()));
    for (char c : u->host())
        FUZZ_CHECK(!(c >= 'A' && c <= 'Z'));
    FUZZ_CHECK(u->port() >= 1);
    FUZZ_CHECK(!u->target().empty() && u->target().front() == '/' && clean(u->target()));
    const auto again = leash::url::parse(u->to_string(), ec);
    FUZZ_CHECK(again.has_value());
    FUZZ_CHECK(again->scheme() == u->scheme() && again->host() == u->host() && again->port() == u->port()
          && again->target() == u->target() && again->is_ipv6_literal() == u->is_ipv6_literal());
    return 0;
}
