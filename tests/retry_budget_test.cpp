// The retry budget (detail/retry_budget.hpp), with given times: the floor, the ratio to
// calls, the sliding window, and the switch.
#include <leash/detail/retry_budget.hpp>

#include <catch2/catch.hpp>

using leash::detail::retry_budget;
using namespace std::chrono_literals;

namespace {
const retry_budget::clock::time_point t0{std::chrono::hours(1)};

std::size_t retries_allowed(retry_budget& b, retry_budget::clock::time_point at, std::size_t tries = 1000)
{
    std::size_t allowed = 0;
    for (std::size_t i = 0; i < tries; ++i)
        allowed += b.try_retry(at) ? 1 : 0;
    return allowed;
}
} // namespace

TEST_CASE("retry budget: without calls, the floor allows min_per_second per second of the window", "[retry]")
{
    retry_budget b(0.2, 2, 10s);
    CHECK(retries_allowed(b, t0) == 20);
}

TEST_CASE("retry budget: calls add ratio retries each", "[retry]")
{
    retry_budget b(0.5, 0, 10s);
    for (int i = 0; i < 10; ++i)
        b.record_call(t0);
    CHECK(retries_allowed(b, t0) == 5);
    b.record_call(t0 + 1s);
    b.record_call(t0 + 1s);
    CHECK(retries_allowed(b, t0 + 1s) == 1);
}

TEST_CASE("retry budget: calls and retries older than the window no longer count", "[retry]")
{
    retry_budget b(0.5, 0, 10s);
    for (int i = 0; i < 10; ++i)
        b.record_call(t0);
    CHECK(retries_allowed(b, t0) == 5);
    CHECK(retries_allowed(b, t0 + 9s) == 0);   // still in the window
    CHECK(retries_allowed(b, t0 + 10s) == 0);  // the calls left with the retries: nothing either way
    for (int i = 0; i < 4; ++i)
        b.record_call(t0 + 10s);
    CHECK(retries_allowed(b, t0 + 10s) == 2);  // only the new calls count
}

TEST_CASE("retry budget: a negative ratio turns it off", "[retry]")
{
    retry_budget b(-1, 0, 10s);
    CHECK(retries_allowed(b, t0) == 1000);
}
