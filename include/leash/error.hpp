/// \file
/// leash/error.hpp - the error codes leash reports.
///
/// Every failure kind has its own code in leash::error, reported through std::error_code
/// (category "leash"). Errors from the operating system (connection refused, reset, ...) are
/// passed through as Asio reports them: compare with asio::error::connection_refused and
/// friends (Asio's system category does not compare equal to std::errc). Cancellation by
/// the caller is reported as asio::error::operation_aborted, as everywhere in Asio.
///
/// leash::condition::timeout matches every timeout code:  `if (ec == leash::condition::timeout)`
/// (the phases' and the event stream's, and the client's whole-call deadline).
///
/// An invalid URL is reported with a code that says why (error::url_bad_port, ...; its message
/// says what to change); all of them compare equal to error::invalid_url:
/// \code
/// if (ec == leash::error::invalid_url)
/// \endcode
/// An invalid proxy URL likewise: error::proxy_bad_port, ..., all equal to error::invalid_proxy.
///
/// A proxy that refuses to open a tunnel (any answer to CONNECT but 2xx and 407) is reported
/// in proxy_status_category(), whose value is the status the proxy sent; every such code
/// compares equal to error::proxy_connect_refused:
/// \code
/// if (ec == leash::error::proxy_connect_refused) log(ec.value());  // e.g. 403
/// \endcode
#pragma once

#include <string>
#include <system_error>

namespace leash {

/// The error codes leash reports, one per failure kind (category "leash", error_category()).
enum class error {
    // Invalid input, detected before any I/O.
    invalid_url = 1,          ///< the URL does not parse: reported as one of the url_* codes
                              ///< below, which say why and compare equal to invalid_url
    unsupported_scheme,       ///< a scheme other than http (https once TLS is configured)
    invalid_method,           ///< empty, or not an RFC 9110 token
    invalid_header_name,      ///< empty, or not an RFC 9110 token
    invalid_header_value,     ///< contains CR, LF, NUL or another control character
    invalid_request_body,     ///< both a body and a body source

    // The pool.
    pool_overloaded,          ///< max_pending_per_host waiters already queued for the host
    pool_wait_timeout,        ///< no connection became available within pool_wait_timeout
    shut_down,                ///< the transport was shut down
    shutdown_incomplete,      ///< async_shutdown's grace period ended; remaining work was canceled

    // Timeouts, one per phase.
    resolve_timeout,          ///< name resolution exceeded resolve_timeout
    connect_timeout,          ///< TCP connect exceeded connect_timeout
    tls_handshake_timeout,    ///< TLS handshake exceeded tls_handshake_timeout
    write_timeout,            ///< writing the request exceeded write_timeout
    response_header_timeout,  ///< response headers did not complete within response_header_timeout
    body_read_timeout,        ///< no body byte arrived within body_read_timeout
    request_timeout,          ///< the whole request exceeded its total deadline

    // The peer and the protocol.
    closed_before_response,   ///< the server closed the connection before any response byte
    unexpected_eof,           ///< the connection ended inside the response head or body
    malformed_response,       ///< the response violates HTTP/1.1 syntax
    invalid_content_length,   ///< bad or conflicting Content-Length
    invalid_transfer_encoding,///< bad Transfer-Encoding, or Transfer-Encoding with Content-Length
    invalid_chunk,            ///< bad chunk size or chunk framing
    headers_too_large,        ///< the response head exceeded max_response_header_bytes
    too_many_headers,         ///< the response head exceeded max_response_headers
    upgrade_not_supported,    ///< 101 Switching Protocols

    // The body handle.
    body_too_large,           ///< read_all: the body exceeded the given limit
    body_closed,              ///< read on a body that was closed or moved from

    // Request bodies.
    body_length_mismatch,     ///< a body source produced more or fewer bytes than its length

    // Server-sent events.
    sse_event_too_large,      ///< an event (or line) exceeded the decoder's size bound

