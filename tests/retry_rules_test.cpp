#include <leash/detail/retry.hpp>
#include <leash/detail/retry_rules.hpp>

#include <catch2/catch.hpp>

#include <asio/error.hpp>

#include <chrono>
#include <cstdint>
#include <limits>
#include <string>
#include <vector>

using namespace std::chrono_literals;
using leash::headers;
using leash::retry_policy;
using leash::detail::attempt_outcome;
using leash::detail::backoff_delay;
using leash::detail::is_connect_failure;
using leash::detail::next_retry_delay;
using leash::detail::server_retry_delay;
using std::chrono::milliseconds;

namespace {

using time_point = std::chrono::system_clock::time_point;

// Sun, 06 Nov 1994 08:49:37 GMT
constexpr std::int64_t rfc_example = 784111777;

time_point at(std::int64_t seconds_since_epoch)
{
    return time_point{std::chrono::seconds{seconds_since_epoch}};
}

std::optional<milliseconds> retry_after(std::string_view value, time_point now = at(rfc_example))
{
    headers h;
    h.add("Retry-After", value);
    return server_retry_delay(h, now);
}

std::optional<milliseconds> retry_after_ms(std::string_view value)
{
    headers h;
    h.add("retry-after-ms", value);
    return server_retry_delay(h, at(rfc_example));
}

const time_point fixed_now = at(rfc_example);

} // namespace

TEST_CASE("retry rules: Retry-After delta-seconds is a delay in seconds")
{
    CHECK(retry_after("120") == milliseconds(120000));
    CHECK(retry_after("0") == 0ms);
    CHECK(retry_after("007") == 7000ms);
}

TEST_CASE("retry rules: no retry-after field gives no server delay")
{
    headers h;
    h.add("Content-Type", "text/plain");
    CHECK_FALSE(server_retry_delay(h, fixed_now));
}

TEST_CASE("retry rules: Retry-After IMF-fixdate is relative to now")
{
    CHECK(retry_after("Sun, 06 Nov 1994 08:49:37 GMT", at(rfc_example - 30)) == 30000ms);
    CHECK(retry_after("Sun, 06 Nov 1994 08:50:37 GMT", at(rfc_example)) == 60000ms);
}

TEST_CASE("retry rules: Retry-After RFC 850 date is relative to now")
{
    CHECK(retry_after("Sunday, 06-Nov-94 08:49:37 GMT", at(rfc_example - 30)) == 30000ms);
}

TEST_CASE("retry rules: an RFC 850 two-digit year is at most 50 years in the future")
{
    const auto june_2025 = at(1748736000);
    // 2030, not 1930.
    CHECK(retry_after("Tuesday, 01-Jan-30 00:00:00 GMT", june_2025) == milliseconds((1893456000LL - 1748736000LL) * 1000));
    // 1994, not 2094: so it lies in the past.
    CHECK(retry_after("Sunday, 06-Nov-94 08:49:37 GMT", june_2025) == 0ms);
}

TEST_CASE("retry rules: calendar dates convert beyond the years std::chrono::year holds")
{
    // A clock whose representation reaches further than system_clock's nanoseconds here can
    // put now, and so an RFC 850 date, in such a year.
    using leash::detail::retry_after::days_from_civil;
    using leash::detail::retry_after::year_of_day;
    CHECK(days_from_civil(40030, 1, 1) == 13901130);
    CHECK(days_from_civil(40000, 2, 29) == 13890231);  // a leap year (divisible by 400)
    CHECK_FALSE(days_from_civil(40100, 2, 29));         // not one (divisible by 100)
    CHECK(days_from_civil(-40000, 3, 1) == -15329168);
    CHECK(year_of_day(13901130) == 40030);
    CHECK(year_of_day(13901129) == 40029);
    CHECK(year_of_day(-15329168) == -40000);
}

