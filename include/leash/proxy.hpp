/// \file
/// leash/proxy.hpp - proxy settings: which HTTP proxy requests go through, and which hosts are
/// reached directly.
///
/// A proxy URL is "http://[user[:password]@]host[:port][/]": the host a registered name, an
/// IPv4 address or a bracketed IPv6 address; the port 1-65535, 80 when absent. The user name
/// and password are percent-decoded: write '/', '?', '#' and '%' in them as %2F, %3F, %23 and
/// %25 ('@', and ':' in the password, may stay as they are: the last '@' ends the credentials
/// and the first ':' ends the user name). A user name with ':' (Basic authentication cannot
/// carry one) or credentials with a control character are refused. Text without "scheme://" is
/// taken as http:// ("proxy.internal:3128"), as curl and Go take it. Other schemes (https://,
/// socks4://, socks5://) are refused: leash speaks plain HTTP/1.1 to the proxy. A path other
/// than "/", a query or a fragment is refused too.
///
/// Credentials in a proxy URL are never part of an error message, of what() of an exception,
/// or of proxy_server::to_string().
///
/// The environment is read only when proxy_options_from_environment is called: a transport uses
/// the proxy_options it is given and nothing else.
#pragma once

#include <leash/basic_auth.hpp>
#include <leash/error.hpp>
#include <leash/headers.hpp>
#include <leash/url.hpp>

#include <cstdint>
#include <cstdlib>
#include <functional>
#include <initializer_list>
#include <optional>
#include <string>
#include <string_view>
#include <system_error>

namespace leash {

/// Which HTTP proxy requests go through, and which hosts are reached directly.
///
/// The members' {} let a designated initializer name some of them without -Wextra warning.
///
/// \errors
/// A proxy URL that does not parse makes the transport's constructor throw std::system_error
/// with the proxy_* code that says why (see proxy_server::parse).
struct proxy_options {
    /// The proxy for http:// targets, as a proxy URL; empty = connect directly.
    std::string http{};
    /// The proxy for https:// targets (reached through a CONNECT tunnel); empty = directly.
    /// For one proxy for both, set both: {.http = p, .https = p}.
    std::string https{};
    /// Hosts reached directly even when a proxy is set (the NO_PROXY list): entries separated
    /// by commas, white space around them ignored, empty ones skipped. An entry is
    ///   - "*": every host;
    ///   - a host name, with or without a leading "." (or "*."): that name and every name below
    ///     it on a label boundary, ignoring case ("example.com" matches example.com and
    ///     a.example.com, not badexample.com); a trailing "." of the entry or the host is
    ///     ignored. It never matches a host written as an IP address;
    ///   - an IP address, IPv6 with or without brackets ("10.1.2.3", "::1", "[::1]"), or a
    ///     CIDR range ("10.0.0.0/8", "fd00::/8", "[fd00::]/8"): a target whose host is written
    ///     as that address or as one in the range (host names are never resolved to match);
    ///   - any of these but "*" followed by ":port" ("example.com:8080", "[::1]:8080",
    ///     "10.0.0.0/8:443"): the same, for that port only (the target's port, its scheme's
    ///     default when the URL has none).
    ///
    /// An entry that is none of these is ignored, as curl and Go ignore it. Nothing else goes
    /// direct: localhost and loopback addresses use the proxy unless listed here.
    std::string no_proxy{};
};

/// Returns an environment variable's value, or nullopt when it is not set.
using environment_lookup = std::function<std::optional<std::string>(const char* name)>;

/// The proxy settings in the environment, read in curl's order (lower case first):
///   - http     = http_proxy, else HTTP_PROXY, else all_proxy, else ALL_PROXY; HTTP_PROXY is
///                skipped when REQUEST_METHOD is set, because in a CGI program a request's
///                "Proxy:" header arrives as HTTP_PROXY (the "httpoxy" attack);
///   - https    = https_proxy, else HTTPS_PROXY, else all_proxy, else ALL_PROXY;
///   - no_proxy = no_proxy, else NO_PROXY.
///
/// A variable set to the empty string counts as unset. Values are copied as they are and
/// checked when the options are used.
///
/// \threadsafety
/// Reads the process environment with std::getenv: not safe while another thread changes the
/// environment (setenv, putenv).
proxy_options proxy_options_from_environment();
/// The same rules over the variables that `lookup` returns; it is called at most once per
/// variable.
proxy_options proxy_options_from_environment(const environment_lookup& lookup);

/// An HTTP proxy, parsed from a proxy URL.
///
/// \threadsafety
/// A plain value: copy it freely; concurrent reads are safe.
///
/// \errors
/// parse() reports the proxy_* code that says why a proxy URL is invalid; each compares equal
/// to error::invalid_proxy. The credentials are never part of an error message.
class proxy_server {
public:
    /// Parses a proxy URL; on failure sets ec to the proxy_* code that says why (see error.hpp),
    /// which compares equal to error::invalid_proxy.
    static std::optional<proxy_server> parse(std::string_view text, std::error_code& ec);
    /// Parses a proxy URL; throws std::system_error with the code on failure. Its what() does
    /// not hold the text, which may hold a password.
    static proxy_server parse(std::string_view text);

