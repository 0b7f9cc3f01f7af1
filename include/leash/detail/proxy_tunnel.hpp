// The requests leash sends to an HTTP proxy and what the proxy's answers mean, without I/O:
// the CONNECT request that opens a tunnel to an https origin (RFC 9110 9.3.6), and its verdict.
// (An http:// request through a proxy is an ordinary request in absolute form: see
// write_request_head.)
#pragma once

#include <leash/error.hpp>
#include <leash/proxy.hpp>
#include <leash/url.hpp>

#include <string>
#include <string_view>
#include <system_error>

namespace leash::detail {

// Writes the CONNECT request for a tunnel to `origin` through `proxy` into `out` (replacing
// its contents): "CONNECT host:port HTTP/1.1", Host with the same authority (the port always
// written, an IPv6 host in brackets), Proxy-Authorization when the proxy URL has credentials,
// and User-Agent unless empty. Nothing of the origin request goes to the proxy.
inline void write_connect_request(std::string& out, const url& origin, const proxy_server& proxy,
                                  std::string_view user_agent)
{
    std::string authority;
    origin.append_authority(authority, true);
    out.clear();
    out.append("CONNECT ").append(authority).append(" HTTP/1.1\r\nHost: ").append(authority).append("\r\n");
    if (proxy.has_credentials())
        out.append("Proxy-Authorization: ").append(proxy.basic_authorization()).append("\r\n");
    if (!user_agent.empty())
        out.append("User-Agent: ").append(user_agent).append("\r\n");
    out.append("\r\n");
}

// What the final status of a proxy's answer to CONNECT means: 2xx opens the tunnel; 407 is
// error::proxy_auth_required; anything else is the proxy's refusal, carrying the status
// (make_proxy_refusal: equal to error::proxy_connect_refused, ec.value() the status).
inline std::error_code tunnel_verdict(int status) noexcept
{
    if (status >= 200 && status <= 299)
        return {};
    if (status == 407)
        return error::proxy_auth_required;
    return make_proxy_refusal(status);
}

} // namespace leash::detail