TEST_CASE("retry rules: Retry-After asctime date is relative to now")
{
    CHECK(retry_after("Sun Nov  6 08:49:37 1994", at(rfc_example - 30)) == 30000ms);
    CHECK(retry_after("Wed Nov 16 08:49:37 1994", at(rfc_example)) == milliseconds(10LL * 86400 * 1000));
}

TEST_CASE("retry rules: dates convert to the right instant across leap years")
{
    const auto epoch = at(0);
    CHECK(retry_after("Thu, 01 Jan 1970 00:00:01 GMT", epoch) == 1000ms);
    CHECK(retry_after("Tue, 29 Feb 2000 12:00:00 GMT", epoch) == milliseconds(951825600LL * 1000));
    CHECK(retry_after("Tue, 01 Jan 2030 00:00:00 GMT", epoch) == milliseconds(1893456000LL * 1000));
    CHECK(retry_after("Thu, 29 Feb 1996 00:00:00 GMT", epoch) == milliseconds(825552000LL * 1000));
}

TEST_CASE("retry rules: a date in the past gives zero delay")
{
    CHECK(retry_after("Sun, 06 Nov 1994 08:49:36 GMT") == 0ms);
    CHECK(retry_after("Sat, 01 Jan 0000 00:00:00 GMT") == 0ms);
    CHECK(retry_after("Sun Nov  6 08:49:37 1994", at(rfc_example + 3600)) == 0ms);
}

TEST_CASE("retry rules: a sub-millisecond part of now never shortens a date's delay")
{
    const auto now = at(rfc_example - 1) + std::chrono::microseconds(500);
    CHECK(retry_after("Sun, 06 Nov 1994 08:49:37 GMT", now) == 1000ms);
}

TEST_CASE("retry rules: retry-after-ms wins over Retry-After")
{
    headers h;
    h.add("Retry-After", "120");
    h.add("Retry-After-Ms", "250");
    CHECK(server_retry_delay(h, fixed_now) == 250ms);
}

TEST_CASE("retry rules: retry-after-ms accepts a fraction and rounds it up")
{
    CHECK(retry_after_ms("1.5") == 2ms);
    CHECK(retry_after_ms("0.001") == 1ms);
    CHECK(retry_after_ms("12.000") == 12ms);
    CHECK(retry_after_ms("0") == 0ms);
}

TEST_CASE("retry rules: an invalid retry-after-ms falls back to Retry-After")
{
    headers h;
    h.add("retry-after-ms", "soon");
    h.add("Retry-After", "3");
    CHECK(server_retry_delay(h, fixed_now) == 3000ms);
}

TEST_CASE("retry rules: malformed Retry-After numbers give no delay")
{
    for (auto v : {"-5", "abc", "1e3", "1.5", "+5", "5s", "5 5", "0x10", "", "99999999999999999999",
                   "9223372036854775807", "9223372036854776"}) {
        INFO(v);
        CHECK_FALSE(retry_after(v));
    }
}

TEST_CASE("retry rules: malformed retry-after-ms values give no delay")
{
    for (auto v : {"-5", "abc", "1e3", ".5", "5.", "1.2.3", "1,5", "", "99999999999999999999",
                   "9223372036854775807.5"}) {
        INFO(v);
        CHECK_FALSE(retry_after_ms(v));
    }
    CHECK(retry_after_ms("9223372036854775807") == milliseconds::max());
}

