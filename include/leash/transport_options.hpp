/// \file
/// leash/transport_options.hpp - the knobs of a transport: pool bounds, timeouts, limits.
#pragma once

#include <leash/decoding_options.hpp>
#include <leash/proxy.hpp>
#include <leash/tls_options.hpp>
#include <leash/trace.hpp>
#include <leash/version.hpp>

#include <chrono>
#include <cstddef>
#include <map>
#include <memory>
#include <string>
#include <vector>

namespace leash {

/// The knobs of a transport: pool bounds, timeouts, limits.
///
/// Every default is finite: no phase of a request can wait forever unless a timeout is set to
/// zero explicitly where that is documented as "off". Options are fixed when the transport
/// is constructed.
struct transport_options {
    // --- The pool, per host = (scheme, host, port) ---
    /// Hard bound on open + dialing connections to one host; further requests wait, FIFO.
    std::size_t max_conns_per_host = 64;
    /// Bound on requests waiting for a connection to one host; beyond it a request fails at
    /// once with error::pool_overloaded.
    std::size_t max_pending_per_host = 1024;
    /// Idle connections kept per host; a connection returning to a full host is closed.
    /// Below max_conns_per_host, a steady load above it churns connections (each finished
    /// response may find the idle stack full just before the next request takes one).
    std::size_t max_idle_conns_per_host = 64;
    /// Idle connections kept over all hosts; beyond it the least recently used one is closed.
    std::size_t max_idle_conns = 256;
    /// An idle connection is closed after this long. A server's "Keep-Alive: timeout=N" hint
    /// shortens it for that connection to N seconds minus keep_alive_hint_margin.
    std::chrono::milliseconds idle_conn_timeout = std::chrono::seconds(90);
    /// Subtracted from a server's "Keep-Alive: timeout=N" hint (see idle_conn_timeout), so
    /// that leash closes an idle connection before the server does.
    std::chrono::milliseconds keep_alive_hint_margin = std::chrono::seconds(1);

    // --- Timeouts, one per phase; each fails with its own error code ---
    /// Waiting for a connection of the pool (error::pool_wait_timeout); counted apart from
    /// every other timeout.
    std::chrono::milliseconds pool_wait_timeout = std::chrono::seconds(30);
    /// Resolving the host name (error::resolve_timeout).
    std::chrono::milliseconds resolve_timeout = std::chrono::seconds(10);
    /// The TCP connect to each address tried, and a proxy's answer to CONNECT
    /// (error::connect_timeout, error::proxy_connect_timeout).
    std::chrono::milliseconds connect_timeout = std::chrono::seconds(10);
    /// The TLS handshake (error::tls_handshake_timeout).
    std::chrono::milliseconds tls_handshake_timeout = std::chrono::seconds(10);
    /// Writing the request (error::write_timeout).
    std::chrono::milliseconds write_timeout = std::chrono::seconds(30);
    /// From the end of the request write until the final response head is complete.
    /// Non-streaming LLM calls answer only when generation ends, hence the generous default.
    std::chrono::milliseconds response_header_timeout = std::chrono::seconds(300);
    /// Longest silence between two body reads that make progress (the guard for streams).
    std::chrono::milliseconds body_read_timeout = std::chrono::seconds(120);
    /// With "Expect: 100-continue", how long to wait for the server's 100 before sending the
    /// body anyway.
    std::chrono::milliseconds expect_continue_timeout = std::chrono::seconds(1);
    /// Total deadline for a request including its body; zero = off (the default).
    std::chrono::milliseconds request_timeout{0};

    /// Closing a TLS connection sends close_notify and waits at most this long for the
    /// peer's; a broken connection is closed at once.
    std::chrono::milliseconds tls_close_timeout{250};

    // --- TLS, for https:// URLs ---
    /// How https:// servers are verified (see leash/tls_options.hpp).
    leash::tls_options tls;

    // --- Proxies (leash/proxy.hpp) ---
    /// The proxy for http:// and for https:// targets and the hosts reached directly. Never
    /// read from the environment unless set from proxy_options_from_environment(). An http://
    /// request goes to the proxy in absolute form; an https:// one through a CONNECT tunnel
    /// (under connect_timeout, like the TCP connect to the proxy), with TLS verified for the
    /// target. The transport's constructor throws std::system_error on an invalid proxy URL.
    proxy_options proxy;

    // --- Compressed responses (leash/decoding_options.hpp): off unless asked for ---
    /// Whether compressed responses are asked for and decoded, and the bounds of decoding.
    decoding_options decoding;

    // --- Limits ---
    /// Bound on the size of a response head (error::headers_too_large).
    std::size_t max_response_header_bytes = 64 * 1024;
    /// Bound on the number of fields in a response head (error::too_many_headers).
    std::size_t max_response_headers = 128;
    /// Transparent retries of a replayable request after a reused connection failed before
    /// any response byte arrived. Each retry needs a fresh attempt; the last one is final.
    std::size_t max_stale_retries = 2;

    /// Fixed addresses for host names, used instead of DNS (like curl's --resolve):
    /// {"api.example.com", {"10.0.0.7", "10.0.0.8"}}. Tried in order, each under connect_timeout.
    std::map<std::string, std::vector<std::string>> resolve_overrides;

    /// Sent when the request has no User-Agent; empty = none.
    std::string user_agent = "leash/" LEASH_VERSION_STRING;

    // --- Observability (leash/trace.hpp) ---
    /// Hooks called for every request of this transport and every connection it opens.
    std::shared_ptr<const trace_hooks> trace;
    /// The leak diagnostic: a response body that holds its connection this long without a
    /// read is reported once to the unread_body hooks (the transport's and the request's),
    /// naming the request. Zero = off (the default). The body is not closed: it is a report.
    std::chrono::milliseconds report_unread_body_after{0};
};

} // namespace leash
