// The leak diagnostic behind transport_options::report_unread_body_after: watches a body that
// holds a connection and, once no read has been in progress for the threshold, reports it to
// the unread_body hooks, once.
//
// The timer lives on the body's strand, while a body may be closed on any thread: the body
// only sets atomics and calls stop(), which posts the timer's cancellation to the strand.
#pragma once

#include <leash/detail/pool_core.hpp>
#include <leash/detail/tracer.hpp>
#include <leash/trace.hpp>

#include <asio.hpp>

#include <atomic>
#include <memory>
#include <string>

namespace leash::detail {

class unread_watch : public std::enable_shared_from_this<unread_watch> {
public:
    unread_watch(asio::any_io_executor strand, clock::duration threshold,
                 std::shared_ptr<const trace_hooks> transport_hooks, std::shared_ptr<const trace_hooks> request_hooks,
                 const trace_request& request, std::uint64_t connection_id)
        : timer_(std::move(strand))
        , threshold_(threshold)
        , last_activity_(clock::now())
        , transport_hooks_(std::move(transport_hooks))
        , request_hooks_(std::move(request_hooks))
        , method_(request.method)
        , host_(request.host)
        , target_(request.target)
        , connection_id_(connection_id)
    {
    }

    // Starts watching; on the strand.
    void start() { arm(clock::now() + threshold_); }

    // A read of the body starts (true) or ends (false); on the strand.
    void reading(bool started) noexcept
    {
        last_activity_ = clock::now();
        if (started) {
            ++reads_;
        } else {
            --reads_;
            read_before_ = true;
        }
    }

    // The body let go of its connection; any thread. Idempotent.
    void stop()
    {
        if (stopped_.exchange(true))
            return;
        asio::post(timer_.get_executor(), [self = shared_from_this()] { self->timer_.cancel(); });
    }

private:
    void arm(clock::time_point at)
    {
        timer_.expires_at(at);
        timer_.async_wait([self = shared_from_this()](std::error_code ec) {
            if (!ec)
                self->on_timer();
        });
    }

    void on_timer()
    {
        if (stopped_.load())
            return;
        const auto now = clock::now();
        if (reads_ > 0) {  // being read: body_read_timeout watches it
            arm(now + threshold_);
            return;
        }
        if (now - last_activity_ < threshold_) {
            arm(last_activity_ + threshold_);
            return;
        }
        const tracer hooks(transport_hooks_.get(), request_hooks_.get());
        hooks(&trace_hooks::unread_body,
              unread_body_event{trace_request{method_, host_, target_}, connection_id_,
                                std::chrono::duration_cast<std::chrono::nanoseconds>(now - last_activity_), read_before_});
    }

    asio::steady_timer timer_;
    const clock::duration threshold_;
    std::atomic<bool> stopped_{false};
    // On the strand:
    int reads_ = 0;
    bool read_before_ = false;
    clock::time_point last_activity_;
    std::shared_ptr<const trace_hooks> transport_hooks_;
    std::shared_ptr<const trace_hooks> request_hooks_;
    const std::string method_;
    const std::string host_;
    const std::string target_;
    const std::uint64_t connection_id_;
};

} // namespace leash::detail