TEST_CASE("retry rules: dates with bad or out-of-range fields give no delay")
{
    for (auto v : {"Sun, 06 Foo 1994 08:49:37 GMT", // month
                   "Sun, 06 nov 1994 08:49:37 GMT", // names are case-sensitive
                   "Sun, 32 Nov 1994 08:49:37 GMT", // day
                   "Sun, 00 Nov 1994 08:49:37 GMT",
                   "Sun, 31 Nov 1994 08:49:37 GMT", // November has 30 days
                   "Tue, 29 Feb 1994 08:49:37 GMT", // not a leap year
                   "Thu, 29 Feb 1900 08:49:37 GMT", // nor is 1900
                   "Sun, 06 Nov 1994 24:00:00 GMT", // hour
                   "Sun, 06 Nov 1994 08:60:37 GMT", // minute
                   "Sun, 06 Nov 1994 08:49:61 GMT", // second
                   "Sun, 06 Nov 1994 8:49:37 GMT",
                   "Sun, 06 Nov 94 08:49:37 GMT",
                   "Sun, 6 Nov 1994 08:49:37 GMT",
                   "Sun, 06 Nov 1994 08:49:37 UTC",
                   "Sun, 06 Nov 1994 08:49:37 gmt",
                   "Sun, 06 Nov 1994 08:49:37",
                   "Sun, 06 Nov 1994 08:49:37 GMT x",
                   "Sun,  06 Nov 1994 08:49:37 GMT",
                   "Xyz, 06 Nov 1994 08:49:37 GMT",
                   "Sunday, 06 Nov 1994 08:49:37 GMT",
                   "Sun, 06-Nov-94 08:49:37 GMT",
                   "Sunday, 06-Nov-1994 08:49:37 GMT",
                   "Sunday, 31-Feb-94 08:49:37 GMT",
                   "Sun Nov 6 08:49:37 1994",
                   "Sun Nov  06 08:49:37 1994",
                   "Sun Nov 36 08:49:37 1994",
                   "Sun Nov  6 08:49:37 94",
                   "Sun Nov  6 08:49:37 1994 GMT",
                   "Sun Now  6 08:49:37 1994"}) {
        INFO(v);
        CHECK_FALSE(retry_after(v));
    }
}

TEST_CASE("retry rules: a leap second is a valid time of day")
{
    CHECK(retry_after("Sun, 06 Nov 1994 08:49:60 GMT", at(rfc_example + 23)) == 0ms);
    CHECK(retry_after("Sun, 06 Nov 1994 08:49:60 GMT", at(rfc_example)) == 23000ms);
}

TEST_CASE("retry rules: connect and resolve failures are connect failures")
{
    CHECK(is_connect_failure(leash::error::connect_timeout));
    CHECK(is_connect_failure(leash::error::resolve_timeout));
    CHECK(is_connect_failure(asio::error::connection_refused));
    CHECK(is_connect_failure(asio::error::host_unreachable));
    CHECK(is_connect_failure(asio::error::network_unreachable));
    CHECK(is_connect_failure(asio::error::network_down));
    CHECK(is_connect_failure(asio::error::host_not_found_try_again));
}

TEST_CASE("retry rules: TLS, I/O and other failures are not connect failures")
{
    CHECK_FALSE(is_connect_failure({}));
    CHECK_FALSE(is_connect_failure(leash::error::tls_handshake_timeout));
    CHECK_FALSE(is_connect_failure(leash::error::response_header_timeout));
    CHECK_FALSE(is_connect_failure(leash::error::closed_before_response));
    CHECK_FALSE(is_connect_failure(asio::error::connection_reset));
    CHECK_FALSE(is_connect_failure(asio::error::operation_aborted));
    CHECK_FALSE(is_connect_failure(asio::error::host_not_found));
    CHECK_FALSE(is_connect_failure(asio::error::eof));
}

TEST_CASE("retry rules: backoff grows by the multiplier")
{
    retry_policy p;
    CHECK(backoff_delay(p, 0, 0) == 500ms);
    CHECK(backoff_delay(p, 1, 0) == 1000ms);
    CHECK(backoff_delay(p, 2, 0) == 2000ms);
    CHECK(backoff_delay(p, 3, 0) == 4000ms);
    p.backoff_multiplier = 3;
    CHECK(backoff_delay(p, 2, 0) == 4500ms);
}

