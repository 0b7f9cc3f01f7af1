// leash/trace.hpp - hooks that watch requests and connections as they happen.
//
// Set a trace_hooks on transport_options::trace (every request of the transport) or on
// request::trace (that request only; both run, the transport's first). Leave a hook empty to
// skip its event; with no trace_hooks at all, nothing is built or called: the cost is one
// pointer test per event.
//
// Thread-safety: hooks are called synchronously on the strand of the request, body or
// connection they report (several at once when the io_context runs on several threads), so
// they must be safe to call concurrently, must be quick, and must not throw or call back
// into the transport's blocking parts. The views in an event are valid only during the call.
//
// Order for one attempt: get_conn, then either got_conn (an idle connection) or dns_start,
// dns_done, connect_start/connect_done per address tried (of the proxy, through one),
// proxy_connect_start/done (an https target through a proxy), tls_handshake_start/done, got_conn
// (a new one); then wrote_headers, wrote_request, first_response_byte; later put_idle or
// connection_closed when the response's body ends. A transparent retry starts again at
// get_conn; a retry of leash::client reports retry first.
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

// The request an event belongs to.
struct trace_request {
    std::string_view method;
    std::string_view host;    // the pool's key: "https://api.example.com:443"
    std::string_view target;  // path and query: "/v1/chat/completions"
};

struct get_conn_event {
    trace_request request;
    bool queued = false;  // every connection to the host is busy: the request waits its turn
};

struct got_conn_event {
    trace_request request;
    std::uint64_t connection_id = 0;  // unique within the transport
    bool reused = false;              // it carried requests before
    std::chrono::nanoseconds idle_time{0};  // how long it sat idle in the pool (reused only)
    std::chrono::nanoseconds wait_time{0};  // since get_conn, including any dial
};

struct dns_start_event {
    trace_request request;
    std::string_view name;
};

struct dns_done_event {
    trace_request request;
    std::vector<asio::ip::address> addresses;
    std::error_code error;
};

struct connect_start_event {
    trace_request request;
    asio::ip::tcp::endpoint endpoint;
};

struct connect_done_event {
    trace_request request;
    asio::ip::tcp::endpoint endpoint;
    std::error_code error;  // then the next address, if any, is tried
};

// The CONNECT exchange that opens a tunnel through a proxy to an https target.
struct proxy_connect_start_event {
    trace_request request;
    std::string_view proxy;  // "host:port", never the credentials
};

struct proxy_connect_done_event {
    trace_request request;
    std::string_view proxy;
    int status = 0;         // the proxy's final status; 0 when no valid answer came
    std::error_code error;  // error::proxy_auth_required, proxy_connect_refused, ... or none
};

struct tls_handshake_start_event {
    trace_request request;
};

struct tls_handshake_done_event {
    trace_request request;
    bool resumed = false;     // a cached session was resumed
    std::string_view version; // "TLSv1.3"; empty on error
    std::error_code error;
};

struct request_event {
    trace_request request;
    std::uint64_t connection_id = 0;
};

struct wrote_request_event {
    trace_request request;
    std::uint64_t connection_id = 0;
    bool body_skipped = false;  // Expect: 100-continue answered with a final response
    std::error_code error;      // the write failed
};

struct put_idle_event {
    std::string_view host;
    std::uint64_t connection_id = 0;
    std::chrono::nanoseconds idle_timeout{0};  // closed after this long unused
};

struct connection_closed_event {
    std::string_view host;
    std::uint64_t connection_id = 0;
    close_reason reason = close_reason::error;
    std::size_t requests = 0;  // requests it carried
};

// The leak diagnostic (transport_options::report_unread_body_after): a response body has
// held its connection this long without a read. Reported once per body.
struct unread_body_event {
    trace_request request;
    std::uint64_t connection_id = 0;
    std::chrono::nanoseconds held_for{0};  // since the response arrived or the last read
    bool read_before = false;               // some of it was read
};

// leash::client is about to retry a call after the backoff or server delay below, or the
// retry budget (retry_policy::budget_ratio) refused the retry and the last outcome is
// delivered. (The transport's transparent retries start again at get_conn instead.)
struct retry_event {
    std::string_view method;
    std::string_view url;
    std::size_t attempt = 0;             // the attempt the retry makes: 2 for the first retry
    std::error_code error;               // what the last attempt failed with, or
    int status = 0;                      // the status it was answered with
    std::chrono::milliseconds delay{0};  // the wait before the retry
    retry_delay_source delay_source = retry_delay_source::backoff;
    bool refused_by_budget = false;
};

struct trace_hooks {
    std::function<void(const get_conn_event&)> get_conn;
    std::function<void(const got_conn_event&)> got_conn;
    std::function<void(const dns_start_event&)> dns_start;
    std::function<void(const dns_done_event&)> dns_done;
    std::function<void(const connect_start_event&)> connect_start;
    std::function<void(const connect_done_event&)> connect_done;
    std::function<void(const proxy_connect_start_event&)> proxy_connect_start;
    std::function<void(const proxy_connect_done_event&)> proxy_connect_done;
    std::function<void(const tls_handshake_start_event&)> tls_handshake_start;
    std::function<void(const tls_handshake_done_event&)> tls_handshake_done;
    std::function<void(const request_event&)> wrote_headers;
    std::function<void(const wrote_request_event&)> wrote_request;
    std::function<void(const request_event&)> first_response_byte;
    std::function<void(const put_idle_event&)> put_idle;
    // Every connection the transport opened ends here once, with its reason; for a request's
    // own hooks, only while the request or its body uses the connection.
    std::function<void(const connection_closed_event&)> connection_closed;
    std::function<void(const unread_body_event&)> unread_body;
    std::function<void(const retry_event&)> retry;  // leash::client only
};

} // namespace leash
