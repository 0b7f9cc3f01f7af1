// leash/url.hpp - absolute http(s) URLs, parsed and validated.
//
// url::parse accepts "scheme://host[:port][/path][?query][#fragment]" with scheme http or
// https (case-insensitive), a registered name, IPv4 or bracketed IPv6 host, and a decimal
// port 1-65535. User information ("user@") is rejected, as are spaces, control characters
// and bytes >= 0x80 anywhere (percent-encode them). The fragment is dropped; the target
// (path and query) defaults to "/". A url is a plain value: copy it freely.
#pragma once

#include <leash/error.hpp>

#include <arpa/inet.h>

#include <cctype>
#include <charconv>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <system_error>

namespace leash {

class url {
public:
    // Parses text; on failure sets ec (error::invalid_url or error::unsupported_scheme).
    static std::optional<url> parse(std::string_view text, std::error_code& ec);
    // Parses text; throws std::system_error on failure.
    static url parse(std::string_view text);

    const std::string& scheme() const noexcept { return scheme_; }  // "http" or "https"
    const std::string& host() const noexcept { return host_; }      // IPv6 without brackets
    std::uint16_t port() const noexcept { return port_; }           // default port filled in
    const std::string& target() const noexcept { return target_; }  // "/path?query"
    bool is_ipv6_literal() const noexcept { return ipv6_; }
    bool is_https() const noexcept { return scheme_ == "https"; }
    bool has_default_port() const noexcept { return port_ == (is_https() ? 443 : 80); }

    // The Host header value: host, bracketed if IPv6, with ":port" unless it is the default.
    std::string authority() const;
    // Appends authority() to out, without a temporary string.
    void append_authority(std::string& out) const;
    // "scheme://authority" + target
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

inline bool is_reg_name_char(unsigned char c) noexcept
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-'
        || c == '.' || c == '_' || c == '~' || c == '%';
}

inline char ascii_lower(char c) noexcept
{
    return (c >= 'A' && c <= 'Z') ? static_cast<char>(c - 'A' + 'a') : c;
}

} // namespace detail

inline std::optional<url> url::parse(std::string_view text, std::error_code& ec)
{
    ec = error::invalid_url;
    for (unsigned char c : text)
        if (!detail::is_url_char(c))
            return std::nullopt;

    const auto scheme_end = text.find("://");
    if (scheme_end == std::string_view::npos || scheme_end == 0)
        return std::nullopt;
    url u;
    for (char c : text.substr(0, scheme_end))
        u.scheme_ += detail::ascii_lower(c);
    if (u.scheme_ != "http" && u.scheme_ != "https") {
        ec = error::unsupported_scheme;
        return std::nullopt;
    }

    auto rest = text.substr(scheme_end + 3);
    const auto authority_end = rest.find_first_of("/?#");
    auto authority = rest.substr(0, authority_end);
    rest = authority_end == std::string_view::npos ? std::string_view{} : rest.substr(authority_end);
    if (authority.empty() || authority.find('@') != std::string_view::npos)
        return std::nullopt;

    std::string_view port_text;
    if (authority.front() == '[') {
        const auto close = authority.find(']');
        if (close == std::string_view::npos || close < 3)
            return std::nullopt;
        const auto literal = authority.substr(1, close - 1);
        for (unsigned char c : literal)
            if (!(std::isxdigit(c) || c == ':' || c == '.'))
                return std::nullopt;
        u.host_.resize(literal.size());
        for (std::size_t i = 0; i < literal.size(); ++i)
            u.host_[i] = detail::ascii_lower(literal[i]);
        in6_addr address;
        if (inet_pton(AF_INET6, u.host_.c_str(), &address) != 1)
            return std::nullopt;
        u.ipv6_ = true;
        const auto after = authority.substr(close + 1);
        if (!after.empty()) {
            if (after.front() != ':')
                return std::nullopt;
            port_text = after.substr(1);
            if (port_text.empty())
                return std::nullopt;
        }
    } else {
        const auto colon = authority.find(':');
        const auto host = authority.substr(0, colon);
        if (host.empty())
            return std::nullopt;
        u.host_.resize(host.size());
        for (std::size_t i = 0; i < host.size(); ++i) {
            if (!detail::is_reg_name_char(static_cast<unsigned char>(host[i])))
                return std::nullopt;
            u.host_[i] = detail::ascii_lower(host[i]);
        }
        if (colon != std::string_view::npos) {
            port_text = authority.substr(colon + 1);
            if (port_text.empty())
                return std::nullopt;
        }
    }

    if (port_text.empty()) {
        u.port_ = u.is_https() ? 443 : 80;
    } else {
        if (port_text.size() > 5)
            return std::nullopt;
        unsigned value = 0;
        for (char c : port_text) {
            if (c < '0' || c > '9')
                return std::nullopt;
            value = value * 10 + static_cast<unsigned>(c - '0');
        }
        if (value == 0 || value > 65535)
            return std::nullopt;
        u.port_ = static_cast<std::uint16_t>(value);
    }

    const auto fragment = rest.find('#');
    rest = rest.substr(0, fragment);
    if (rest.empty())
        u.target_ = "/";
    else if (rest.front() == '?')
        u.target_ = "/" + std::string(rest);
    else
        u.target_ = std::string(rest);

    ec = {};
    return u;
}

inline url url::parse(std::string_view text)
{
    std::error_code ec;
    auto u = parse(text, ec);
    if (!u)
        throw std::system_error(ec, std::string(text));
    return std::move(*u);
}

inline void url::append_authority(std::string& out) const
{
    if (ipv6_)
        out.append("[").append(host_).append("]");
    else
        out.append(host_);
    if (!has_default_port()) {
        char digits[8];
        const auto end = std::to_chars(digits, digits + sizeof digits, port_).ptr;
        out.append(":").append(digits, static_cast<std::size_t>(end - digits));
    }
}

inline std::string url::authority() const
{
    std::string out;
    append_authority(out);
    return out;
}

} // namespace leash
