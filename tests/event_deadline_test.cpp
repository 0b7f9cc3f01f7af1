// The deadline of an event stream's next event (detail/event_deadline.hpp), with given times.
#include <leash/detail/event_deadline.hpp>

#include <catch2/catch.hpp>

using leash::detail::event_deadline;
using namespace std::chrono_literals;

namespace {
const event_deadline::clock::time_point t0{};
}

TEST_CASE("event deadline: the first event is due first_event after the start", "[sse]")
{
    const event_deadline d(60s, 10s, t0);
    REQUIRE(d.next());
    CHECK(d.next()->at == t0 + 60s);
    CHECK(d.next()->timeout == leash::error::sse_first_event_timeout);
}

TEST_CASE("event deadline: after an event, the next is due between_events after it", "[sse]")
{
    event_deadline d(60s, 10s, t0);
    d.event_at(t0 + 3s);
    CHECK(d.next()->at == t0 + 13s);
    CHECK(d.next()->timeout == leash::error::sse_event_timeout);
    d.event_at(t0 + 20s);
    CHECK(d.next()->at == t0 + 30s);
}

TEST_CASE("event deadline: without a first-event bound, between_events applies from the start", "[sse]")
{
    const event_deadline d(0s, 10s, t0);
    CHECK(d.next()->at == t0 + 10s);
    CHECK(d.next()->timeout == leash::error::sse_event_timeout);
}

TEST_CASE("event deadline: with both bounds off there is none", "[sse]")
{
    event_deadline d(0s, 0s, t0);
    CHECK_FALSE(d.next());
    d.event_at(t0 + 1s);
    CHECK_FALSE(d.next());
}

TEST_CASE("event deadline: with only a first-event bound, none applies after the first event", "[sse]")
{
    event_deadline d(60s, 0s, t0);
    CHECK(d.next());
    d.event_at(t0 + 1s);
    CHECK_FALSE(d.next());
}
