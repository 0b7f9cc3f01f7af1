// The deadline an event stream's next event is under, without I/O or a clock of its own:
// the caller gives the times. Before the first event, first_event from the reader's start
// (or, when that is off, between_events); after it, between_events from the last event. Zero
// turns a bound off.
#pragma once

#include <leash/error.hpp>

#include <chrono>
#include <optional>

namespace leash::detail {

class event_deadline {
public:
    using clock = std::chrono::steady_clock;

    struct due {
        clock::time_point at;  // the next event must be dispatched by then
        error timeout;         // else the stream fails with this
    };

    event_deadline(clock::duration first_event, clock::duration between_events, clock::time_point started) noexcept
        : first_event_(first_event), between_events_(between_events), last_(started)
    {
    }

    // An event was dispatched at `t`.
    void event_at(clock::time_point t) noexcept
    {
        last_ = t;
        seen_event_ = true;
    }

    // The deadline in force, or none when the bound that applies is off.
    std::optional<due> next() const noexcept
    {
        if (!seen_event_ && first_event_.count() > 0)
            return due{last_ + first_event_, error::sse_first_event_timeout};
        if (between_events_.count() > 0)
            return due{last_ + between_events_, error::sse_event_timeout};
        return std::nullopt;
    }

private:
    clock::duration first_event_;
    clock::duration between_events_;
    clock::time_point last_;  // the reader's start, then the last event
    bool seen_event_ = false;
};

} // namespace leash::detail