TEST_CASE("retry rules: backoff is capped at max_backoff")
{
    retry_policy p;
    CHECK(backoff_delay(p, 4, 0) == 8000ms);
    CHECK(backoff_delay(p, 5, 0) == 8000ms);
    CHECK(backoff_delay(p, 20, 0) == 8000ms);
    p.max_backoff = 100ms;
    CHECK(backoff_delay(p, 0, 0) == 100ms);
}

TEST_CASE("retry rules: jitter subtracts up to its fraction of the delay")
{
    retry_policy p;
    CHECK(backoff_delay(p, 0, 0.0) == 500ms);
    CHECK(backoff_delay(p, 0, 0.5) == 438ms); // 500 - 62.5, rounded up
    const auto low = backoff_delay(p, 0, 0.999);
    CHECK(low.count() == Approx(375).margin(1));
    CHECK(low >= 375ms);
    // Jitter applies to the capped delay.
    CHECK(backoff_delay(p, 10, 0.999).count() == Approx(6000).margin(2));
}

TEST_CASE("retry rules: out-of-range jitter and random numbers are clamped")
{
    retry_policy p;
    CHECK(backoff_delay(p, 0, -1.0) == 500ms);
    CHECK(backoff_delay(p, 0, 5.0) == 375ms);
    CHECK(backoff_delay(p, 0, std::numeric_limits<double>::quiet_NaN()) == 500ms);
    p.jitter = 2.0;
    CHECK(backoff_delay(p, 0, 1.0) == 0ms);
    p.jitter = -1.0;
    CHECK(backoff_delay(p, 0, 0.9) == 500ms);
}

TEST_CASE("retry rules: huge retry counts do not overflow the backoff")
{
    retry_policy p;
    constexpr auto huge = std::numeric_limits<std::size_t>::max();
    CHECK(backoff_delay(p, huge, 0) == 8000ms);
    CHECK(backoff_delay(p, 100000, 0.5) == 7000ms);

    p.max_backoff = milliseconds::max();
    CHECK(backoff_delay(p, huge, 0) == milliseconds::max());
    CHECK(backoff_delay(p, huge, 0.5) > 0ms);
    CHECK(backoff_delay(p, huge, 0.5) < milliseconds::max());
    p.jitter = 1.0;
    CHECK(backoff_delay(p, huge, 1.0) == 0ms);
}

TEST_CASE("retry rules: backoff is never negative")
{
    retry_policy p;
    p.initial_backoff = -5ms;
    CHECK(backoff_delay(p, 3, 0) == 0ms);
    p.initial_backoff = 0ms;
    CHECK(backoff_delay(p, std::numeric_limits<std::size_t>::max(), 0) == 0ms);
    p.initial_backoff = 500ms;
    p.backoff_multiplier = -2;
    CHECK(backoff_delay(p, 1, 0) == 0ms);
    p.backoff_multiplier = std::numeric_limits<double>::quiet_NaN();
    CHECK(backoff_delay(p, 1, 0) == 0ms);
    p.backoff_multiplier = 2;
    p.max_backoff = -1ms;
    CHECK(backoff_delay(p, 1, 0) == 0ms);
}

TEST_CASE("retry rules: a retryable status is retried after the backoff")
{
    retry_policy p;
    headers h;
    for (int status : {408, 429, 500, 502, 503, 504}) {
        INFO(status);
        CHECK(next_retry_delay(p, 0, {{}, status, &h}, true, fixed_now, 0) == 500ms);
    }
    CHECK(next_retry_delay(p, 1, {{}, 503, &h}, true, fixed_now, 0) == 1000ms);
    CHECK(next_retry_delay(p, 0, {{}, 503, nullptr}, true, fixed_now, 0) == 500ms);
}

