/// \file
/// leash/url_encoding.hpp - percent-encoding for building URLs (RFC 3986), and a query builder.
///
/// \code
/// auto u = leash::query_builder().add("q", "llm proxy").add("page", "2")
///              .append_to("https://api.example.com/search");
/// // "https://api.example.com/search?q=llm%20proxy&page=2"
/// \endcode
///
/// Encoding is byte-wise: text is taken as UTF-8 (or any bytes) and every byte outside the
/// allowed set becomes "%XX" with upper-case hex digits. Nothing here decodes, validates or
/// normalises a URL; url::parse does that. All functions are pure.
#pragma once

#include <leash/headers.hpp>

#include <array>
#include <string>
#include <string_view>

namespace leash {

/// A query name or value: every byte but RFC 3986's unreserved ones (letters, digits, "-._~")
/// is encoded, so the result is safe between "?", "&" and "=" and means the same to a form
/// decoder and to an RFC 3986 one: a space is "%20", a "+" is "%2B".
std::string percent_encode(std::string_view text);

/// One path segment: RFC 3986's pchar is kept (unreserved, the sub-delims "!$&'()*+,;=", ":"
/// and "@"), every other byte is encoded, among them "/", "?", "#", "%" and space, so a
/// segment can never add a path level, a query or a fragment. A segment "." or ".." is
/// encoded as "%2E" or "%2E%2E", which URL resolution does not take as a dot segment; a
/// server that decodes before it resolves still may, so refuse them in untrusted input.
std::string percent_encode_path_segment(std::string_view segment);

/// Builds "name=value&name=value" from unencoded names and values, in the order added.
///
/// \threadsafety
/// A query_builder is a plain value (not safe to modify from two threads at once, like any
/// std::string).
class query_builder {
public:
    /// Adds name=value (both percent-encoded); the same name may be added more than once.
    query_builder& add(std::string_view name, std::string_view value);
    /// The query so far, without "?"; empty when nothing was added.
    const std::string& str() const noexcept { return query_; }
    /// True when nothing was added.
    bool empty() const noexcept { return query_.empty(); }
    /// `url` with this query added: after "?", or after "&" when url already has a query;
    /// before a "#fragment" if url has one. url unchanged when the builder is empty.
    std::string append_to(std::string_view url) const;

private:
    std::string query_;
};

namespace detail {

inline constexpr auto unreserved_chars = alnum_and("-._~");
inline constexpr auto pchar_chars = alnum_and("-._~!$&'()*+,;=:@");

inline void append_percent_encoded(std::string& out, std::string_view text, const std::array<bool, 256>& keep)
{
    static constexpr char hex[] = "0123456789ABCDEF";
    for (const char ch : text) {
        const auto c = static_cast<unsigned char>(ch);
        if (keep[c]) {
            out += ch;
        } else {
            out += '%';
            out += hex[c >> 4];
            out += hex[c & 0xf];
        }
    }
}

} // namespace detail

inline std::string percent_encode(std::string_view text)
{
    std::string out;
    detail::append_percent_encoded(out, text, detail::unreserved_chars);
    return out;
}

inline std::string percent_encode_path_segment(std::string_view segment)
{
    if (segment == "." || segment == "..")
        return segment.size() == 1 ? "%2E" : "%2E%2E";
    std::string out;
    detail::append_percent_encoded(out, segment, detail::pchar_chars);
    return out;
}

inline query_builder& query_builder::add(std::string_view name, std::string_view value)
{
    if (!query_.empty())
        query_ += '&';
    detail::append_percent_encoded(query_, name, detail::unreserved_chars);
    query_ += '=';
    detail::append_percent_encoded(query_, value, detail::unreserved_chars);
    return *this;
}

inline std::string query_builder::append_to(std::string_view url) const
{
    if (query_.empty())
        return std::string(url);
    const auto hash = url.find('#');
    const std::string_view before = url.substr(0, hash);
    std::string out(before);
    if (before.find('?') == std::string_view::npos)
        out += '?';
    else if (!before.ends_with('?') && !before.ends_with('&'))
        out += '&';
    out += query_;
    if (hash != std::string_view::npos)
        out.append(url.substr(hash));
    return out;
}

} // namespace leash
