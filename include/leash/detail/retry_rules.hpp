// The application-level retry decision, without I/O: given what happened on one attempt and
// the retry_policy, how long to wait before sending the request again, if at all. Also the
// parts it is made of: the server's requested delay (retry-after-ms, Retry-After), which
// errors mean the request never reached the server, and the exponential backoff.
// Everything here is pure: the caller passes the current time and a random number.
#pragma once

#include <leash/detail/decimal.hpp>
#include <leash/error.hpp>
#include <leash/headers.hpp>
#include <leash/retry_policy.hpp>

#include <asio/error.hpp>

#include <algorithm>
#include <array>
#include <charconv>
#include <chrono>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <limits>
#include <optional>
#include <string_view>
#include <system_error>

namespace leash::detail {

namespace retry_after {

using ms_rep = std::chrono::milliseconds::rep;
inline constexpr ms_rep max_ms = std::numeric_limits<ms_rep>::max();

inline constexpr bool is_digit(char c) noexcept { return c >= '0' && c <= '9'; }

// a / b rounded towards negative infinity (b > 0).
inline constexpr std::int64_t floor_div(std::int64_t a, std::int64_t b) noexcept
{
    return a / b - (a % b < 0 ? 1 : 0);
}

// The Gregorian calendar repeats every 400 years, which are 146097 days. Dates are moved by
// whole eras into years that std::chrono::year holds before std::chrono converts them, so
// that years outside its range (a clock reading far in the future) convert too.
inline constexpr std::int64_t era_years = 400;
inline constexpr std::int64_t era_days = 146097;

// Days from 1970-01-01 to y-m-d, or nullopt if there is no such day (February 30).
inline std::optional<std::int64_t> days_from_civil(std::int64_t y, unsigned m, unsigned d) noexcept
{
    const std::int64_t eras = floor_div(y, era_years);
    const std::chrono::year_month_day date{std::chrono::year{static_cast<int>(y - eras * era_years)},
                                           std::chrono::month{m}, std::chrono::day{d}};
    if (!date.ok())
        return std::nullopt;
    return std::chrono::sys_days{date}.time_since_epoch().count() + eras * era_days;
}

// The calendar year that contains the given day (days from 1970-01-01).
inline std::int64_t year_of_day(std::int64_t day) noexcept
{
    const std::int64_t eras = floor_div(day, era_days);
    const std::chrono::year_month_day date{std::chrono::sys_days{std::chrono::days{day - eras * era_days}}};
    return static_cast<int>(date.year()) + eras * era_years;
}

// A cursor over a header value that consumes exact pieces of the date grammar. Every
// function returns false, without a partial result being used, when the input differs.
class date_reader {
public:
    explicit date_reader(std::string_view s) noexcept : s_(s) {}

    bool done() const noexcept { return s_.empty(); }

    bool literal(std::string_view lit) noexcept
    {
        if (s_.substr(0, lit.size()) != lit)
            return false;
        s_.remove_prefix(lit.size());
        return true;
    }

    // Exactly n digits.
    bool digits(std::size_t n, unsigned& out) noexcept
    {
        if (s_.size() < n)
            return false;
        const char* end = s_.data() + n;
        unsigned v = 0;
        if (std::from_chars(s_.data(), end, v).ptr != end)
            return false;
        s_.remove_prefix(n);
        out = v;
        return true;
    }

    // One of the names (case-sensitive, as RFC 9110 defines them); out is its index.
    template <std::size_t N>
    bool one_of(const std::array<std::string_view, N>& names, unsigned& out) noexcept
    {
        for (std::size_t i = 0; i < N; ++i) {
            if (literal(names[i])) {
                out = static_cast<unsigned>(i);
                return true;
            }
        }
        return false;
    }

    // The month name; out is 1..12.
    bool month(unsigned& out) noexcept
    {
        static constexpr std::array<std::string_view, 12> names{
            "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"};
        if (!one_of(names, out))
            return false;
        ++out;
        return true;
    }

    bool short_day_name() noexcept
    {
        static constexpr std::array<std::string_view, 7> names{"Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun"};
        unsigned ignored = 0;
        return one_of(names, ignored);
    }

    bool long_day_name() noexcept
    {
        static constexpr std::array<std::string_view, 7> names{"Monday", "Tuesday", "Wednesday", "Thursday",
                                                               "Friday", "Saturday", "Sunday"};
        unsigned ignored = 0;
        return one_of(names, ignored);
    }

