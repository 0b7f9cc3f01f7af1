// Support for the lifetime tests: a transport (or a client) that a scenario ends in one of
// the ways a user can end it, at a moment the scenario chooses, on an io_context the test
// drives; completion records that count how often a handler ran; and a pool of threads that
// run an io_context until it runs out of work.
#pragma once

#include <support/harness.hpp>

#include <algorithm>
#include <condition_variable>
#include <functional>
#include <initializer_list>
#include <memory>
#include <mutex>
#include <optional>
#include <sstream>
#include <thread>
#include <vector>

namespace leash::test {

// How a scenario ends what the user holds.
enum class ending {
    destroy_transport,  // a leash::transport held in a unique_ptr is reset
    shutdown,           // transport::shutdown()
    async_shutdown,     // transport::async_shutdown(short grace)
    destroy_client,     // a leash::client held in a unique_ptr is reset
};

inline std::ostream& operator<<(std::ostream& out, ending e)
{
    switch (e) {
    case ending::destroy_transport: return out << "destroy transport";
    case ending::shutdown: return out << "shutdown()";
    case ending::async_shutdown: return out << "async_shutdown(grace)";
    case ending::destroy_client: return out << "destroy client";
    }
    return out;
}

// The grace of the async_shutdown ending: far shorter than any phase timeout of
// lifetime_options(), so that what ends a request is the shutdown, not a timeout.
inline constexpr std::chrono::milliseconds shutdown_grace{100};

// Every phase bounded by one second: a request that the ending does not fail still ends
// (with its phase's timeout) well within the scenario's bound.
inline leash::transport_options lifetime_options()
{
    leash::transport_options o;
    o.pool_wait_timeout = 1s;
    o.resolve_timeout = 1s;
    o.connect_timeout = 1s;
    o.tls_handshake_timeout = 1s;
    o.write_timeout = 1s;
    o.response_header_timeout = 1s;
    o.body_read_timeout = 1s;
    return o;
}

inline std::string describe(std::error_code ec)
{
    std::ostringstream out;
    out << ec.category().name() << ':' << ec.value() << " (" << ec.message() << ')';
    return out.str();
}

inline void require_once_with_one_of(int calls, std::error_code ec, std::initializer_list<std::error_code> expected)
{
    INFO("handler calls: " << calls << ", error: " << describe(ec));
    REQUIRE(calls == 1);
    CHECK(std::find(expected.begin(), expected.end(), ec) != expected.end());
}

inline void require_once_failed(int calls, std::error_code ec)
{
    INFO("handler calls: " << calls << ", error: " << describe(ec));
    REQUIRE(calls == 1);
    CHECK(ec);
}

// What one asynchronous operation delivered, and how many times its handler ran.
// completion<T>: handlers of (std::error_code, T); completion<>: of (std::error_code).
template <class T = void>
struct completion {
    int calls = 0;
    std::error_code ec;
    T value{};

    auto handler()
    {
        return [this](std::error_code e, T v) {
            ++calls;
            ec = e;
            value = std::move(v);
        };
    }

    // The handler ran exactly once, with one of `expected` (an empty error code: success).
    void require_once_with(std::initializer_list<std::error_code> expected) const
    {
        require_once_with_one_of(calls, ec, expected);
    }
    // The handler ran exactly once, with an error.
    void require_once_failed() const { leash::test::require_once_failed(calls, ec); }
};

template <>
struct completion<void> {
    int calls = 0;
    std::error_code ec;

    auto handler()
    {
        return [this](std::error_code e) {
            ++calls;
            ec = e;
        };
    }
    void require_once_with(std::initializer_list<std::error_code> expected) const
    {
        require_once_with_one_of(calls, ec, expected);
    }
    // The handler ran exactly once, with an error.
    void require_once_failed() const { leash::test::require_once_failed(calls, ec); }
};

// An io_context driven by the test thread, with a transport or a client on it, and the
// moment the scenario ends it.
class lifetime_rig {
public:
    explicit lifetime_rig(ending how, leash::transport_options options = lifetime_options())
        : fds_at_start(warm_up_and_count_fds(ioc)), how_(how)
    {
        if (how == ending::destroy_client)
            client_ = std::make_unique<leash::client>(ioc, leash::client_options{}, std::move(options));
        else
            transport_ = std::make_unique<leash::transport>(ioc, std::move(options));
    }

    ~lifetime_rig()
    {
        client_.reset();
        transport_.reset();
    }

    leash::transport& transport() { return client_ ? client_->transport() : *transport_; }
    bool holds_transport() const { return client_ || transport_; }

    template <class Handler>
    void send(leash::request req, Handler&& handler)
    {
        if (client_)
            client_->async_send(std::move(req), std::forward<Handler>(handler));
        else
            transport_->async_send(std::move(req), std::forward<Handler>(handler));
    }

