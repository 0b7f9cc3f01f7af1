// The per-request phase timer: one Asio wait serves every phase of a request, moved earlier
// when a phase's deadline is earlier, renewed when the running phase ends later. Runs on a
// plain io_context, no sockets; every run is bounded.
#include <leash/detail/phase_timer.hpp>

#include <asio.hpp>
#include <catch2/catch.hpp>

#include <chrono>
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
    timer.arm(10ms, error::connect_timeout, no_deadline, [&] { aborted = true; });
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
    timer.arm(20ms, error::write_timeout, no_deadline, [&] { aborted = true; });
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
    timer.arm(10ms, error::write_timeout, no_deadline, [&] { aborted_as = error::write_timeout; });
    timer.disarm();
    const auto start = sclock::now();
    timer.arm(60ms, error::response_header_timeout, no_deadline, [&] { aborted_as = error::response_header_timeout; });
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
    timer.arm(std::chrono::hours(1), error::write_timeout, no_deadline, [] {});
    timer.disarm();
    timer.arm(10ms, error::body_read_timeout, no_deadline, [&] { aborted = true; });
    run_until(ioc, [&] { return aborted; });
    REQUIRE(aborted);
    CHECK(timer.disarm() == error::body_read_timeout);
}

TEST_CASE("phase timer: the request deadline wins over a later phase limit")
{
    asio::io_context ioc;
    phase_timer timer(ioc.get_executor());
    bool aborted = false;
    timer.arm(std::chrono::hours(1), error::write_timeout, sclock::now() + 10ms, [&] { aborted = true; });
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
        timer.arm(std::chrono::hours(1), error::write_timeout, no_deadline, [&] { aborted = true; });
    }
    run_until(ioc, [] { return false; });
    CHECK(ioc.stopped());
    CHECK_FALSE(aborted);
}

TEST_CASE("phase timer: a moved timer keeps its phase and its wait")
{
    asio::io_context ioc;
    phase_timer first(ioc.get_executor());
    bool aborted = false;
    first.arm(10ms, error::body_read_timeout, no_deadline, [&] { aborted = true; });
    phase_timer second(std::move(first));
    run_until(ioc, [&] { return aborted; });
    REQUIRE(aborted);
    CHECK(second.disarm() == error::body_read_timeout);
}
