// A minimal writer for one flat JSON object whose values are numbers or objects of counts,
// which is all leash-load reports. Strings are escaped per RFC 8259; numbers never print
// as NaN or infinity.
#pragma once

#include <charconv>
#include <cmath>
#include <cstdint>
#include <map>
#include <ostream>
#include <string>
#include <string_view>

namespace leash_load {

// `text` as a quoted JSON string.
inline std::string json_quote(std::string_view text)
{
    static constexpr char hex[] = "0123456789abcdef";
    std::string out = "\"";
    for (const char ch : text) {
        const auto c = static_cast<unsigned char>(ch);
        switch (c) {
        case '"': out += "\\\""; break;
        case '\\': out += "\\\\"; break;
        case '\b': out += "\\b"; break;
        case '\f': out += "\\f"; break;
        case '\n': out += "\\n"; break;
        case '\r': out += "\\r"; break;
        case '\t': out += "\\t"; break;
        default:
            if (c < 0x20) {
                out += "\\u00";
                out += hex[c >> 4];
                out += hex[c & 0xf];
            } else {
                out += ch;
            }
        }
    }
    out += '"';
    return out;
}

// `value` with six decimals (0 if it is not finite), independent of the locale.
inline std::string json_number(double value)
{
    if (!std::isfinite(value))
        value = 0;
    char buf[64];
    const auto [end, ec] = std::to_chars(buf, buf + sizeof buf, value, std::chars_format::fixed, 6);
    return ec == std::errc{} ? std::string(buf, end) : std::string("0");
}

class json_object_writer {
public:
    explicit json_object_writer(std::ostream& out) : out_(out) { out_ << '{'; }
    json_object_writer(const json_object_writer&) = delete;
    json_object_writer& operator=(const json_object_writer&) = delete;

    void field(std::string_view key, std::uint64_t value) { begin_field(key) << value; }
    void field(std::string_view key, std::int64_t value) { begin_field(key) << value; }
    void field(std::string_view key, double value) { begin_field(key) << json_number(value); }

    template <class Key>
    void field(std::string_view key, const std::map<Key, std::uint64_t>& counts)
    {
        begin_field(key) << '{';
        bool first = true;
        for (const auto& [name, count] : counts) {
            out_ << (first ? "" : ",") << json_quote(to_key(name)) << ':' << count;
            first = false;
        }
        out_ << '}';
    }

    // Closes the object and ends the line.
    void finish() { out_ << "}\n"; }

private:
    std::ostream& begin_field(std::string_view key)
    {
        out_ << (first_ ? "" : ",") << json_quote(key) << ':';
        first_ = false;
        return out_;
    }
    static std::string to_key(const std::string& name) { return name; }
    static std::string to_key(int number) { return std::to_string(number); }

    std::ostream& out_;
    bool first_ = true;
};

} // namespace leash_load
