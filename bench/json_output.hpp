// The JSON report of the benchmark programs: one object per run, built as an
// nlohmann::ordered_json (keys stay in the order they are set, which the smoke tests' patterns
// rely on) and printed compactly on one line.
//
// The numbers are part of the contract read by bench/tools and bench/soak/run: a
// floating-point figure is rounded to six decimals (0 if it is not finite), so reading the
// report back gives the same numbers as the fixed six-decimal form it always had.
#pragma once

#include <nlohmann/json.hpp>

#include <charconv>
#include <cmath>
#include <cstdint>
#include <map>
#include <ostream>
#include <string>

namespace leash_bench {

using json = nlohmann::ordered_json;

// `value` rounded to six decimals; 0 if it is not finite.
inline double json_number(double value)
{
    if (!std::isfinite(value))
        return 0;
    char text[320];  // room for the largest double: 309 digits, the point and six decimals
    const auto printed = std::to_chars(text, text + sizeof text, value, std::chars_format::fixed, 6);
    if (printed.ec != std::errc{})
        return 0;
    double rounded = 0;
    std::from_chars(text, printed.ptr, rounded);
    return rounded;
}

// Counts by name or by number (an object's keys are strings), in the map's order.
template <class Key>
json json_counts(const std::map<Key, std::uint64_t>& counts)
{
    json object = json::object();
    for (const auto& [key, n] : counts) {
        if constexpr (std::is_arithmetic_v<Key>)
            object[std::to_string(key)] = n;
        else
            object[key] = n;
    }
    return object;
}

// Rounds every floating-point number in `value` with json_number.
inline void round_numbers(json& value)
{
    if (value.is_number_float())
        value = json_number(value.get<double>());
    else if (value.is_structured())
        for (auto& element : value)
            round_numbers(element);
}

// Prints `report` on one line (invalid UTF-8 in a string becomes U+FFFD rather than an
// exception).
inline void print_json_line(std::ostream& out, json report)
{
    round_numbers(report);
    out << report.dump(-1, ' ', false, json::error_handler_t::replace) << '\n';
}

} // namespace leash_bench
