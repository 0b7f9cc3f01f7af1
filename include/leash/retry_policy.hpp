/// \file
/// leash/retry_policy.hpp - when the client sends a request again on its own.
#pragma once

#include <chrono>
#include <cstddef>
#include <vector>

namespace leash {

/// Where the delay before a retry came from.
enum class retry_delay_source {
    retry_after,     ///< the server's Retry-After field
    retry_after_ms,  ///< the server's retry-after-ms field
    backoff,         ///< the exponential backoff
};

/// When the client sends a request again on its own.
///
/// These are application-level retries, on top of the transport's transparent retry of a
/// request that failed on a stale pooled connection; never once a response body has been
/// handed to the caller. The rule, for an attempt that
///   - failed before reaching the server (connect or resolve failure, see
///     retry_connect_failures), or
///   - got a response whose status is in retry_statuses:
///
/// a replayable request (idempotent method, Idempotency-Key header, or request::replayable) is
/// retried; any other request, such as a chat completion POST, only when the attempt proves
/// the server did not process it (retry_unprocessed, on by default): a connect failure, a
/// 429, or a 503 with Retry-After (or retry-after-ms). A 500, 502 or 504 may come after the
/// model ran (and billed), so a POST is not retried after one unless it is replayable.
///
/// The delay before a retry is the one the server asked for (retry-after-ms or Retry-After)
/// when it is no longer than max_retry_after, otherwise an exponential backoff:
/// `min(max_backoff, initial_backoff * backoff_multiplier^n)` for the n-th retry (n from 0),
/// reduced by a random fraction of up to `jitter` of itself.
///
/// A retry_policy is a plain value; set max_retries = 0 to turn retries off.
struct retry_policy {
    /// Retries after the first attempt; 0 turns retries off.
    std::size_t max_retries = 2;

    /// The backoff before the first retry.
    std::chrono::milliseconds initial_backoff{500};
    /// No backoff is longer than this.
    std::chrono::milliseconds max_backoff{8000};
    /// Each further retry waits this many times longer than the one before.
    double backoff_multiplier = 2.0;
    /// Up to this fraction (0 to 1) of each backoff is subtracted at random, so that clients
    /// that failed together do not retry together.
    double jitter = 0.25;

    /// A delay the server asks for (retry-after-ms, Retry-After) is honoured up to this long;
    /// above it the backoff is used instead.
    std::chrono::milliseconds max_retry_after{60000};

    /// Response statuses that are retried.
    std::vector<int> retry_statuses{408, 429, 500, 502, 503, 504};

    /// Retry when the request never reached the server: connect refused or timed out, host
    /// or network unreachable, name resolution timed out or temporarily failed. TLS
    /// failures are never retried.
    bool retry_connect_failures = true;

    /// Retry a request that is not replayable when the attempt proves it was not processed
    /// (see above). Off: such requests are never retried.
    bool retry_unprocessed = true;

    /// The retry budget, shared by the client's calls, so that a failing upstream does not get
    /// its load multiplied: over the last budget_window, retries may number at most
    /// budget_ratio times the calls made plus budget_min_per_second per second of the window.
    /// A retry beyond it is not made (the last outcome is delivered) and is counted
    /// (client::retries_refused(), trace_hooks::retry). budget_ratio < 0 turns the budget off.
    double budget_ratio = 0.2;
    /// Retries the budget allows per second of budget_window, whatever the calls made.
    std::size_t budget_min_per_second = 10;
    /// The window over which the retry budget counts calls and retries.
    std::chrono::seconds budget_window{10};
};

} // namespace leash
