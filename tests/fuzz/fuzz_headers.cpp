// Fuzz target: header validation and the request head written from it. The input is a
// method, a header name and a value separated by NUL bytes. Oracles: an accepted field has a
// token name and a value without CR, LF or NUL; a request that passes validation writes a
// head whose only line breaks are the CRLFs leash puts there (no caller byte can start a new
// header or a new request).
#include <leash/detail/request_writer.hpp>
#include <leash/headers.hpp>
#include <leash/request.hpp>
#include <leash/url.hpp>

#include <algorithm>
#include "fuzz_check.hpp"

#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string>
#include <string_view>

namespace {
bool has_break(std::string_view s)
{
    return s.find_first_of(std::string_view("\r\n\0", 3)) != std::string_view::npos;
}
} // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size)
{
    const std::string_view input(reinterpret_cast<const char*>(data), size);
    const auto first = input.find('\0');
    const auto second = first == std::string_view::npos ? first : input.find('\0', first + 1);
    if (second == std::string_view::npos)
        return 0;
    const auto method = input.substr(0, first);
    const auto name = input.substr(first + 1, second - first - 1);
    const auto value = input.substr(second + 1);

    leash::headers h;
    std::error_code ec;
    h.add(name, value, ec);
    if (!ec) {
        FUZZ_CHECK(h.size() == 1);
        const auto& f = *h.begin();
        FUZZ_CHECK(!f.name.empty() && !has_break(f.name) && !has_break(f.value));
        FUZZ_CHECK(f.name.find_first_of(" \t:()<>@,;\\\"/[]?={}") == std::string::npos);
    } else {
        FUZZ_CHECK(h.empty());
    }

    leash::request req;
    req.method = std::string(method);
    req.url = "http://example.test/path";
    req.headers = h;
    if (leash::detail::validate_request(req))
        return 0;
    FUZZ_CHECK(!method.empty() && !has_break(method));
    std::string head;
    leash::detail::write_request_head(head, req, leash::url::parse(req.url), "leash-fuzz");
    // Lines: request line, Host, User-Agent, the caller's field (unless it was one of those or
    // a framing field leash writes itself), maybe Content-Length, then the empty line.
    const auto lines = static_cast<std::size_t>(std::count(head.begin(), head.end(), '\n'));
    FUZZ_CHECK(lines == static_cast<std::size_t>(std::count(head.begin(), head.end(), '\r')));
    FUZZ_CHECK(lines >= 4 && lines <= 6);
    FUZZ_CHECK(head.size() >= 4 && head.compare(head.size() - 4, 4, "\r\n\r\n") == 0);
    return 0;
}