TEST_CASE("retry rules: a status not in retry_statuses is not retried")
{
    retry_policy p;
    headers h;
    for (int status : {200, 201, 204, 301, 304, 400, 401, 404, 409, 501, 505}) {
        INFO(status);
        CHECK_FALSE(next_retry_delay(p, 0, {{}, status, &h}, true, fixed_now, 0));
    }
    p.retry_statuses = {404};
    CHECK(next_retry_delay(p, 0, {{}, 404, &h}, true, fixed_now, 0));
    CHECK_FALSE(next_retry_delay(p, 0, {{}, 503, &h}, true, fixed_now, 0));
}

TEST_CASE("retry rules: which outcomes are retried, by method, replayability and retry_unprocessed")
{
    // An outcome, what it proves, and whether each kind of request is retried after it.
    struct row {
        const char* outcome;
        attempt_outcome what;
        bool replayable_retried;    // GET, or POST with Idempotency-Key
        bool unprocessed_retried;   // POST, with retry_unprocessed (the default)
    };
    headers none;
    headers retry_after{{"Retry-After", "1"}};
    headers retry_after_ms{{"retry-after-ms", "20"}};
    headers bad_retry_after{{"Retry-After", "soon"}};
    const std::vector<row> table{
        {"connection refused", {asio::error::connection_refused, 0, nullptr}, true, true},
        {"host unreachable", {asio::error::host_unreachable, 0, nullptr}, true, true},
        {"connect timeout", {leash::error::connect_timeout, 0, nullptr}, true, true},
        {"resolve timeout", {leash::error::resolve_timeout, 0, nullptr}, true, true},
        {"connection reset", {asio::error::connection_reset, 0, nullptr}, false, false},
        {"response header timeout", {leash::error::response_header_timeout, 0, nullptr}, false, false},
        {"tls handshake timeout", {leash::error::tls_handshake_timeout, 0, nullptr}, false, false},
        {"429", {{}, 429, &none}, true, true},
        {"429 with Retry-After", {{}, 429, &retry_after}, true, true},
        {"503", {{}, 503, &none}, true, false},
        {"503 with Retry-After", {{}, 503, &retry_after}, true, true},
        {"503 with retry-after-ms", {{}, 503, &retry_after_ms}, true, true},
        {"503 with a malformed Retry-After", {{}, 503, &bad_retry_after}, true, false},
        {"500", {{}, 500, &none}, true, false},
        {"502", {{}, 502, &none}, true, false},
        {"504 with Retry-After", {{}, 504, &retry_after}, true, false},
        {"408", {{}, 408, &none}, true, false},
        {"404", {{}, 404, &none}, false, false},
    };
    headers idempotency_key{{"Idempotency-Key", "k1"}};
    for (const auto& r : table) {
        for (const bool unprocessed_on : {true, false}) {
            retry_policy p;
            p.retry_unprocessed = unprocessed_on;
            CAPTURE(r.outcome, unprocessed_on);
            const bool get = leash::detail::is_replayable("GET", none, false);
            const bool post = leash::detail::is_replayable("POST", none, false);
            const bool keyed_post = leash::detail::is_replayable("POST", idempotency_key, false);
            CHECK(next_retry_delay(p, 0, r.what, get, fixed_now, 0).has_value() == r.replayable_retried);
            CHECK(next_retry_delay(p, 0, r.what, keyed_post, fixed_now, 0).has_value() == r.replayable_retried);
            CHECK(next_retry_delay(p, 0, r.what, post, fixed_now, 0).has_value()
                  == (unprocessed_on && r.unprocessed_retried));
        }
    }
}

TEST_CASE("retry rules: a POST's unprocessed outcome is not retried when the policy does not retry it")
{
    retry_policy p;
    p.retry_statuses = {503};
    headers none;
    CHECK_FALSE(next_retry_delay(p, 0, {{}, 429, &none}, false, fixed_now, 0));
    p.retry_connect_failures = false;
    CHECK_FALSE(next_retry_delay(p, 0, {asio::error::connection_refused, 0, nullptr}, false, fixed_now, 0));
}

