#include <leash/detail/retry.hpp>

#include <catch2/catch.hpp>

using leash::detail::attempt_facts;
using leash::detail::is_replayable;
using leash::detail::should_retry;

TEST_CASE("retry: a failure on a fresh connection is never retried")
{
    CHECK_FALSE(should_retry({false, false, false}, true));
}

TEST_CASE("retry: a failure after a response byte arrived is never retried")
{
    CHECK_FALSE(should_retry({true, true, true}, true));
    CHECK_FALSE(should_retry({true, false, true}, true));
}

TEST_CASE("retry: nothing written on a reused connection is retried for any method")
{
    CHECK(should_retry({true, false, false}, false));
}

TEST_CASE("retry: a written request on a reused connection is retried only if replayable")
{
    CHECK(should_retry({true, true, false}, true));
    CHECK_FALSE(should_retry({true, true, false}, false));
}

TEST_CASE("retry: idempotent methods, idempotency keys and opt-in make a request replayable")
{
    leash::headers none;
    CHECK(is_replayable("GET", none, false));
    CHECK(is_replayable("HEAD", none, false));
    CHECK(is_replayable("PUT", none, false));
    CHECK(is_replayable("DELETE", none, false));
    CHECK_FALSE(is_replayable("POST", none, false));
    CHECK_FALSE(is_replayable("PATCH", none, false));
    CHECK(is_replayable("POST", none, true));
    leash::headers keyed{{"Idempotency-Key", "k1"}};
    CHECK(is_replayable("POST", keyed, false));
}
