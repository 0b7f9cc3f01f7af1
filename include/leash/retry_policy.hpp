// leash/retry_policy.hpp - when the client sends a request again on its own.
//
// These are application-level retries, on top of the transport's transparent retry of a
// request that failed on a stale pooled connection. They apply only to replayable requests
// (idempotent method, Idempotency-Key header, or the caller's opt-in), and never once a
// response body has been handed to the caller.
//
// A request is retried after an attempt that
//   - failed before reaching the server (connect or resolve failure, see
//     retry_connect_failures), or
//   - got a response whose status is in retry_statuses.
// The delay before a retry is the one the server asked for (retry-after-ms or Retry-After)
// when it is no longer than max_retry_after, otherwise an exponential backoff:
//   min(max_backoff, initial_backoff * backoff_multiplier^n) for the n-th retry (n from 0),
// reduced by a random fraction of up to `jitter` of itself.
// A retry_policy is a plain value; set max_retries = 0 to turn retries off.
#pragma once

#include <chrono>
#include <cstddef>
#include <vector>

namespace leash {

struct retry_policy {
    // Retries after the first attempt; 0 turns retries off.
    std::size_t max_retries = 2;

    // The backoff before the first retry.
    std::chrono::milliseconds initial_backoff{500};
    // No backoff is longer than this.
    std::chrono::milliseconds max_backoff{8000};
    // Each further retry waits this many times longer than the one before.
    double backoff_multiplier = 2.0;
    // Up to this fraction (0 to 1) of each backoff is subtracted at random, so that clients
    // that failed together do not retry together.
    double jitter = 0.25;

    // A delay the server asks for (retry-after-ms, Retry-After) is honoured up to this long;
    // above it the backoff is used instead.
    std::chrono::milliseconds max_retry_after{60000};

    // Response statuses that are retried.
    std::vector<int> retry_statuses{408, 429, 500, 502, 503, 504};

    // Retry when the request never reached the server: connect refused or timed out, host
    // or network unreachable, name resolution timed out or temporarily failed. TLS
    // failures are never retried.
    bool retry_connect_failures = true;
};

} // namespace leash