    // Ends the transport or client the chosen way, now (on the io_context's thread).
    void end()
    {
        ++ends;
        switch (how_) {
        case ending::destroy_transport: transport_.reset(); break;
        case ending::destroy_client: client_.reset(); break;
        case ending::shutdown: transport_->shutdown(); break;
        case ending::async_shutdown: transport_->async_shutdown(shutdown_grace, shutdown_done.handler()); break;
        }
    }

    // Posts end() to the io_context: it runs once the current handler (a trace hook inside
    // the request's coroutine, say) has returned and the request has suspended.
    void end_soon()
    {
        asio::post(ioc, [this] { end(); });
    }

    // Ends it once `condition` holds (checked on the io_context every millisecond).
    template <class Condition>
    void end_when(Condition condition)
    {
        asio::co_spawn(ioc, eventually(std::move(condition)), [this](std::exception_ptr, bool held) {
            condition_held = held;
            if (held)
                end();
        });
    }

    // Trace hooks whose `hook` ends the transport (end_soon) the first time it runs.
    template <class Event>
    std::shared_ptr<leash::trace_hooks> end_at(std::function<void(const Event&)> leash::trace_hooks::*hook)
    {
        auto hooks = std::make_shared<leash::trace_hooks>();
        (*hooks).*hook = [this](const Event&) {
            if (!end_requested) {
                end_requested = true;
                end_soon();
            }
        };
        return hooks;
    }

    // Runs the io_context until it has no work left; fails if that takes longer than
    // `bound`. Requires that the scenario reached the moment it ends the transport.
    void run_to_completion(std::chrono::steady_clock::duration bound = 5s)
    {
        const auto start = std::chrono::steady_clock::now();
        ioc.restart();
        ioc.run_for(bound);
        const auto took = std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now() - start);
        INFO("ran for " << took.count() << " ms");
        CHECK(ends == 1);
        CHECK(ioc.stopped());  // ran out of work: no timer, read or coroutine left behind
    }

    // The end of every lifetime scenario: the ending's own completion (async_shutdown),
    // every gauge zero where a transport is left to ask, the servers see every connection
    // closed, and the process holds no descriptor more than at the start.
    void require_clean_end(std::initializer_list<test_server*> servers = {})
    {
        if (how_ == ending::async_shutdown)
            shutdown_done.require_once_with({std::error_code{}, leash::error::shutdown_incomplete});
        if (holds_transport()) {
            const auto s = transport().stats();
            CHECK(s.total.all_zero());
            CHECK(s.hosts.empty());
        }
        client_.reset();
        transport_.reset();
        ioc.restart();
        ioc.run_for(5s);
        CHECK(ioc.stopped());
        for (auto* server : servers)
            CHECK(server->wait_for_open_connections(0, 5s));
        const bool no_extra_fd = open_fd_count_settles_at_most(fds_at_start);
        INFO("open descriptors: " << describe_open_fds());
        CHECK(no_extra_fd);
    }

    asio::io_context ioc;
    const std::size_t fds_at_start;
    int ends = 0;
    bool end_requested = false;
    bool condition_held = false;
    completion<> shutdown_done;  // the async_shutdown ending

private:
    ending how_;
    std::unique_ptr<leash::transport> transport_;
    std::unique_ptr<leash::client> client_;
};

// Threads that run an io_context; wait_until_out_of_work() tells whether every run()
// returned in time. Start them once the io_context has work.
class io_threads {
public:
    io_threads(asio::io_context& ioc, unsigned count) : ioc_(ioc), count_(count)
    {
        for (unsigned i = 0; i < count; ++i)
            threads_.emplace_back([this] {
                ioc_.run();
                std::lock_guard lock(mutex_);
                ++returned_;
                changed_.notify_all();
            });
    }
    ~io_threads()
    {
        ioc_.stop();
        for (auto& t : threads_)
            t.join();
    }

    // Whether every thread's run() returned within `timeout` (the io_context ran out of
    // work). If not, stops the io_context so that the test can end.
    bool wait_until_out_of_work(std::chrono::steady_clock::duration timeout)
    {
        std::unique_lock lock(mutex_);
        const bool returned = changed_.wait_for(lock, timeout, [this] { return returned_ == count_; });
        if (!returned)
            ioc_.stop();
        return returned;
    }

private:
    asio::io_context& ioc_;
    const unsigned count_;
    std::mutex mutex_;
    std::condition_variable changed_;
    unsigned returned_ = 0;
    std::vector<std::thread> threads_;
};

// A value handed from the io threads to the test thread, with a bounded wait.
template <class T>
class handover {
public:
    void put(T value)
    {
        std::lock_guard lock(mutex_);
        value_ = std::move(value);
        changed_.notify_all();
    }
    // The value, once put (within `timeout`), else nothing.
    std::optional<T> take(std::chrono::steady_clock::duration timeout = 5s)
    {
        std::unique_lock lock(mutex_);
        if (!changed_.wait_for(lock, timeout, [this] { return value_.has_value(); }))
            return std::nullopt;
        return std::exchange(value_, std::nullopt);
    }

private:
    std::mutex mutex_;
    std::condition_variable changed_;
    std::optional<T> value_;
};

} // namespace leash::test
