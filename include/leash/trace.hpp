/// \file
/// leash/trace.hpp - hooks that watch requests and connections as they happen.
#pragma once

#include <leash/retry_policy.hpp>
#include <leash/stats.hpp>

#include <asio/ip/address.hpp>
#include <asio/ip/tcp.hpp>

#include <chrono>
#include <cstdint>
#include <functional>
#include <string_view>
#include <system_error>
#include <vector>

namespace leash {

/// The request an event belongs to.
struct trace_request {
    std::string_view method;  ///< the request's method
    std::string_view host;    ///< the pool's key: "https://api.example.com:443"
    std::string_view target;  ///< path and query: "/v1/chat/completions"
};

/// A request asks the pool for a connection (trace_hooks::get_conn).
struct get_conn_event {
    trace_request request;  ///< the request
    bool queued = false;  ///< every connection to the host is busy: the request waits its turn
};

/// A request got its connection, idle or new (trace_hooks::got_conn).
struct got_conn_event {
    trace_request request;  ///< the request
    std::uint64_t connection_id = 0;  ///< unique within the transport
    bool reused = false;              ///< it carried requests before
    std::chrono::nanoseconds idle_time{0};  ///< how long it sat idle in the pool (reused only)
    std::chrono::nanoseconds wait_time{0};  ///< since get_conn, including any dial
};

/// Name resolution begins (trace_hooks::dns_start).
struct dns_start_event {
    trace_request request;  ///< the request
    std::string_view name;  ///< the host name resolved
};

/// Name resolution ended (trace_hooks::dns_done).
struct dns_done_event {
    trace_request request;                     ///< the request
    std::vector<asio::ip::address> addresses;  ///< the addresses found, in the order tried
    std::error_code error;                     ///< why resolution failed, or none
};

/// A TCP connect to one address begins (trace_hooks::connect_start).
struct connect_start_event {
    trace_request request;             ///< the request
    asio::ip::tcp::endpoint endpoint;  ///< the address and port connected to
};

/// A TCP connect to one address ended (trace_hooks::connect_done).
struct connect_done_event {
    trace_request request;             ///< the request
    asio::ip::tcp::endpoint endpoint;  ///< the address and port connected to
    std::error_code error;  ///< then the next address, if any, is tried
};

/// The CONNECT exchange that opens a tunnel through a proxy to an https target begins
/// (trace_hooks::proxy_connect_start).
struct proxy_connect_start_event {
    trace_request request;   ///< the request
    std::string_view proxy;  ///< "host:port", never the credentials
};

/// The CONNECT exchange with a proxy ended (trace_hooks::proxy_connect_done).
struct proxy_connect_done_event {
    trace_request request;  ///< the request
    std::string_view proxy;  ///< "host:port", never the credentials
    int status = 0;         ///< the proxy's final status; 0 when no valid answer came
    std::error_code error;  ///< error::proxy_auth_required, proxy_connect_refused, ... or none
};

/// A TLS handshake begins (trace_hooks::tls_handshake_start).
struct tls_handshake_start_event {
    trace_request request;  ///< the request
};

/// A TLS handshake ended (trace_hooks::tls_handshake_done).
struct tls_handshake_done_event {
    trace_request request;    ///< the request
    bool resumed = false;     ///< a cached session was resumed
    std::string_view version; ///< "TLSv1.3"; empty on error
    std::error_code error;    ///< why the handshake failed, or none
};

/// A step of a request on its connection (trace_hooks::wrote_headers,
/// trace_hooks::first_response_byte).
struct request_event {
    trace_request request;            ///< the request
    std::uint64_t connection_id = 0;  ///< the connection that carries it
};

/// The request was written, or writing it failed (trace_hooks::wrote_request).
struct wrote_request_event {
    trace_request request;            ///< the request
    std::uint64_t connection_id = 0;  ///< the connection that carries it
    bool body_skipped = false;  ///< Expect: 100-continue answered with a final response
    std::error_code error;      ///< the write failed
};

/// A connection went back to the pool (trace_hooks::put_idle).
struct put_idle_event {
    std::string_view host;            ///< the pool's key: "https://api.example.com:443"
    std::uint64_t connection_id = 0;  ///< the connection
    std::chrono::nanoseconds idle_timeout{0};  ///< closed after this long unused
};

/// A connection was closed (trace_hooks::connection_closed).
struct connection_closed_event {
    std::string_view host;                      ///< the pool's key: "https://api.example.com:443"
    std::uint64_t connection_id = 0;            ///< the connection
    close_reason reason = close_reason::error;  ///< why it was closed
    std::size_t requests = 0;  ///< requests it carried
};

/// The leak diagnostic (transport_options::report_unread_body_after): a response body has
/// held its connection this long without a read. Reported once per body.
struct unread_body_event {
    trace_request request;            ///< the request the body answers
    std::uint64_t connection_id = 0;  ///< the connection the body holds
    std::chrono::nanoseconds held_for{0};  ///< since the response arrived or the last read
    bool read_before = false;               ///< some of it was read
};

/// leash::client is about to retry a call after the backoff or server delay below, or the
/// retry budget (retry_policy::budget_ratio) refused the retry and the last outcome is
/// delivered. (The transport's transparent retries start again at get_conn instead.)
struct retry_event {
    std::string_view method;             ///< the call's method
    std::string_view url;                ///< the call's URL
    std::size_t attempt = 0;             ///< the attempt the retry makes: 2 for the first retry
    std::error_code error;               ///< what the last attempt failed with, or
    int status = 0;                      ///< the status it was answered with
    std::chrono::milliseconds delay{0};  ///< the wait before the retry
    retry_delay_source delay_source = retry_delay_source::backoff;  ///< where `delay` came from
    bool refused_by_budget = false;      ///< the retry budget refused the retry: none is made
};

/// Hooks that watch requests and connections as they happen.
///
/// Set a trace_hooks on transport_options::trace (every request of the transport) or on
/// request::trace (that request only; both run, the transport's first). Leave a hook empty to
/// skip its event; with no trace_hooks at all, nothing is built or called: the cost is one
/// pointer test per event.
///
/// Order for one attempt: get_conn, then either got_conn (an idle connection) or dns_start,
/// dns_done, connect_start/connect_done per address tried (of the proxy, through one),
/// proxy_connect_start/done (an https target through a proxy), tls_handshake_start/done, got_conn
/// (a new one); then wrote_headers, wrote_request, first_response_byte; later put_idle or
/// connection_closed when the response's body ends. A transparent retry starts again at
/// get_conn; a retry of leash::client reports retry first.
///
/// \threadsafety
/// Hooks are called synchronously on the strand of the request, body or connection they
/// report (several at once when the io_context runs on several threads), so they must be
/// safe to call concurrently, must be quick, and must not throw or call back into the
/// transport's blocking parts.
///
/// \lifetime
/// The views in an event are valid only during the call.
struct trace_hooks {
    std::function<void(const get_conn_event&)> get_conn;  ///< a request asks for a connection
    std::function<void(const got_conn_event&)> got_conn;  ///< a request got its connection
    std::function<void(const dns_start_event&)> dns_start;  ///< name resolution begins
    std::function<void(const dns_done_event&)> dns_done;    ///< name resolution ended
    std::function<void(const connect_start_event&)> connect_start;  ///< a TCP connect begins
    std::function<void(const connect_done_event&)> connect_done;    ///< a TCP connect ended
    std::function<void(const proxy_connect_start_event&)> proxy_connect_start;  ///< a CONNECT to the proxy begins
    std::function<void(const proxy_connect_done_event&)> proxy_connect_done;    ///< the proxy answered CONNECT, or failed to
    std::function<void(const tls_handshake_start_event&)> tls_handshake_start;  ///< a TLS handshake begins
    std::function<void(const tls_handshake_done_event&)> tls_handshake_done;    ///< a TLS handshake ended
    std::function<void(const request_event&)> wrote_headers;  ///< the request's head was written
    std::function<void(const wrote_request_event&)> wrote_request;  ///< the whole request was written, or the write failed
    std::function<void(const request_event&)> first_response_byte;  ///< the first byte of the response arrived
    std::function<void(const put_idle_event&)> put_idle;  ///< a connection went back to the pool
    /// Every connection the transport opened ends here once, with its reason; for a request's
    /// own hooks, only while the request or its body uses the connection.
    std::function<void(const connection_closed_event&)> connection_closed;
    std::function<void(const unread_body_event&)> unread_body;  ///< a body held its connection unread too long
    std::function<void(const retry_event&)> retry;  ///< leash::client only
};

} // namespace leash
