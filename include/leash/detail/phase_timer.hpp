// A deadline for one phase of a request (connect, write, headers, body read, ...). When it
// expires it runs the phase's abort action (cancel the socket operation, the resolver, ...),
// and disarm() tells whether the phase ended by timing out. Runs on the request's strand.
//
// A late expiry (queued just as the phase completed) is ignored: each arm() starts a new
// generation and the handler acts only for its own.
#pragma once

#include <leash/detail/pool_core.hpp>
#include <leash/error.hpp>

#include <asio/steady_timer.hpp>

#include <functional>
#include <memory>

namespace leash::detail {

// The time limits of one request: each phase's timeout and the total deadline.
struct phase_limits {
    clock::duration pool_wait{};
    clock::duration resolve{};
    clock::duration connect{};
    clock::duration tls_handshake{};
    clock::duration write{};
    clock::duration response_header{};
    clock::duration body_read{};
    clock::time_point deadline = clock::time_point::max();
};

class phase_timer {
public:
    explicit phase_timer(const asio::any_io_executor& ex)
        : timer_(ex), state_(std::make_shared<state>())
    {
    }

    // Arms for `phase` (error `phase_error`), or until `request_deadline` if earlier
    // (error::request_timeout). `abort` is called on expiry.
    void arm(clock::duration phase, error phase_error, clock::time_point request_deadline,
             std::function<void()> abort)
    {
        const auto now = clock::now();
        auto at = now + phase;
        state_->error = phase_error;
        if (request_deadline < at) {
            at = request_deadline;
            state_->error = error::request_timeout;
        }
        state_->fired = false;
        state_->abort = std::move(abort);
        const auto generation = ++state_->generation;
        timer_.expires_at(at);
        timer_.async_wait([s = state_, generation](std::error_code ec) {
            if (ec || s->generation != generation)
                return;
            s->fired = true;
            if (s->abort)
                s->abort();
        });
    }

    // Whether the armed deadline has fired (the phase is being aborted).
    bool expired() const noexcept { return state_->fired; }

    // Ends the phase. Returns the timeout error if the deadline fired, else success.
    std::error_code disarm() noexcept
    {
        ++state_->generation;
        timer_.cancel();
        state_->abort = nullptr;
        return state_->fired ? make_error_code(state_->error) : std::error_code{};
    }

private:
    struct state {
        std::uint64_t generation = 0;
        bool fired = false;
        leash::error error = leash::error::request_timeout;
        std::function<void()> abort;
    };

    asio::steady_timer timer_;
    std::shared_ptr<state> state_;
};

} // namespace leash::detail
