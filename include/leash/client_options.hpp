/// \file
/// leash/client_options.hpp - what a leash::client adds to its transport: a base URL, default
/// headers, the retry and redirect policies and a deadline for a whole call.
#pragma once

#include <leash/headers.hpp>
#include <leash/redirect_policy.hpp>
#include <leash/retry_policy.hpp>

#include <chrono>
#include <cstddef>
#include <string>

namespace leash {

/// What a leash::client adds to its transport: a base URL, default headers, the retry and
/// redirect policies and a deadline for a whole call.
struct client_options {
    std::string base_url;       ///< prefix for request URLs without a scheme, e.g. "https://host/api/v3"
    headers default_headers;    ///< e.g. Authorization; a request's own fields win
    retry_policy retry;         ///< application-level retries (max 2 by default)
    redirect_policy redirect;   ///< redirects followed (up to 10 by default; see redirect_policy.hpp)
    /// The body of a response that is retried or redirected is read up to this to keep its
    /// connection, then closed.
    std::size_t max_discarded_body = 64 * 1024;
    /// A deadline for the whole call: every attempt, backoff and redirect hop; zero = off (the
    /// default: each attempt is bounded by the transport's timeouts, and retries by their
    /// count). An attempt cut by it fails with error::call_timeout; a backoff that would pass
    /// it is not waited for (the last outcome is delivered). It also bounds reading the body of
    /// the response delivered (as its request's total deadline: error::request_timeout). The
    /// per-attempt total is request_timeouts::total (or transport_options::request_timeout).
    std::chrono::milliseconds call_timeout{0};
};

} // namespace leash
