// A connection's deadline for the phase running on it (connect, write, headers, body read,
// ...). When it expires it runs the phase's abort action (cancel the socket operation, the
// resolver, ...) on the strand of the phase's owner, and disarm() tells whether the phase
// ended by timing out.
//
// Phases change several times per request and a connection carries many requests, while
// their limits are seconds long; so the Asio timer is not restarted for each phase: arm()
// only records the phase's deadline, and moves the pending wait earlier when the new deadline
// is earlier than it; disarm() only clears the phase. A wait that ends finds the current
// phase: none, so it stops; one whose deadline has passed, so it aborts it; or a later one,
// so it waits again until then. On a keep-alive connection one wait thus serves many
// requests: arming and disarming a phase costs a lock and no Asio operation.
//
// Thread-safety: the wait completes on the connection's executor while the phase's owner runs
// on its strand (a request's, then a body's, which may be closed on any thread), so the state
// is under a mutex. An expiry reaches the owner's strand through a post and aborts only if the
// same phase is still armed there. Destruction disarms and cancels the wait.
#pragma once

#include <leash/detail/phase_limits.hpp>
#include <leash/error.hpp>

#include <asio/post.hpp>
#include <asio/steady_timer.hpp>

#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>

namespace leash::detail {

class phase_timer {
public:
    explicit phase_timer(const asio::any_io_executor& ex) : state_(std::make_shared<state>(ex)) {}
    phase_timer(const phase_timer&) = delete;
    phase_timer& operator=(const phase_timer&) = delete;
    ~phase_timer()
    {
        std::lock_guard lock(state_->mutex);
        state_->armed = false;
        state_->abort = nullptr;
        state_->timer.cancel();  // (the wait completes as canceled and leaves the state alone)
    }

    // Arms for `phase` (error `phase_error`), or until `request_deadline` if earlier
    // (error::request_timeout). `abort` is called on `owner` (the strand the phase runs on)
    // on expiry.
    void arm(const asio::any_io_executor& owner, clock::duration phase, error phase_error,
             clock::time_point request_deadline, std::function<void()> abort)
    {
        auto at = clock::now() + phase;
        if (request_deadline < at) {
            at = request_deadline;
            phase_error = error::request_timeout;
        }
        auto& s = *state_;
        std::lock_guard lock(s.mutex);
        s.at = at;
        s.error = phase_error;
        s.armed = true;
        s.fired = false;
        ++s.phase_generation;
        if (s.owner != owner)
            s.owner = owner;
        s.abort = std::move(abort);
        if (!s.waiting || s.at < s.wait_until)
            wait(state_, s.at);
    }

    // Whether the armed deadline has fired (the phase is being aborted).
    bool expired() const noexcept
    {
        std::lock_guard lock(state_->mutex);
        return state_->fired;
    }

    // Ends the phase. Returns the timeout error if the deadline fired, else success.
    std::error_code disarm() noexcept
    {
        auto& s = *state_;
        std::lock_guard lock(s.mutex);
        s.armed = false;
        s.abort = nullptr;
        return s.fired ? make_error_code(s.error) : std::error_code{};
    }

private:
    struct state {
        explicit state(const asio::any_io_executor& ex) : timer(ex) {}
        std::mutex mutex;  // guards everything below
        asio::steady_timer timer;
        clock::time_point wait_until{};     // when the pending wait ends, if waiting
        std::uint64_t wait_generation = 0;  // tells the pending wait from superseded ones
        bool waiting = false;
        bool armed = false;                  // a phase is running with deadline `at`
        std::uint64_t phase_generation = 0;  // tells the armed phase from earlier ones
        clock::time_point at{};
        bool fired = false;
        leash::error error = leash::error::request_timeout;
        asio::any_io_executor owner;
        std::function<void()> abort;
    };

    // Under the lock.
    static void wait(const std::shared_ptr<state>& sp, clock::time_point until)
    {
        auto& s = *sp;
        s.waiting = true;
        s.wait_until = until;
        const auto generation = ++s.wait_generation;
        s.timer.expires_at(until);  // (a superseded wait completes as canceled)
        s.timer.async_wait([sp, generation](std::error_code ec) { on_wait_end(sp, generation, ec); });
    }

    // On the timer's executor.
    static void on_wait_end(const std::shared_ptr<state>& sp, std::uint64_t generation, std::error_code ec)
    {
        auto& s = *sp;
        asio::any_io_executor owner;
        std::uint64_t phase;
        {
            std::lock_guard lock(s.mutex);
            if (generation != s.wait_generation)
                return;  // superseded by an earlier deadline
            s.waiting = false;
            if (ec || !s.armed)
                return;
            if (clock::now() < s.at) {  // the phase running now ends later
                wait(sp, s.at);
                return;
            }
            owner = s.owner;
            phase = s.phase_generation;
        }
        asio::post(owner, [sp, phase] { expire(*sp, phase); });
    }

    // On the owner's strand: aborts the phase whose deadline passed, unless it ended meanwhile.
    static void expire(state& s, std::uint64_t phase)
    {
        std::lock_guard lock(s.mutex);
        if (!s.armed || s.phase_generation != phase || s.fired)
            return;
        s.fired = true;
        if (s.abort)
            s.abort();  // (cancels or closes an I/O object; never comes back here)
    }

    std::shared_ptr<state> state_;
};

} // namespace leash::detail
