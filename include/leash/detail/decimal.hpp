// Decimal numbers in protocol text (a port, a Keep-Alive timeout, an SSE retry field): one or
// more ASCII digits and nothing else, no sign, no spaces. Without I/O.
#pragma once

#include <charconv>
#include <string_view>
#include <system_error>

namespace leash::detail {

enum class decimal_parse { ok, not_digits, too_large };

// The run of ASCII digits that `text` starts with (empty if none).
inline std::string_view leading_digits(std::string_view text) noexcept
{
    return text.substr(0, text.find_first_not_of("0123456789"));
}

// Reads `text` into `value` when it is all digits and fits; `value` is left alone otherwise.
template <class T>
decimal_parse parse_decimal_digits(std::string_view text, T& value) noexcept
{
    if (text.empty() || text.front() < '0' || text.front() > '9')  // (from_chars takes a minus sign)
        return decimal_parse::not_digits;
    const char* const end = text.data() + text.size();
    T parsed{};
    const auto [stop, ec] = std::from_chars(text.data(), end, parsed);
    if (ec == std::errc::result_out_of_range) {
        for (const char* p = stop; p != end; ++p)  // (stop is at the end of the digits)
            if (*p < '0' || *p > '9')
                return decimal_parse::not_digits;
        return decimal_parse::too_large;
    }
    if (ec != std::errc{} || stop != end)
        return decimal_parse::not_digits;
    value = parsed;
    return decimal_parse::ok;
}

} // namespace leash::detail
