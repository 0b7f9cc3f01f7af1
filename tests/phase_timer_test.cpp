// A connection's phase timer: one Asio wait serves every phase of every request on the
// connection, moved earlier when a phase's deadline is earlier, renewed when the running phase
// ends later; an expiry aborts on the phase owner's executor. Runs on plain io_contexts, no
// sockets; every run is bounded.
#include <leash/detail/phase_timer.hpp>

#include <asio.hpp>
#include <catch2/catch.hpp>

#include <chrono>
#include <future>
#include <optional>

using namespace std::chrono_literals;
using leash::error;
using sclock = leash::detail::clock;
using leash::detail::phase_timer;

namespace {

constexpr auto bound = 5s;  // no case needs more; reaching it fails the case instead of hanging
const auto no_deadline = sclock::time_point::max();

// Runs until `done` or until the io_context runs out of work, at most `bound`.
template <class Pred>
void run_until(asio::io_context& ioc, Pred done)
{
    const auto give_up = sclock::now() + bound;
    while (!done() && !ioc.stopped() && sclock::now() < give_up)
        ioc.run_one_for(50ms);
}

} // namespace

TEST_CASE("phase timer: a phase that outlives its limit is aborted and reports its own error")
{
    asio::io_context ioc;
    phase_timer timer(ioc.get_executor());
    bool aborted = false;
    timer.arm(ioc.get_executor(), 10ms, error::connect_timeout, no_deadline, [&] { aborted = true; });
    run_until(ioc, [&] { return aborted; });
    REQUIRE(aborted);
    CHECK(timer.expired());
    CHECK(timer.disarm() == error::connect_timeout);
}

TEST_CASE("phase timer: a phase that ends in time reports success and is never aborted")
{
    asio::io_context ioc;
    phase_timer timer(ioc.get_executor());
    bool aborted = false;
    timer.arm(ioc.get_executor(), 20ms, error::write_timeout, no_deadline, [&] { aborted = true; });
    CHECK_FALSE(timer.disarm());
    // The wait itself ends on its own (it is not canceled per phase) and finds no phase.
    run_until(ioc, [] { return false; });
    CHECK(ioc.stopped());
    CHECK_FALSE(aborted);
    CHECK_FALSE(timer.expired());
}

TEST_CASE("phase timer: a later phase renews the wait and is aborted at its own deadline")
{
    asio::io_context ioc;
    phase_timer timer(ioc.get_executor());
    std::optional<error> aborted_as;
    timer.arm(ioc.get_executor(), 10ms, error::write_timeout, no_deadline, [&] { aborted_as = error::write_timeout; });
    timer.disarm();
    const auto start = sclock::now();
    timer.arm(ioc.get_executor(), 60ms, error::response_header_timeout, no_deadline, [&] { aborted_as = error::response_header_timeout; });
    run_until(ioc, [&] { return aborted_as.has_value(); });
    REQUIRE(aborted_as == error::response_header_timeout);
    CHECK(sclock::now() - start >= 60ms);
    CHECK(timer.disarm() == error::response_header_timeout);
}

TEST_CASE("phase timer: an earlier deadline moves the pending wait earlier")
{
    asio::io_context ioc;
    phase_timer timer(ioc.get_executor());
    bool aborted = false;
    timer.arm(ioc.get_executor(), std::chrono::hours(1), error::write_timeout, no_deadline, [] {});
    timer.disarm();
    timer.arm(ioc.get_executor(), 10ms, error::body_read_timeout, no_deadline, [&] { aborted = true; });
    run_until(ioc, [&] { return aborted; });
    REQUIRE(aborted);
    CHECK(timer.disarm() == error::body_read_timeout);
}

TEST_CASE("phase timer: the request deadline wins over a later phase limit")
{
    asio::io_context ioc;
    phase_timer timer(ioc.get_executor());
    bool aborted = false;
    timer.arm(ioc.get_executor(), std::chrono::hours(1), error::write_timeout, sclock::now() + 10ms, [&] { aborted = true; });
    run_until(ioc, [&] { return aborted; });
    REQUIRE(aborted);
    CHECK(timer.disarm() == error::request_timeout);
}

TEST_CASE("phase timer: destroying it cancels its wait, so the io_context runs out of work")
{
    asio::io_context ioc;
    bool aborted = false;
    {
        phase_timer timer(ioc.get_executor());
        timer.arm(ioc.get_executor(), std::chrono::hours(1), error::write_timeout, no_deadline, [&] { aborted = true; });
    }
    run_until(ioc, [] { return false; });
    CHECK(ioc.stopped());
    CHECK_FALSE(aborted);
}

TEST_CASE("phase timer: phases whose deadlines come later are served by the pending wait")
{
    asio::io_context ioc;
    phase_timer timer(ioc.get_executor());
    for (int request = 0; request < 100; ++request) {
        timer.arm(ioc.get_executor(), std::chrono::hours(1), error::response_header_timeout, no_deadline, [] {});
        CHECK_FALSE(timer.disarm());
    }
    // A wait restarted or canceled per phase would leave completions to run by now.
    CHECK(ioc.poll() == 0);
}

TEST_CASE("phase timer: the abort runs on the owner's executor, not the timer's")
{
    asio::io_context timer_context;
    asio::io_context owner_context;
    phase_timer timer(timer_context.get_executor());
    bool aborted = false;
    timer.arm(owner_context.get_executor(), 10ms, error::body_read_timeout, no_deadline, [&] { aborted = true; });
    run_until(timer_context, [] { return false; });  // the wait ends and hands the expiry over
    REQUIRE(timer_context.stopped());
    CHECK_FALSE(aborted);
    CHECK_FALSE(timer.expired());
    run_until(owner_context, [&] { return aborted; });
    CHECK(aborted);
    CHECK(timer.disarm() == error::body_read_timeout);
}

TEST_CASE("phase timer: an expiry that reaches the owner after its phase ended aborts nothing")
{
    asio::io_context timer_context;
    asio::io_context owner_context;
    phase_timer timer(timer_context.get_executor());
    bool aborted = false;
    timer.arm(owner_context.get_executor(), 10ms, error::body_read_timeout, no_deadline, [&] { aborted = true; });
    run_until(timer_context, [] { return false; });
    REQUIRE(timer_context.stopped());
    CHECK_FALSE(timer.disarm());  // the phase ended before the owner saw the expiry
    timer.arm(owner_context.get_executor(), std::chrono::hours(1), error::write_timeout, no_deadline,
              [&] { aborted = true; });  // nor is the next phase aborted by it
    run_until(owner_context, [] { return false; });
    CHECK(owner_context.stopped());
    CHECK_FALSE(aborted);
    CHECK_FALSE(timer.disarm());
}

TEST_CASE("phase timer: a phase aborted on a strand while the timer runs on other threads")
{
    asio::thread_pool pool(2);
    auto owner = asio::make_strand(pool.get_executor());
    phase_timer timer(pool.get_executor());
    std::promise<bool> on_owner;
    auto aborted = on_owner.get_future();
    asio::post(owner, [&] {
        timer.arm(owner, 10ms, error::connect_timeout, no_deadline,
                  [&] { on_owner.set_value(owner.running_in_this_thread()); });
    });
    REQUIRE(aborted.wait_for(bound) == std::future_status::ready);
    CHECK(aborted.get());
    std::promise<std::error_code> disarmed;
    asio::post(owner, [&] { disarmed.set_value(timer.disarm()); });
    auto result = disarmed.get_future();
    REQUIRE(result.wait_for(bound) == std::future_status::ready);
    CHECK(result.get() == error::connect_timeout);
    pool.join();
}
