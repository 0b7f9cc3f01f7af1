/// \file
/// leash/url.hpp - absolute http(s) URLs, parsed and validated.
#pragma once

#include <leash/detail/decimal.hpp>
#include <leash/error.hpp>
#include <leash/headers.hpp>

#include <asio/ip/address_v6.hpp>

#include <cctype>
#include <charconv>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <system_error>

namespace leash {

/// An absolute http(s) URL, parsed and validated.
///
/// url::parse accepts "scheme://host[:port][/path][?query][#fragment]" with scheme http or
/// https (case-insensitive), a registered name, IPv4 or bracketed IPv6 host, and a decimal
/// port 1-65535. User information ("user@") is rejected, as are spaces, control characters
/// and bytes >= 0x80 anywhere (percent-encode them). The fragment is dropped; the target
/// (path and query) defaults to "/".
///
/// \threadsafety
/// A url is a plain value: copy it freely.
///
/// \errors
/// error::unsupported_scheme, or a url_* code that says why the URL is invalid and compares
/// equal to error::invalid_url (see leash/error.hpp).
class url {
public:
    /// Parses text; on failure sets ec to error::unsupported_scheme or to a code that says why
    /// the URL is invalid (error::url_relative, url_bad_port, ...: see error.hpp), which
    /// compares equal to error::invalid_url and whose message() tells what to change.
    static std::optional<url> parse(std::string_view text, std::error_code& ec);
    /// Parses text; throws std::system_error (with the text and the reason) on failure.
    static url parse(std::string_view text);

    const std::string& scheme() const noexcept { return scheme_; }  ///< "http" or "https"
    const std::string& host() const noexcept { return host_; }      ///< IPv6 without brackets
    std::uint16_t port() const noexcept { return port_; }           ///< default port filled in
    const std::string& target() const noexcept { return target_; }  ///< "/path?query"
    /// The target's path ("/a/b", as written: still percent-encoded).
    std::string_view path() const noexcept { return std::string_view(target_).substr(0, target_.find('?')); }
    /// The target's query (after "?", as written; empty when there is none or it is empty).
    std::string_view query() const noexcept
    {
        const auto question = target_.find('?');
        return question == std::string::npos ? std::string_view() : std::string_view(target_).substr(question + 1);
    }
    /// True if the host is an IPv6 address (written in brackets in the URL).
    bool is_ipv6_literal() const noexcept { return ipv6_; }
    /// True if the scheme is https.
    bool is_https() const noexcept { return scheme_ == "https"; }
    /// True if the port is the scheme's default (80 for http, 443 for https).
    bool has_default_port() const noexcept { return port_ == (is_https() ? 443 : 80); }