TEST_CASE("retry rules: no more than max_retries retries")
{
    retry_policy p;
    p.max_retries = 2;
    headers h;
    CHECK(next_retry_delay(p, 0, {{}, 503, &h}, true, fixed_now, 0));
    CHECK(next_retry_delay(p, 1, {{}, 503, &h}, true, fixed_now, 0));
    CHECK_FALSE(next_retry_delay(p, 2, {{}, 503, &h}, true, fixed_now, 0));
    CHECK_FALSE(next_retry_delay(p, 3, {{}, 503, &h}, true, fixed_now, 0));
    p.max_retries = 0;
    CHECK_FALSE(next_retry_delay(p, 0, {{}, 503, &h}, true, fixed_now, 0));
}

TEST_CASE("retry rules: connect failures are retried only when enabled")
{
    retry_policy p;
    for (std::error_code ec : {std::error_code(leash::error::connect_timeout), std::error_code(asio::error::connection_refused),
                               std::error_code(asio::error::host_not_found_try_again)}) {
        INFO(ec.message());
        p.retry_connect_failures = true;
        CHECK(next_retry_delay(p, 0, {ec, 0, nullptr}, true, fixed_now, 0) == 500ms);
        p.retry_connect_failures = false;
        CHECK_FALSE(next_retry_delay(p, 0, {ec, 0, nullptr}, true, fixed_now, 0));
    }
}

TEST_CASE("retry rules: errors other than connect failures are not retried")
{
    retry_policy p;
    for (std::error_code ec : {std::error_code(leash::error::response_header_timeout),
                               std::error_code(leash::error::tls_handshake_timeout),
                               std::error_code(leash::error::unexpected_eof),
                               std::error_code(asio::error::connection_reset),
                               std::error_code(asio::error::operation_aborted)}) {
        INFO(ec.message());
        CHECK_FALSE(next_retry_delay(p, 0, {ec, 0, nullptr}, true, fixed_now, 0));
    }
}

TEST_CASE("retry rules: an error wins over a status in the outcome")
{
    retry_policy p;
    CHECK_FALSE(next_retry_delay(p, 0, {asio::error::connection_reset, 503, nullptr}, true, fixed_now, 0));
}

TEST_CASE("retry rules: the server's delay is honoured")
{
    retry_policy p;
    headers h;
    h.add("Retry-After", "3");
    CHECK(next_retry_delay(p, 0, {{}, 503, &h}, true, fixed_now, 0.9) == 3000ms);

    headers dated;
    dated.add("Retry-After", "Sun, 06 Nov 1994 08:49:47 GMT");
    CHECK(next_retry_delay(p, 0, {{}, 429, &dated}, true, fixed_now, 0.9) == 10000ms);

    headers past;
    past.add("Retry-After", "Sun, 06 Nov 1994 08:00:00 GMT");
    CHECK(next_retry_delay(p, 1, {{}, 429, &past}, true, fixed_now, 0.9) == 0ms);

    headers exact;
    exact.add("Retry-After", "60");
    CHECK(next_retry_delay(p, 0, {{}, 503, &exact}, true, fixed_now, 0) == 60000ms);
}

TEST_CASE("retry rules: a server delay above max_retry_after falls back to the backoff")
{
    retry_policy p;
    headers h;
    h.add("Retry-After", "61");
    CHECK(next_retry_delay(p, 0, {{}, 503, &h}, true, fixed_now, 0) == 500ms);
    p.max_retry_after = 0ms;
    headers small;
    small.add("retry-after-ms", "1");
    CHECK(next_retry_delay(p, 1, {{}, 503, &small}, true, fixed_now, 0) == 1000ms);
}

TEST_CASE("retry rules: a malformed server delay falls back to the backoff")
{
    retry_policy p;
    headers h;
    h.add("Retry-After", "soon");
    CHECK(next_retry_delay(p, 0, {{}, 503, &h}, true, fixed_now, 0) == 500ms);
}
