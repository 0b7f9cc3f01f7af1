// Opens a connection: resolve the host (or take its address as it is, or the transport's
// resolve_overrides), connect to each address in turn under its own connect timeout, then the
// TLS handshake for https. Through a proxy: the proxy's host is resolved and connected to,
// and for https a CONNECT tunnel to the target is opened first (under the connect timeout
// again), then the TLS handshake with the target runs through it. Free operations on a
// connection the caller holds, run on the caller's strand; they report what happened
// (dial_outcome) and leave counting to the caller.
#pragma once

#include <leash/detail/config.hpp>
#include <leash/detail/connection.hpp>
#include <leash/detail/exchange.hpp>
#include <leash/detail/proxy_tunnel.hpp>
#include <leash/detail/tls_client.hpp>
#include <leash/detail/tracer.hpp>
#include <leash/tls_error.hpp>
#include <leash/url.hpp>

#include <asio.hpp>
#include <asio/ssl.hpp>

#include <map>
#include <string>
#include <vector>

namespace leash::detail {

using resolve_override_map = std::map<std::string, std::vector<asio::ip::address>, std::less<>>;

// What dialing needs besides the connection and the URL.
struct dial_plan {
    const resolve_override_map& overrides;
    tls_client& tls;
    const phase_limits& limits;
    const request_trace& trace;
    const proxy_server* proxy = nullptr;  // the proxy to go through, or none
    std::string_view user_agent = {};     // for CONNECT
    parser_limits head_limits = {};       // for the proxy's answer to CONNECT
};

struct dial_outcome {
    std::error_code ec;
    bool tls_handshake = false;  // a TLS handshake completed
    bool tls_resumed = false;    // ... resuming a cached session
};

// The addresses to try for host and port: the host's literal address, its override, or what
// DNS says (under c's timer).
LEASH_DECL asio::awaitable<std::error_code> find_endpoints(connection& c, const std::string& host, std::uint16_t port,
                                                           const dial_plan& plan,
                                                           std::vector<asio::ip::tcp::endpoint>& endpoints);

// Connects to the first address that answers; each gets its own connect_timeout, and a failure
// or timeout moves on to the next.
LEASH_DECL asio::awaitable<std::error_code> connect_any(connection& c, const std::vector<asio::ip::tcp::endpoint>& endpoints,
                                                        const dial_plan& plan);

// The TLS handshake over the connected socket: verifies the peer for u's host, sends SNI,
// resumes a cached session when it can.
LEASH_DECL asio::awaitable<dial_outcome> handshake(connection& c, const url& u, const dial_plan& plan);

// The proxy's answer to CONNECT, as the tunnel's verdict: a parse error or an end before a
// whole head is error::proxy_bad_response (OS errors stay as they are), and so is any byte
// after a 2xx head (the server speaks first only after the TLS ClientHello).
LEASH_DECL std::error_code tunnel_answer(const connection& c, std::error_code read_error);

// Opens a tunnel through the proxy to u's host and port over the connected socket: writes
// CONNECT and reads the proxy's answer head (as strictly as any response head; no body is
// read: a 2xx has none, and after any other answer the connection is closed), all under the
// connect timeout (error::proxy_connect_timeout).
LEASH_DECL asio::awaitable<std::error_code> open_tunnel(connection& c, const url& u, const proxy_server& proxy,
                                                        const dial_plan& plan);

// Resolves, connects, opens a tunnel through a proxy for https, and (for https) handshakes.
// On failure the connection's stream is closed.
LEASH_DECL asio::awaitable<dial_outcome> dial(connection& c, const url& u, const dial_plan& plan);

} // namespace leash::detail

#if defined(LEASH_HEADER_ONLY)
#include <leash/detail/impl/dialer.ipp>
#endif