    /// The Host header value: host, bracketed if IPv6, with ":port" unless it is the default.
    std::string authority() const;
    /// Appends authority() to out, without a temporary string; with always_port, ":port" even
    /// when it is the default (the authority-form of CONNECT).
    void append_authority(std::string& out, bool always_port = false) const;
    /// "scheme://authority" + target
    std::string to_string() const { return scheme_ + "://" + authority() + target_; }

private:
    std::string scheme_;
    std::string host_;
    std::uint16_t port_ = 0;
    std::string target_;
    bool ipv6_ = false;
};

namespace detail {

inline bool is_url_char(unsigned char c) noexcept
{
    return c > 0x20 && c < 0x7f;
}

// The bytes of a registered name or IPv4 address (RFC 3986 unreserved, and "%" of an escape).
inline constexpr auto reg_name_chars = alnum_and("-._~%");

inline bool is_reg_name_char(unsigned char c) noexcept
{
    return reg_name_chars[c];
}

// The port: 1 to 5 decimal digits, 1-65535.
inline std::optional<std::uint16_t> parse_port(std::string_view text) noexcept
{
    std::uint16_t value = 0;
    if (text.size() > 5 || parse_decimal_digits(text, value) != decimal_parse::ok || value == 0)
        return std::nullopt;
    return value;
}

// "[IPv6]" or "[IPv6]:port": the address (hex digits lower-cased) into host, the port text
// into port_text.
inline std::error_code parse_ipv6_authority(std::string_view authority, std::string& host, std::string_view& port_text)
{
    const auto close = authority.find(']');
    if (close == std::string_view::npos || close < 3)
        return error::url_bad_ipv6;
    const auto literal = authority.substr(1, close - 1);
    host.resize(literal.size());
    for (std::size_t i = 0; i < literal.size(); ++i) {
        const auto c = static_cast<unsigned char>(literal[i]);
        if (!(std::isxdigit(c) || c == ':' || c == '.'))  // (no zone identifier)
            return error::url_bad_ipv6;
        host[i] = ascii_lower(literal[i]);
    }
    std::error_code ec;
    (void)asio::ip::make_address_v6(host, ec);
    if (ec)
        return error::url_bad_ipv6;
    const auto after = authority.substr(close + 1);
    if (after.empty())
        return {};
    if (after.front() != ':')
        return error::url_bad_ipv6;
    port_text = after.substr(1);
    return port_text.empty() ? error::url_bad_port : std::error_code{};
}

// "host" or "host:port": the registered name or IPv4 address (lower-cased) into host, the
// port text into port_text.
inline std::error_code parse_name_authority(std::string_view authority, std::string& host, std::string_view& port_text)
{
    const auto colon = authority.find(':');
    const auto name = authority.substr(0, colon);
    if (name.empty())
        return error::url_no_host;
    host.resize(name.size());
    for (std::size_t i = 0; i < name.size(); ++i) {
        if (!is_reg_name_char(static_cast<unsigned char>(name[i])))
            return error::url_bad_host;
        host[i] = ascii_lower(name[i]);
    }
    if (colon == std::string_view::npos)
        return {};
    port_text = authority.substr(colon + 1);
    return port_text.empty() ? error::url_bad_port : std::error_code{};
}

} // namespace detail

inline std::optional<url> url::parse(std::string_view text, std::error_code& ec)
{
    const auto fail = [&ec](std::error_code why) {
        ec = why;
        return std::nullopt;
    };
    for (unsigned char c : text)
        if (!detail::is_url_char(c))
            return fail(error::url_bad_character);

    const auto scheme_end = text.find("://");
    if (scheme_end == std::string_view::npos || scheme_end == 0)
        return fail(error::url_relative);
    std::optional<url> parsed(std::in_place);  // (filled in place and returned as is)
    url& u = *parsed;
    for (char c : text.substr(0, scheme_end))
        u.scheme_ += detail::ascii_lower(c);
    if (u.scheme_ != "http" && u.scheme_ != "https")
        return fail(error::unsupported_scheme);

    auto rest = text.substr(scheme_end + 3);
    const auto authority_end = rest.find_first_of("/?#");
    const auto authority = rest.substr(0, authority_end);
    rest = authority_end == std::string_view::npos ? std::string_view{} : rest.substr(authority_end);
    if (authority.empty())
        return fail(error::url_no_host);
    if (authority.find('@') != std::string_view::npos)
        return fail(error::url_userinfo);

    std::string_view port_text;
    u.ipv6_ = authority.front() == '[';
    if (const auto bad = u.ipv6_ ? detail::parse_ipv6_authority(authority, u.host_, port_text)
                                 : detail::parse_name_authority(authority, u.host_, port_text))
        return fail(bad);
    if (port_text.empty()) {
        u.port_ = u.is_https() ? 443 : 80;
    } else if (const auto port = detail::parse_port(port_text)) {
        u.port_ = *port;
    } else {
        return fail(error::url_bad_port);
    }

    rest = rest.substr(0, rest.find('#'));
    if (rest.empty())
        u.target_ = "/";
    else if (rest.front() == '?')
        u.target_ = "/" + std::string(rest);
    else
        u.target_ = std::string(rest);

    ec = {};
    return parsed;
}

inline url url::parse(std::string_view text)
{
    std::error_code ec;
    auto u = parse(text, ec);
    if (!u)
        throw std::system_error(ec, std::string(text));
    return std::move(*u);
}

inline void url::append_authority(std::string& out, bool always_port) const
{
    if (ipv6_)
        out.append("[").append(host_).append("]");
    else
        out.append(host_);
    if (always_port || !has_default_port()) {
        char port[8] = {':'};
        const auto end = std::to_chars(port + 1, port + sizeof port, port_).ptr;
        out.append(port, static_cast<std::size_t>(end - port));
    }
}

inline std::string url::authority() const
{
    std::string out;
    append_authority(out);
    return out;
}

} // namespace leash