    // hour ":" minute ":" second, 00:00:00 to 23:59:60 (leap second).
    bool time_of_day(unsigned& h, unsigned& m, unsigned& s) noexcept
    {
        return digits(2, h) && literal(":") && digits(2, m) && literal(":") && digits(2, s) && h <= 23
            && m <= 59 && s <= 60;
    }

private:
    std::string_view s_;
};

struct civil_time {
    std::int64_t year = 0;
    unsigned month = 0, day = 0, hour = 0, minute = 0, second = 0;
};

// Seconds since the epoch, or nullopt if the day does not exist in that month.
inline std::optional<std::int64_t> to_epoch_seconds(const civil_time& t) noexcept
{
    const auto day = days_from_civil(t.year, t.month, t.day);
    if (!day)
        return std::nullopt;
    const auto since_epoch = std::chrono::days{*day} + std::chrono::hours{t.hour} + std::chrono::minutes{t.minute}
        + std::chrono::seconds{t.second};
    return std::chrono::seconds{since_epoch}.count();
}

// IMF-fixdate: "Sun, 06 Nov 1994 08:49:37 GMT".
inline std::optional<std::int64_t> parse_imf_fixdate(std::string_view v) noexcept
{
    date_reader r(v);
    civil_time t;
    unsigned year = 0;
    if (r.short_day_name() && r.literal(", ") && r.digits(2, t.day) && r.literal(" ") && r.month(t.month)
        && r.literal(" ") && r.digits(4, year) && r.literal(" ") && r.time_of_day(t.hour, t.minute, t.second)
        && r.literal(" GMT") && r.done()) {
        t.year = year;
        return to_epoch_seconds(t);
    }
    return std::nullopt;
}

// Obsolete RFC 850 date: "Sunday, 06-Nov-94 08:49:37 GMT". The two-digit year is the one
// nearest `now_year` that is at most 50 years in the future (RFC 9110 section 5.6.7).
inline std::optional<std::int64_t> parse_rfc850_date(std::string_view v, std::int64_t now_year) noexcept
{
    date_reader r(v);
    civil_time t;
    unsigned yy = 0;
    if (r.long_day_name() && r.literal(", ") && r.digits(2, t.day) && r.literal("-") && r.month(t.month)
        && r.literal("-") && r.digits(2, yy) && r.literal(" ") && r.time_of_day(t.hour, t.minute, t.second)
        && r.literal(" GMT") && r.done()) {
        t.year = floor_div(now_year, 100) * 100 + yy;
        if (t.year > now_year + 50)
            t.year -= 100;
        return to_epoch_seconds(t);
    }
    return std::nullopt;
}

// Obsolete asctime date: "Sun Nov  6 08:49:37 1994" (day as two digits or space and digit;
// the time is GMT).
inline std::optional<std::int64_t> parse_asctime_date(std::string_view v) noexcept
{
    date_reader r(v);
    civil_time t;
    unsigned year = 0;
    if (!(r.short_day_name() && r.literal(" ") && r.month(t.month) && r.literal(" ")))
        return std::nullopt;
    if (!(r.literal(" ") ? r.digits(1, t.day) : r.digits(2, t.day)))
        return std::nullopt;
    if (r.literal(" ") && r.time_of_day(t.hour, t.minute, t.second) && r.literal(" ") && r.digits(4, year)
        && r.done()) {
        t.year = year;
        return to_epoch_seconds(t);
    }
    return std::nullopt;
}

// An HTTP-date in any of the three forms, as seconds since the epoch. The day name is
// checked for spelling but not against the date.
inline std::optional<std::int64_t> parse_http_date(std::string_view v, std::int64_t now_year) noexcept
{
    if (auto t = parse_imf_fixdate(v))
        return t;
    if (auto t = parse_rfc850_date(v, now_year))
        return t;
    return parse_asctime_date(v);
}

// The digits v starts with (1*DIGIT), taken off v, as long as value * scale fits in milliseconds.
inline std::optional<ms_rep> parse_decimal(std::string_view& v, ms_rep scale) noexcept
{
    const auto digits = leading_digits(v);
    ms_rep value = 0;
    if (parse_decimal_digits(digits, value) != decimal_parse::ok || value > max_ms / scale)
        return std::nullopt;
    v.remove_prefix(digits.size());
    return value * scale;
}

// retry-after-ms: 1*DIGIT [ "." 1*DIGIT ] milliseconds. A fraction rounds up, so the
// retry is never earlier than asked.
inline std::optional<std::chrono::milliseconds> parse_retry_after_ms(std::string_view v) noexcept
{
    v = trim_ows(v);
    auto whole = parse_decimal(v, 1);
    if (!whole)
        return std::nullopt;
    bool fraction = false;
    if (!v.empty() && v.front() == '.') {
        v.remove_prefix(1);
        const auto digits = leading_digits(v);
        if (digits.empty())
            return std::nullopt;
        fraction = digits.find_first_not_of('0') != std::string_view::npos;
        v.remove_prefix(digits.size());
    }
    if (!v.empty())
        return std::nullopt;
    if (fraction) {
        if (*whole == max_ms)
            return std::nullopt;
        ++*whole;
    }
    return std::chrono::milliseconds(*whole);
}

// Retry-After: delta-seconds or HTTP-date, relative to now.
inline std::optional<std::chrono::milliseconds> parse_retry_after(std::string_view v,
                                                                  std::chrono::system_clock::time_point now) noexcept
{
    v = trim_ows(v);
    if (!v.empty() && is_digit(v.front())) {
        auto ms = parse_decimal(v, 1000);
        if (!ms || !v.empty())
            return std::nullopt;
        return std::chrono::milliseconds(*ms);
    }
    // Whole milliseconds, rounded down, so a sub-millisecond part of now lengthens the delay
    // rather than shortening it.
    // Clamped far beyond any real clock reading (about 36 million years either way), so that
    // the arithmetic below stays in range whatever the clock's representation.
    constexpr std::int64_t now_limit = std::int64_t{1} << 60;
    const std::int64_t now_ms = std::clamp<std::int64_t>(
        std::chrono::floor<std::chrono::milliseconds>(now.time_since_epoch()).count(), -now_limit, now_limit);
    const auto today = std::chrono::floor<std::chrono::days>(std::chrono::milliseconds{now_ms});
    const auto date = parse_http_date(v, year_of_day(today.count()));
    if (!date)
        return std::nullopt;
    // The year has four digits or lies within a century of now's, so |date * 1000| stays
    // below 2e18 and neither this product nor the difference can overflow.
    const std::int64_t diff = *date * 1000 - now_ms;
    return std::chrono::milliseconds(diff > 0 ? diff : 0);
}

} // namespace retry_after

// The delay a server asked for before the request is sent again, and the field it came
// from: "retry-after-ms: <milliseconds>" (non-negative decimal, may have a fraction, which
// rounds up) when present and valid, else "Retry-After: <delta-seconds>" or "Retry-After:
// <HTTP-date>" (RFC 9110 sections 10.2.3 and 5.6.7: IMF-fixdate and the obsolete RFC 850 and
// asctime forms), relative to now. A date in the past gives zero. A malformed value
// (negative, not a number, overflowing, a field out of range, a day that does not exist)
// gives nullopt. Only the first field of each name counts.
struct server_delay {
    std::chrono::milliseconds delay;
    retry_delay_source source;
};

inline std::optional<server_delay> server_retry_delay_of(const headers& h, std::chrono::system_clock::time_point now)
{
    if (auto v = h.get("retry-after-ms"))
        if (auto d = retry_after::parse_retry_after_ms(*v))
            return server_delay{*d, retry_delay_source::retry_after_ms};
    if (auto v = h.get("Retry-After"))
        if (auto d = retry_after::parse_retry_after(*v, now))
            return server_delay{*d, retry_delay_source::retry_after};
    return std::nullopt;
}

// server_retry_delay_of's delay alone.
inline std::optional<std::chrono::milliseconds> server_retry_delay(const headers& h,
                                                                   std::chrono::system_clock::time_point now)
{
    const auto d = server_retry_delay_of(h, now);
    return d ? std::optional<std::chrono::milliseconds>(d->delay) : std::nullopt;
}

// True if the error means the request never reached the server, so sending it again cannot
// repeat its effect: connect or resolve timeout, connection refused, host or network
// unreachable, network down, temporary name resolution failure. TLS failures (including
// tls_handshake_timeout) are not: the server may be the wrong one, and retrying will not
// change that.
inline bool is_connect_failure(const std::error_code& ec) noexcept
{
    return ec == error::connect_timeout || ec == error::resolve_timeout || ec == asio::error::connection_refused
        || ec == asio::error::host_unreachable || ec == asio::error::network_unreachable
        || ec == asio::error::network_down || ec == asio::error::host_not_found_try_again;
}

// The backoff before retry number `retry` (0 = first retry): min(max_backoff,
// initial_backoff * backoff_multiplier^retry), less jitter * random_unit of itself.
// jitter and random_unit are clamped to [0, 1] (NaN counts as 0). Never negative (a negative
// or NaN product counts as zero) and never overflows, however large `retry` is.
inline std::chrono::milliseconds backoff_delay(const retry_policy& p, std::size_t retry, double random_unit) noexcept
{
    const auto clamp_unit = [](double x) { return x > 0 ? (x < 1 ? x : 1.0) : 0.0; };
    const auto cap = std::max<retry_after::ms_rep>(p.max_backoff.count(), 0);
    const auto initial = std::max<retry_after::ms_rep>(p.initial_backoff.count(), 0);

    double delay = 0;
    if (initial > 0) {
        delay = static_cast<double>(initial) * std::pow(p.backoff_multiplier, static_cast<double>(retry));
        if (!(delay > 0))
            delay = 0;
    }
    // Cap while still in double: the product may be infinite or beyond the range of the
    // representation.
    const retry_after::ms_rep base = delay < static_cast<double>(cap) ? static_cast<retry_after::ms_rep>(delay) : cap;
    const double cut = static_cast<double>(base) * clamp_unit(p.jitter) * clamp_unit(random_unit);
    if (!(cut < static_cast<double>(base)))
        return std::chrono::milliseconds(0);
    // cut < base here, so the conversion cannot overflow and the result is not negative.
    return std::chrono::milliseconds(base - static_cast<retry_after::ms_rep>(cut));
}

// What happened on one attempt.
struct attempt_outcome {
    std::error_code error;                     // set if no response arrived
    int status = 0;                            // the response status, if one arrived
    const headers* response_headers = nullptr; // that response's headers
};

// Whether the policy retries this kind of outcome at all: a connect failure (see
// is_connect_failure) with p.retry_connect_failures, or a status in p.retry_statuses.
inline bool is_retryable_outcome(const retry_policy& p, const attempt_outcome& outcome) noexcept
{
    return outcome.error
        ? p.retry_connect_failures && is_connect_failure(outcome.error)
        : std::find(p.retry_statuses.begin(), p.retry_statuses.end(), outcome.status) != p.retry_statuses.end();
}

// Whether the outcome proves that the server did not process the request, so that sending
// even a POST again cannot repeat its effect (or its bill): it never reached the server (a
// connect failure), or the server refused it before processing (429, or 503 with a valid
// Retry-After or retry-after-ms). A 500, 502 or 504 proves nothing: it may come after the
// work was done.
inline bool is_provably_unprocessed(const attempt_outcome& outcome, std::chrono::system_clock::time_point now)
{
    if (outcome.error)
        return is_connect_failure(outcome.error);
    if (outcome.status == 429)
        return true;
    return outcome.status == 503 && outcome.response_headers && server_retry_delay(*outcome.response_headers, now);
}

// The next attempt, or nullopt to stop and hand the outcome to the caller. Retries only if
// retries_done < p.max_retries, the policy retries the outcome (is_retryable_outcome), and
// either the request is replayable or, with p.retry_unprocessed, the outcome proves the
// request was not processed (is_provably_unprocessed). The delay is the server's
// (server_retry_delay_of the response headers) when present and at most p.max_retry_after,
// else backoff_delay(p, retries_done, random_unit).
struct retry_plan {
    std::chrono::milliseconds delay;
    retry_delay_source source;
};

inline std::optional<retry_plan> next_retry(const retry_policy& p, std::size_t retries_done,
                                            const attempt_outcome& outcome, bool replayable,
                                            std::chrono::system_clock::time_point now, double random_unit)
{
    if (retries_done >= p.max_retries || !is_retryable_outcome(p, outcome))
        return std::nullopt;
    if (!replayable && !(p.retry_unprocessed && is_provably_unprocessed(outcome, now)))
        return std::nullopt;
    if (outcome.response_headers)
        if (auto d = server_retry_delay_of(*outcome.response_headers, now); d && d->delay <= p.max_retry_after)
            return retry_plan{d->delay, d->source};
    return retry_plan{backoff_delay(p, retries_done, random_unit), retry_delay_source::backoff};
}

// next_retry's delay alone.
inline std::optional<std::chrono::milliseconds> next_retry_delay(const retry_policy& p, std::size_t retries_done,
                                                                 const attempt_outcome& outcome, bool replayable,
                                                                 std::chrono::system_clock::time_point now,
                                                                 double random_unit)
{
    const auto plan = next_retry(p, retries_done, outcome, replayable, now, random_unit);
    return plan ? std::optional<std::chrono::milliseconds>(plan->delay) : std::nullopt;
}

} // namespace leash::detail
