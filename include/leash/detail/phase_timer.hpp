// A deadline for one phase of a request (connect, write, headers, body read, ...). When it
// expires it runs the phase's abort action (cancel the socket operation, the resolver, ...),
// and disarm() tells whether the phase ended by timing out. Runs on the request's strand.
//
// Phases change several times per request while their limits are seconds long, so the
// Asio timer is not restarted for each: arm() only records the phase's deadline, and moves
// the pending wait earlier when the new deadline is earlier than it; disarm() only clears
// the phase. A wait that ends finds the current phase: none, so it stops; one whose deadline
// has passed, so it aborts it; or a later one, so it waits again until then. On a
// keep-alive request this costs one timer wait, started at the first phase and canceled
// when the timer is destroyed, instead of a wait and a cancellation per phase.
//
// Movable (a request's timer moves on to its response body); the pending wait holds the
// shared state, and destruction cancels it.
#pragma once

#include <leash/detail/phase_limits.hpp>
#include <leash/error.hpp>

#include <asio/steady_timer.hpp>

#include <functional>
#include <memory>

namespace leash::detail {

class phase_timer {
public:
    explicit phase_timer(const asio::any_io_executor& ex) : state_(std::make_shared<state>(ex)) {}
    phase_timer(phase_timer&&) noexcept = default;
    phase_timer& operator=(phase_timer&& other) noexcept
    {
        if (this != &other) {
            stop();
            state_ = std::move(other.state_);
        }
        return *this;
    }
    ~phase_timer() { stop(); }

    // Arms for `phase` (error `phase_error`), or until `request_deadline` if earlier
    // (error::request_timeout). `abort` is called on expiry.
    void arm(clock::duration phase, error phase_error, clock::time_point request_deadline,
             std::function<void()> abort)
    {
        auto& s = *state_;
        s.at = clock::now() + phase;
        s.error = phase_error;
        if (request_deadline < s.at) {
            s.at = request_deadline;
            s.error = error::request_timeout;
        }
        s.armed = true;
        s.fired = false;
        s.abort = std::move(abort);
        if (!s.waiting || s.at < s.wait_until)
            wait(state_, s.at);
    }

    // Whether the armed deadline has fired (the phase is being aborted).
    bool expired() const noexcept { return state_->fired; }

    // Ends the phase. Returns the timeout error if the deadline fired, else success.
    std::error_code disarm() noexcept
    {
        auto& s = *state_;
        s.armed = false;
        s.abort = nullptr;
        return s.fired ? make_error_code(s.error) : std::error_code{};
    }

private:
    struct state {
        explicit state(const asio::any_io_executor& ex) : timer(ex) {}
        asio::steady_timer timer;
        clock::time_point wait_until{};  // when the pending wait ends, if waiting
        std::uint64_t wait_generation = 0;  // tells the pending wait from superseded ones
        bool waiting = false;
        bool armed = false;  // a phase is running with deadline `at`
        clock::time_point at{};
        bool fired = false;
        leash::error error = leash::error::request_timeout;
        std::function<void()> abort;
    };

    static void wait(const std::shared_ptr<state>& sp, clock::time_point until)
    {
        auto& s = *sp;
        s.waiting = true;
        s.wait_until = until;
        const auto generation = ++s.wait_generation;
        s.timer.expires_at(until);  // (a superseded wait completes as canceled)
        s.timer.async_wait([sp, generation](std::error_code ec) { on_wait_end(sp, generation, ec); });
    }

    static void on_wait_end(const std::shared_ptr<state>& sp, std::uint64_t generation, std::error_code ec)
    {
        auto& s = *sp;
        if (generation != s.wait_generation)
            return;  // superseded by an earlier deadline
        s.waiting = false;
        if (ec || !s.armed)
            return;
        if (clock::now() < s.at) {  // the phase running now ends later
            wait(sp, s.at);
            return;
        }
        s.fired = true;
        if (s.abort)
            s.abort();
    }

    // Cancels the pending wait; it completes as canceled and leaves the state alone. (Only
    // the timer is touched: a body may be destroyed on another thread.)
    void stop() noexcept
    {
        if (state_)
            state_->timer.cancel();
    }

    std::shared_ptr<state> state_;
};

} // namespace leash::detail
