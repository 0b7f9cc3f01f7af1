/// \file
/// leash/headers.hpp - an ordered, case-insensitive, multi-valued list of header fields.
#pragma once

#include <leash/error.hpp>

#include <algorithm>
#include <array>
#include <optional>
#include <string>
#include <string_view>
#include <system_error>
#include <utility>
#include <vector>

namespace leash {

namespace detail {

// A table of the bytes that are ASCII letters, digits or one of `others` (a lookup per byte
// where a rule runs over every byte of a field name or a host).
constexpr std::array<bool, 256> alnum_and(std::string_view others)
{
    std::array<bool, 256> table{};
    for (int c = 0; c < 256; ++c)
        table[c] = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9');
    for (const unsigned char c : others)
        table[c] = true;
    return table;
}

// The bytes of RFC 9110 5.6.2's tchar.
inline constexpr auto token_chars = alnum_and("!#$%&'*+-.^_`|~");

inline bool is_token_char(unsigned char c) noexcept
{
    return token_chars[c];
}

inline bool is_token(std::string_view s) noexcept
{
    return !s.empty()
        && std::all_of(s.begin(), s.end(), [](char c) { return is_token_char(static_cast<unsigned char>(c)); });
}

// Field values: VCHAR, obs-text, SP and HTAB. Everything else (CR, LF, NUL, DEL, other
// controls) is refused.
inline bool is_field_value(std::string_view s) noexcept
{
    return std::all_of(s.begin(), s.end(), [](char ch) {
        const auto c = static_cast<unsigned char>(ch);
        return c == '\t' || (c >= 0x20 && c != 0x7f);
    });
}

inline std::string_view trim_ows(std::string_view s) noexcept
{
    while (!s.empty() && (s.front() == ' ' || s.front() == '\t'))
        s.remove_prefix(1);
    while (!s.empty() && (s.back() == ' ' || s.back() == '\t'))
        s.remove_suffix(1);
    return s;
}

// Calls fn(element) for each element of a comma-separated list field value, in order, as
// RFC 9110 5.6.1 reads lists: OWS around elements trimmed, empty elements skipped.
template <class Fn>
void for_each_list_element(std::string_view list, Fn&& fn)
{
    for (;;) {
        const auto comma = list.find(',');
        if (const auto element = trim_ows(list.substr(0, comma)); !element.empty())
            fn(element);
        if (comma == std::string_view::npos)
            return;
        list.remove_prefix(comma + 1);
    }
}

// ASCII lower case (URL schemes and hosts, field names and tokens; no locale applies).
inline char ascii_lower(char c) noexcept
{
    return (c >= 'A' && c <= 'Z') ? static_cast<char>(c - 'A' + 'a') : c;
}

// ASCII case-insensitive equality (field names and tokens are ASCII; no locale applies).
inline bool iequals(std::string_view a, std::string_view b) noexcept
{
    if (a.size() != b.size())
        return false;
    for (std::size_t i = 0; i < a.size(); ++i) {
        if (a[i] != b[i] && ascii_lower(a[i]) != ascii_lower(b[i]))
            return false;
    }
    return true;
}

} // namespace detail

/// One field of a head: a name and its value.
struct header_field {
    /// The name, in the spelling it was added with.
    std::string name;
    /// The value, without leading and trailing spaces and tabs.
    std::string value;
};

/// An ordered, case-insensitive, multi-valued list of header fields.
///
/// Names are compared case-insensitively and keep the spelling they were added with. A name may
/// appear several times (add) or be replaced (set). Every name is checked to be an RFC 9110
/// token and every value to be free of CR, LF, NUL and other control characters (HTAB is
/// allowed), so a request built from headers cannot smuggle a header or split a message.
/// Leading and trailing spaces and tabs of values are removed.
///
/// \threadsafety
/// A headers object is a plain value; concurrent reads are safe, writes need external sync.
///
/// \errors
/// Invalid input is refused with error::invalid_header_name / invalid_header_value: set in the
/// `std::error_code&` argument, or thrown as std::system_error by the overloads without one.
class headers {
public:
    /// Iterates over the fields in order, as header_field.
    using const_iterator = std::vector<header_field>::const_iterator;

