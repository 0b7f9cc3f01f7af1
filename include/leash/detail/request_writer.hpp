// Serialises a request head, without I/O. Validation happens before (validate_request).
#pragma once

#include <leash/detail/decimal.hpp>
#include <leash/error.hpp>
#include <leash/proxy.hpp>
#include <leash/request.hpp>
#include <leash/url.hpp>

#include <string>
#include <system_error>

namespace leash::detail {

// Checks what the transport is about to send: method token, every header field. (headers
// refuses bad input on insertion; this also covers fields appended unchecked.)
inline std::error_code validate_request(const request& req)
{
    if (!is_token(req.method))
        return error::invalid_method;
    if (req.source && (!req.body.empty() || !req.source->read))
        return error::invalid_request_body;
    for (auto& f : req.headers) {
        if (!is_token(f.name))
            return error::invalid_header_name;
        if (!is_field_value(f.value))
            return error::invalid_header_value;
    }
    return {};
}

inline bool method_expects_body(std::string_view m) noexcept
{
    return m == "POST" || m == "PUT" || m == "PATCH";
}

// Writes "METHOD target HTTP/1.1" and the fields into `out` (replacing its contents, keeping
// its capacity). Adds Host and User-Agent unless present. Content-Length is always computed
// from the body, or from the body source's length; a source of unknown length is sent
// chunked (a caller's Content-Length or Transfer-Encoding is replaced). Through an HTTP proxy
// (`via`, for an http:// URL), the target is in absolute form ("GET http://host/path") and
// Proxy-Authorization is added when the proxy URL has credentials and the request has none.
// A non-empty `accept_encoding` is sent as Accept-Encoding (the transport's decoding).
inline void write_request_head(std::string& out, const request& req, const url& u, std::string_view user_agent,
                               const proxy_server* via = nullptr, std::string_view accept_encoding = {})
{
    out.clear();
    out.append(req.method).append(" ");
    if (via) {
        out.append(u.scheme()).append("://");
        u.append_authority(out);
    }
    out.append(u.target()).append(" HTTP/1.1\r\n");
    if (via && via->has_credentials() && !req.headers.contains("Proxy-Authorization"))
        out.append("Proxy-Authorization: ").append(via->basic_authorization()).append("\r\n");
    if (!req.headers.contains("Host")) {
        out.append("Host: ");
        u.append_authority(out);
        out.append("\r\n");
    }
    if (!user_agent.empty() && !req.headers.contains("User-Agent"))
        out.append("User-Agent: ").append(user_agent).append("\r\n");
    if (!accept_encoding.empty())
        out.append("Accept-Encoding: ").append(accept_encoding).append("\r\n");
    for (auto& f : req.headers) {
        if (iequals(f.name, "Content-Length") || iequals(f.name, "Transfer-Encoding"))
            continue;
        out.append(f.name).append(": ").append(f.value).append("\r\n");
    }
    if (req.source && !req.source->length)
        out.append("Transfer-Encoding: chunked\r\n");
    else if (req.source)
        out.append("Content-Length: ").append(std::to_string(*req.source->length)).append("\r\n");
    else if (!req.body.empty() || method_expects_body(req.method))
        out.append("Content-Length: ").append(std::to_string(req.body.size())).append("\r\n");
    out.append("\r\n");
}

// The timeout a server announced with "Keep-Alive: timeout=N", in seconds, if any.
inline std::optional<long> keep_alive_timeout_hint(const headers& h)
{
    auto v = h.get("Keep-Alive");
    if (!v)
        return std::nullopt;
    std::optional<std::string_view> first;  // the first "timeout=" element's value decides
    for_each_list_element(*v, [&first](std::string_view item) {
        const auto eq = item.find('=');
        if (!first && eq != std::string_view::npos && iequals(trim_ows(item.substr(0, eq)), "timeout"))
            first = trim_ows(item.substr(eq + 1));
    });
    long value = 0;
    if (!first || first->size() > 9 || parse_decimal_digits(*first, value) != decimal_parse::ok)
        return std::nullopt;
    return value;
}

} // namespace leash::detail