    // Leash itself.
    internal_error,           ///< an unexpected exception inside an operation ended it (a defect in
                              ///< leash); reported as this code, never thrown to the caller's run()
    // Why a URL is invalid: each of these compares equal to invalid_url (see operator== below),
    // and its message says what to change.
    url_relative,             ///< no "scheme://": a relative URL, or no scheme
    url_bad_character,        ///< a space, control character or byte >= 0x80
    url_userinfo,             ///< user information ("user@") before the host
    url_no_host,              ///< nothing between "://" and the port or path
    url_bad_host,             ///< a character that a host name does not have
    url_bad_port,             ///< a port that is not a decimal number from 1 to 65535
    url_bad_ipv6,             ///< a bracketed host that is not an IPv6 address

    // Why a proxy URL (leash/proxy.hpp) is invalid: each of these compares equal to
    // invalid_proxy, and its message says what to change (never what the URL was).
    invalid_proxy,            ///< the proxy URL does not parse: reported as one of the codes below
    proxy_unsupported_scheme, ///< a scheme other than http (https, socks4, socks5, ...)
    proxy_bad_character,      ///< a space, control character or byte >= 0x80
    proxy_no_host,            ///< nothing between "://" (or "@") and the port
    proxy_bad_host,           ///< a character a host name does not have, or a bad bracketed IPv6
    proxy_bad_port,           ///< a port that is not a decimal number from 1 to 65535
    proxy_path,               ///< a path other than "/", a query or a fragment
    proxy_bad_userinfo,       ///< a bad %-escape, a control character, or ':' in the user name

    // The tunnel through a proxy to an https origin (the CONNECT exchange).
    proxy_connect_timeout,    ///< the proxy did not answer CONNECT within the connect timeout
    proxy_auth_required,      ///< the proxy answered CONNECT with 407 (Proxy Authentication Required)
    proxy_connect_refused,    ///< the proxy answered CONNECT with a status other than 2xx and 407:
                              ///< reported in proxy_status_category(), whose value is the status
    proxy_bad_response,       ///< the proxy closed before its answer to CONNECT, sent something else
                              ///< than an HTTP response head, or sent bytes after a 2xx head

    // Decoding a compressed response body (Content-Encoding; see transport_options::decoding).
    decoding_failed,          ///< the body is not valid data of its coding (the connection is closed)
    decoding_truncated,       ///< the body ended before its compressed stream did
    decompression_ratio_exceeded, ///< the body inflates more than decoding_options::max_ratio allows
                              ///< (a decompression bomb; the connection is closed)

    // Redirects followed by leash::client (see redirect_policy).
    too_many_redirects,       ///< following the redirect would pass redirect_policy::max_redirects
    redirect_loop,            ///< the redirect leads to a request already sent in this chain
    insecure_redirect,        ///< a redirect from https to http, not allowed by the policy
    invalid_redirect_location,///< the Location field does not resolve to an http or https URL
    redirect_vetoed,          ///< the policy's on_redirect hook refused the hop

    // Timeouts above the body's bytes (each also a condition::timeout).
    sse_first_event_timeout,  ///< sse::reader: no event within reader_options::first_event_timeout
    sse_event_timeout,        ///< sse::reader: no event for reader_options::event_timeout (comments
                              ///< and blank keep-alive lines do not count)
    call_timeout,             ///< leash::client: the whole call (every attempt and backoff) passed
                              ///< client_options::call_timeout
};

/// Groups of codes, for comparisons such as ec == leash::condition::timeout.
enum class condition {
    timeout = 1,      ///< any of the *_timeout codes
    invalid_request,  ///< any input error detected before I/O
};

} // namespace leash

template <>
struct std::is_error_code_enum<leash::error> : std::true_type {};
template <>
struct std::is_error_condition_enum<leash::condition> : std::true_type {};

