// Calls the trace hooks of a transport and of a request (either may be absent), the
// transport's first. Call sites test the tracer before building an event, so that without
// hooks nothing is built.
#pragma once

#include <leash/trace.hpp>

#include <functional>
#include <memory>

namespace leash::detail {

class tracer {
public:
    tracer() = default;
    tracer(const trace_hooks* transport_hooks, const trace_hooks* request_hooks) noexcept
        : first_(transport_hooks), second_(request_hooks)
    {
    }

    explicit operator bool() const noexcept { return first_ != nullptr || second_ != nullptr; }

    // Whether some hook wants this event.
    template <class Event>
    bool wants(std::function<void(const Event&)> trace_hooks::*hook) const noexcept
    {
        return (first_ && first_->*hook) || (second_ && second_->*hook);
    }

    template <class Event>
    void operator()(std::function<void(const Event&)> trace_hooks::*hook, const Event& event) const
    {
        if (first_ && first_->*hook)
            (first_->*hook)(event);
        if (second_ && second_->*hook)
            (second_->*hook)(event);
    }

private:
    const trace_hooks* first_ = nullptr;
    const trace_hooks* second_ = nullptr;
};

// The hooks of one request and what they are told about it.
struct request_trace {
    tracer hooks;
    trace_request request;

    explicit operator bool() const noexcept { return static_cast<bool>(hooks); }
    template <class Event>
    bool wants(std::function<void(const Event&)> trace_hooks::*hook) const noexcept
    {
        return hooks.wants(hook);
    }
    template <class Event>
    void operator()(std::function<void(const Event&)> trace_hooks::*hook, const Event& event) const
    {
        hooks(hook, event);
    }
};

} // namespace leash::detail