    const std::string& host() const noexcept { return host_; }  ///< lower case; IPv6 without brackets
    std::uint16_t port() const noexcept { return port_; }       ///< 80 when the URL has none
    /// True if the host is an IPv6 address (written in brackets in the URL).
    bool is_ipv6_literal() const noexcept { return ipv6_; }
    const std::string& username() const noexcept { return username_; }  ///< percent-decoded
    const std::string& password() const noexcept { return password_; }  ///< percent-decoded
    /// True if the URL has a user name or a password.
    bool has_credentials() const noexcept { return !username_.empty() || !password_.empty(); }

    /// The Proxy-Authorization value for the credentials: "Basic " and base64 of
    /// "user:password" (RFC 7617); "" when the URL has none.
    std::string basic_authorization() const;
    /// "host:port", IPv6 in brackets, the port always written.
    std::string authority() const;
    /// "http://host:port": without the credentials, so it can be logged.
    std::string to_string() const { return "http://" + authority(); }

    /// Equal host, port and credentials.
    friend bool operator==(const proxy_server&, const proxy_server&) = default;

private:
    std::string host_;
    std::uint16_t port_ = 80;
    bool ipv6_ = false;
    std::string username_;
    std::string password_;
};

namespace detail {

inline int hex_digit_value(char c) noexcept
{
    if (c >= '0' && c <= '9')
        return c - '0';
    const char lower = ascii_lower(c);
    return lower >= 'a' && lower <= 'f' ? lower - 'a' + 10 : -1;
}

// Percent-decodes text into out. False on a "%" without two hex digits after it, or on a
// decoded control character (RFC 7617 allows none in a user name or password).
inline bool percent_decode_credential(std::string_view text, std::string& out)
{
    out.clear();
    for (std::size_t i = 0; i < text.size(); ++i) {
        char c = text[i];
        if (c == '%') {
            if (text.size() - i < 3)
                return false;
            const int high = hex_digit_value(text[i + 1]);
            const int low = hex_digit_value(text[i + 2]);
            if (high < 0 || low < 0)
                return false;
            c = static_cast<char>(high * 16 + low);
            i += 2;
        }
        if (is_credential_control(static_cast<unsigned char>(c)))
            return false;
        out += c;
    }
    return true;
}

// "user[:password]" into user and password, percent-decoded.
inline std::error_code parse_proxy_userinfo(std::string_view userinfo, std::string& user, std::string& password)
{
    const auto colon = userinfo.find(':');
    const auto password_text = colon == std::string_view::npos ? std::string_view{} : userinfo.substr(colon + 1);
    if (!percent_decode_credential(userinfo.substr(0, colon), user)
        || !percent_decode_credential(password_text, password) || user.find(':') != std::string::npos)
        return error::proxy_bad_userinfo;
    return {};
}

// A url_* code of the host parsers as the proxy_* code for the same fault.
inline std::error_code as_proxy_error(std::error_code url_error) noexcept
{
    if (url_error == error::url_no_host)
        return error::proxy_no_host;
    if (url_error == error::url_bad_port)
        return error::proxy_bad_port;
    return error::proxy_bad_host;
}

} // namespace detail

inline std::optional<proxy_server> proxy_server::parse(std::string_view text, std::error_code& ec)
{
    const auto fail = [&ec](std::error_code why) {
        ec = why;
        return std::nullopt;
    };
    for (unsigned char c : text)
        if (!detail::is_url_char(c))
            return fail(error::proxy_bad_character);
    if (const auto scheme_end = text.find("://"); scheme_end != std::string_view::npos) {
        if (!detail::iequals(text.substr(0, scheme_end), "http"))
            return fail(error::proxy_unsupported_scheme);
        text.remove_prefix(scheme_end + 3);
    }
    const auto authority_end = text.find_first_of("/?#");
    if (authority_end != std::string_view::npos && text.substr(authority_end) != "/")
        return fail(error::proxy_path);
    auto authority = text.substr(0, authority_end);

    std::optional<proxy_server> parsed(std::in_place);
    proxy_server& p = *parsed;
    if (const auto at = authority.rfind('@'); at != std::string_view::npos) {
        if (const auto bad = detail::parse_proxy_userinfo(authority.substr(0, at), p.username_, p.password_))
            return fail(bad);
        authority.remove_prefix(at + 1);
    }
    if (authority.empty())
        return fail(error::proxy_no_host);
    std::string_view port_text;
    p.ipv6_ = authority.front() == '[';
    if (const auto bad = p.ipv6_ ? detail::parse_ipv6_authority(authority, p.host_, port_text)
                                 : detail::parse_name_authority(authority, p.host_, port_text))
        return fail(detail::as_proxy_error(bad));
    if (!port_text.empty()) {
        const auto port = detail::parse_port(port_text);
        if (!port)
            return fail(error::proxy_bad_port);
        p.port_ = *port;
    }
    ec = {};
    return parsed;
}

inline proxy_server proxy_server::parse(std::string_view text)
{
    std::error_code ec;
    auto p = parse(text, ec);
    if (!p)
        throw std::system_error(ec, "proxy URL");
    return std::move(*p);
}

inline std::string proxy_server::basic_authorization() const
{
    if (!has_credentials())
        return {};
    return detail::basic_credentials(username_, password_);  // (parse() refused what basic_auth refuses)
}

inline std::string proxy_server::authority() const
{
    std::string out = ipv6_ ? '[' + host_ + ']' : host_;
    out += ':';
    out += std::to_string(port_);
    return out;
}

namespace detail {

// The value of the first of `names` that is set and not empty, or "".
inline std::string first_set(const environment_lookup& lookup, std::initializer_list<const char*> names)
{
    for (const char* name : names)
        if (auto value = lookup(name); value && !value->empty())
            return std::move(*value);
    return {};
}

} // namespace detail

inline proxy_options proxy_options_from_environment(const environment_lookup& lookup)
{
    const bool cgi = !detail::first_set(lookup, {"REQUEST_METHOD"}).empty();
    proxy_options options;
    options.http = cgi ? detail::first_set(lookup, {"http_proxy"})
                       : detail::first_set(lookup, {"http_proxy", "HTTP_PROXY"});
    options.https = detail::first_set(lookup, {"https_proxy", "HTTPS_PROXY"});
    if (options.http.empty() || options.https.empty()) {
        const auto all = detail::first_set(lookup, {"all_proxy", "ALL_PROXY"});
        if (options.http.empty())
            options.http = all;
        if (options.https.empty())
            options.https = all;
    }
    options.no_proxy = detail::first_set(lookup, {"no_proxy", "NO_PROXY"});
    return options;
}

inline proxy_options proxy_options_from_environment()
{
    return proxy_options_from_environment([](const char* name) -> std::optional<std::string> {
        const char* value = std::getenv(name);
        if (value == nullptr)
            return std::nullopt;
        return std::string(value);
    });
}

} // namespace leash