namespace leash {

/// The enumerator's name, e.g. "connect_timeout" (stable: tools print it).
inline const char* error_name(error e) noexcept
{
    switch (e) {
    case error::invalid_url: return "invalid_url";
    case error::unsupported_scheme: return "unsupported_scheme";
    case error::invalid_method: return "invalid_method";
    case error::invalid_header_name: return "invalid_header_name";
    case error::invalid_header_value: return "invalid_header_value";
    case error::invalid_request_body: return "invalid_request_body";
    case error::pool_overloaded: return "pool_overloaded";
    case error::pool_wait_timeout: return "pool_wait_timeout";
    case error::shut_down: return "shut_down";
    case error::shutdown_incomplete: return "shutdown_incomplete";
    case error::resolve_timeout: return "resolve_timeout";
    case error::connect_timeout: return "connect_timeout";
    case error::tls_handshake_timeout: return "tls_handshake_timeout";
    case error::write_timeout: return "write_timeout";
    case error::response_header_timeout: return "response_header_timeout";
    case error::body_read_timeout: return "body_read_timeout";
    case error::request_timeout: return "request_timeout";
    case error::closed_before_response: return "closed_before_response";
    case error::unexpected_eof: return "unexpected_eof";
    case error::malformed_response: return "malformed_response";
    case error::invalid_content_length: return "invalid_content_length";
    case error::invalid_transfer_encoding: return "invalid_transfer_encoding";
    case error::invalid_chunk: return "invalid_chunk";
    case error::headers_too_large: return "headers_too_large";
    case error::too_many_headers: return "too_many_headers";
    case error::upgrade_not_supported: return "upgrade_not_supported";
    case error::body_too_large: return "body_too_large";
    case error::body_closed: return "body_closed";
    case error::sse_event_too_large: return "sse_event_too_large";
    case error::body_length_mismatch: return "body_length_mismatch";
    case error::internal_error: return "internal_error";
    case error::url_relative: return "url_relative";
    case error::url_bad_character: return "url_bad_character";
    case error::url_userinfo: return "url_userinfo";
    case error::url_no_host: return "url_no_host";
    case error::url_bad_host: return "url_bad_host";
    case error::url_bad_port: return "url_bad_port";
    case error::url_bad_ipv6: return "url_bad_ipv6";
    case error::invalid_proxy: return "invalid_proxy";
    case error::proxy_unsupported_scheme: return "proxy_unsupported_scheme";
    case error::proxy_bad_character: return "proxy_bad_character";
    case error::proxy_no_host: return "proxy_no_host";
    case error::proxy_bad_host: return "proxy_bad_host";
    case error::proxy_bad_port: return "proxy_bad_port";
    case error::proxy_path: return "proxy_path";
    case error::proxy_bad_userinfo: return "proxy_bad_userinfo";
    case error::proxy_connect_timeout: return "proxy_connect_timeout";
    case error::proxy_auth_required: return "proxy_auth_required";
    case error::proxy_connect_refused: return "proxy_connect_refused";
    case error::proxy_bad_response: return "proxy_bad_response";
    case error::decoding_failed: return "decoding_failed";
    case error::decoding_truncated: return "decoding_truncated";
    case error::decompression_ratio_exceeded: return "decompression_ratio_exceeded";
    case error::too_many_redirects: return "too_many_redirects";
    case error::redirect_loop: return "redirect_loop";
    case error::insecure_redirect: return "insecure_redirect";
    case error::invalid_redirect_location: return "invalid_redirect_location";
    case error::redirect_vetoed: return "redirect_vetoed";
    case error::sse_first_event_timeout: return "sse_first_event_timeout";
    case error::sse_event_timeout: return "sse_event_timeout";
    case error::call_timeout: return "call_timeout";
    }
    return "unknown";
}

namespace detail {

inline const char* error_message(error e) noexcept
{
    switch (e) {
    case error::invalid_url: return "invalid URL";
    case error::unsupported_scheme: return "unsupported URL scheme";
    case error::invalid_method: return "invalid request method";
    case error::invalid_header_name: return "invalid header name";
    case error::invalid_header_value: return "invalid header value (CR, LF, NUL or control character)";
    case error::invalid_request_body: return "a request has either a body or a body source, not both";
    case error::pool_overloaded: return "too many requests waiting for a connection to this host";
    case error::pool_wait_timeout: return "timed out waiting for a pooled connection";
    case error::shut_down: return "the transport was shut down";
    case error::shutdown_incomplete: return "work still in flight at the shutdown deadline was canceled";
    case error::resolve_timeout: return "name resolution timed out";
    case error::connect_timeout: return "connect timed out";
    case error::tls_handshake_timeout: return "TLS handshake timed out";
    case error::write_timeout: return "writing the request timed out";
    case error::response_header_timeout: return "timed out waiting for response headers";
    case error::body_read_timeout: return "timed out waiting for response body bytes";
    case error::request_timeout: return "the request exceeded its total deadline";
    case error::closed_before_response: return "the server closed the connection before responding";
    case error::unexpected_eof: return "the connection ended in the middle of the response";
    case error::malformed_response: return "malformed HTTP response";
    case error::invalid_content_length: return "invalid or conflicting Content-Length in response";
    case error::invalid_transfer_encoding: return "invalid Transfer-Encoding in response";
    case error::invalid_chunk: return "invalid chunked encoding in response";
    case error::headers_too_large: return "response headers exceed the size limit";
    case error::too_many_headers: return "response has too many header fields";
    case error::upgrade_not_supported: return "protocol upgrade responses are not supported";
    case error::body_too_large: return "response body exceeds the limit";
    case error::body_closed: return "read on a closed response body";
    case error::sse_event_too_large: return "server-sent event exceeds the size limit";
    case error::body_length_mismatch: return "the request body source did not produce its declared length";
    case error::internal_error: return "an unexpected exception inside leash ended the operation";
    case error::url_relative:
        return "invalid URL: not absolute (no \"http://\" or \"https://\"); for a path relative to a "
               "server, use leash::client with a base URL";
    case error::url_bad_character:
        return "invalid URL: a space, control character or non-ASCII byte; percent-encode it (space: %20)";
    case error::url_userinfo:
        return "invalid URL: user information (user@host) is not accepted; send credentials in a header "
               "such as Authorization";
    case error::url_no_host: return "invalid URL: no host after \"://\"";
    case error::url_bad_host:
        return "invalid URL: the host has a character other than letters, digits, '-', '.', '_', '~' and '%'";
    case error::url_bad_port: return "invalid URL: the port is not a decimal number from 1 to 65535";
    case error::url_bad_ipv6:
        return "invalid URL: the host in brackets is not an IPv6 address (IPv6 hosts are written [2001:db8::1])";
    case error::invalid_proxy: return "invalid proxy URL";
    case error::proxy_unsupported_scheme:
        return "invalid proxy URL: only http:// proxies are supported (not https://, socks4:// or socks5://); "
               "write http://host:port";
    case error::proxy_bad_character:
        return "invalid proxy URL: a space, control character or non-ASCII byte; percent-encode it in the user "
               "name or password (space: %20)";
    case error::proxy_no_host: return "invalid proxy URL: no host; write http://host:port";
    case error::proxy_bad_host:
        return "invalid proxy URL: the host has a character other than letters, digits, '-', '.', '_', '~' and "
               "'%', or is in brackets and not an IPv6 address (write [2001:db8::1])";
    case error::proxy_bad_port: return "invalid proxy URL: the port is not a decimal number from 1 to 65535";
    case error::proxy_path:
        return "invalid proxy URL: a path, query or fragment after the host; write http://host:port (a '/' in "
               "the user name or password is written %2F)";
    case error::proxy_bad_userinfo:
        return "invalid proxy URL: the user name or password has a malformed %-escape (write '%' as %25) or a "
               "control character, or the user name has a ':' (Basic authentication cannot carry one)";
    case error::proxy_connect_timeout: return "the proxy did not answer CONNECT in time";
    case error::proxy_auth_required:
        return "the proxy wants credentials (407): give them in the proxy URL, http://user:password@host:port";
    case error::proxy_connect_refused: return "the proxy refused to open a tunnel to the server";
    case error::proxy_bad_response: return "the proxy did not answer CONNECT with a valid HTTP response";
    case error::decoding_failed: return "the response body is not valid data of its Content-Encoding";
    case error::decoding_truncated: return "the response body ended before its compressed data did";
    case error::decompression_ratio_exceeded:
        return "the response body decompresses to more than decoding_options::max_ratio times its size";
    case error::too_many_redirects: return "too many redirects (redirect_policy::max_redirects)";
    case error::redirect_loop: return "the redirect leads back to a request already sent";
    case error::insecure_redirect: return "a redirect from https to http was refused";
    case error::invalid_redirect_location: return "the redirect's Location is not a valid http or https URL";
    case error::redirect_vetoed: return "the redirect was refused by redirect_policy::on_redirect";
    case error::sse_first_event_timeout: return "timed out waiting for the first server-sent event";
    case error::sse_event_timeout:
        return "timed out waiting for the next server-sent event (comments and keep-alive lines do not count)";
    case error::call_timeout: return "the call, retries included, exceeded its deadline";
    }
    return "unknown leash error";
}

class error_category_impl final : public std::error_category {
public:
    const char* name() const noexcept override { return "leash"; }
    std::string message(int ev) const override { return error_message(static_cast<error>(ev)); }
};

class proxy_status_category_impl final : public std::error_category {
public:
    const char* name() const noexcept override { return "leash.proxy_status"; }
    std::string message(int status) const override
    {
        return "the proxy refused to open a tunnel to the server: it answered CONNECT with status "
            + std::to_string(status);
    }
};

class condition_category_impl final : public std::error_category {
public:
    const char* name() const noexcept override { return "leash.condition"; }
    std::string message(int ev) const override
    {
        return static_cast<condition>(ev) == condition::timeout ? "timeout" : "invalid request";
    }
    bool equivalent(const std::error_code& code, int cond) const noexcept override;
};

} // namespace detail

/// The category "leash" of the codes of leash::error.
inline const std::error_category& error_category() noexcept
{
    static const detail::error_category_impl instance;
    return instance;
}

/// The category "leash.condition" of the groups of leash::condition.
inline const std::error_category& condition_category() noexcept
{
    static const detail::condition_category_impl instance;
    return instance;
}

/// The category of a proxy's refusal to open a tunnel: the value is the status it answered
/// CONNECT with.
inline const std::error_category& proxy_status_category() noexcept
{
    static const detail::proxy_status_category_impl instance;
    return instance;
}

/// The code of a proxy that answered CONNECT with `status`; equal to error::proxy_connect_refused.
inline std::error_code make_proxy_refusal(int status) noexcept
{
    return {status, proxy_status_category()};
}

/// The code of `e` in error_category(), so that a leash::error converts to std::error_code.
inline std::error_code make_error_code(error e) noexcept
{
    return {static_cast<int>(e), error_category()};
}

/// The condition `c` in condition_category(), so that `ec == c` compares a code with a group.
inline std::error_condition make_error_condition(condition c) noexcept
{
    return {static_cast<int>(c), condition_category()};
}

/// True for error::invalid_url and the url_* codes that say why a URL is invalid.
inline bool is_url_error(error e) noexcept
{
    return e == error::invalid_url || (e >= error::url_relative && e <= error::url_bad_ipv6);
}

/// True for error::invalid_proxy and the proxy_* codes that say why a proxy URL is invalid.
inline bool is_proxy_error(error e) noexcept
{
    return e >= error::invalid_proxy && e <= error::proxy_bad_userinfo;
}

/// ec is leash's code e; when e is error::invalid_url, also any url_* code, so that
/// `ec == leash::error::invalid_url` holds for every invalid URL whatever the reason, and
/// likewise error::invalid_proxy for the proxy_* codes, and error::proxy_connect_refused for
/// every code of proxy_status_category(). (An error_condition cannot do this: comparing an
/// error_code with an error code enum compares category and value exactly.)
inline bool operator==(const std::error_code& ec, error e) noexcept
{
    if (ec.category() == proxy_status_category())
        return e == error::proxy_connect_refused;
    if (ec.category() != error_category())
        return false;
    const auto mine = static_cast<error>(ec.value());
    return mine == e || (e == error::invalid_url && is_url_error(mine))
        || (e == error::invalid_proxy && is_proxy_error(mine));
}

inline bool detail::condition_category_impl::equivalent(const std::error_code& code,
                                                        int cond) const noexcept
{
    if (code.category() != leash::error_category())
        return false;
    const auto e = static_cast<error>(code.value());
    switch (static_cast<condition>(cond)) {
    case condition::timeout:
        return (e >= error::resolve_timeout && e <= error::request_timeout) || e == error::pool_wait_timeout
            || e == error::proxy_connect_timeout || (e >= error::sse_first_event_timeout && e <= error::call_timeout);
    case condition::invalid_request:
        return (e >= error::invalid_url && e <= error::invalid_request_body) || is_url_error(e)
            || is_proxy_error(e);
    }
    return false;
}

} // namespace leash