    /// An empty list.
    headers() = default;
    /// The fields, in order, as if each were given to add().
    /// Throws std::system_error if a field is invalid.
    headers(std::initializer_list<std::pair<std::string_view, std::string_view>> fields)
    {
        for (auto& [n, v] : fields)
            add(n, v);
    }

    /// Appends a field. On invalid input sets ec and leaves the list unchanged.
    void add(std::string_view name, std::string_view value, std::error_code& ec)
    {
        if (!check(name, value, ec))
            return;
        fields_.push_back({std::string(name), std::string(detail::trim_ows(value))});
    }
    /// Appends a field. Throws std::system_error on invalid input (the list is unchanged).
    void add(std::string_view name, std::string_view value) { throwing(&headers::add, name, value); }

    /// Replaces every field of that name with one field. Validation as for add.
    void set(std::string_view name, std::string_view value, std::error_code& ec)
    {
        if (!check(name, value, ec))
            return;
        erase(name);
        fields_.push_back({std::string(name), std::string(detail::trim_ows(value))});
    }
    /// Replaces every field of that name with one field. Throws std::system_error on invalid
    /// input (the list is unchanged).
    void set(std::string_view name, std::string_view value) { throwing(&headers::set, name, value); }

    /// Removes every field of that name; returns how many were removed.
    std::size_t erase(std::string_view name)
    {
        const auto before = fields_.size();
        std::erase_if(fields_, [&](const header_field& f) { return detail::iequals(f.name, name); });
        return before - fields_.size();
    }

    /// The first value of that name, if any.
    std::optional<std::string_view> get(std::string_view name) const noexcept
    {
        for (auto& f : fields_)
            if (detail::iequals(f.name, name))
                return std::string_view(f.value);
        return std::nullopt;
    }
    /// Every value of that name, in order.
    std::vector<std::string_view> get_all(std::string_view name) const
    {
        std::vector<std::string_view> out;
        for (auto& f : fields_)
            if (detail::iequals(f.name, name))
                out.emplace_back(f.value);
        return out;
    }
    /// True if a field of that name is present.
    bool contains(std::string_view name) const noexcept { return get(name).has_value(); }

    /// True if a comma-separated list field of that name contains token (case-insensitive),
    /// e.g. has_token("Connection", "close").
    bool has_token(std::string_view name, std::string_view token) const noexcept
    {
        bool found = false;
        for (auto& f : fields_)
            if (!found && detail::iequals(f.name, name))
                detail::for_each_list_element(f.value, [&](std::string_view e) { found = found || detail::iequals(e, token); });
        return found;
    }

    /// The number of fields (each repetition of a name counts).
    std::size_t size() const noexcept { return fields_.size(); }
    /// True if there is no field.
    bool empty() const noexcept { return fields_.empty(); }
    /// Removes every field.
    void clear() noexcept { fields_.clear(); }
    /// The first field, in the order they were added.
    const_iterator begin() const noexcept { return fields_.begin(); }
    /// Past the last field.
    const_iterator end() const noexcept { return fields_.end(); }

    /// Makes room for n fields without reallocating.
    void reserve(std::size_t n) { fields_.reserve(n); }

    /// For the response parser, which has validated the bytes already. Appends the field as
    /// given, without checking or trimming it.
    void append_unchecked(std::string_view name, std::string_view value)
    {
        auto& f = fields_.emplace_back();
        f.name.assign(name);
        f.value.assign(value);
    }

private:
    static bool check(std::string_view name, std::string_view value, std::error_code& ec)
    {
        if (!detail::is_token(name))
            ec = error::invalid_header_name;
        else if (!detail::is_field_value(value))
            ec = error::invalid_header_value;
        else
            ec = {};
        return !ec;
    }

    using checked_op = void (headers::*)(std::string_view, std::string_view, std::error_code&);
    void throwing(checked_op op, std::string_view name, std::string_view value)
    {
        std::error_code ec;
        (this->*op)(name, value, ec);
        if (ec)
            throw std::system_error(ec, std::string(name));
    }

    std::vector<header_field> fields_;
};

} // namespace leash
