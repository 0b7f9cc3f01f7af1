// The retry budget (retry_policy::budget_*), without I/O or a clock of its own: calls and
// retries counted per second over a sliding window; a retry is allowed while the retries in
// the window stay within ratio * calls + min_per_second * window seconds. Not thread-safe:
// the client guards it.
#pragma once

#include <chrono>
#include <cstdint>
#include <vector>

namespace leash::detail {

class retry_budget {
public:
    using clock = std::chrono::steady_clock;

    retry_budget(double ratio, std::size_t min_per_second, std::chrono::seconds window)
        : ratio_(ratio)
        , floor_(static_cast<double>(min_per_second) * static_cast<double>(window.count()))
        , buckets_(static_cast<std::size_t>(window.count() > 0 ? window.count() : 1))
    {
    }

    // A call's first attempt at `now`.
    void record_call(clock::time_point now) { bucket_at(now).calls += 1; }

    // Whether a retry at `now` is within the budget; if so it is counted.
    bool try_retry(clock::time_point now)
    {
        if (ratio_ < 0)
            return true;
        auto& current = bucket_at(now);
        std::uint64_t calls = 0;
        std::uint64_t retries = 0;
        for (const auto& b : buckets_)
            if (b.second > second_of(now) - static_cast<std::int64_t>(buckets_.size())) {
                calls += b.calls;
                retries += b.retries;
            }
        if (static_cast<double>(retries + 1) > ratio_ * static_cast<double>(calls) + floor_)
            return false;
        current.retries += 1;
        return true;
    }

private:
    struct bucket {
        std::int64_t second = -1;  // which second it counts, -1: none yet
        std::uint64_t calls = 0;
        std::uint64_t retries = 0;
    };

    static std::int64_t second_of(clock::time_point t)
    {
        return std::chrono::duration_cast<std::chrono::seconds>(t.time_since_epoch()).count();
    }

    // The bucket of `now`'s second, emptied if it last counted an older one.
    bucket& bucket_at(clock::time_point now)
    {
        const auto second = second_of(now);
        auto& b = buckets_[static_cast<std::size_t>(second % static_cast<std::int64_t>(buckets_.size()))];
        if (b.second != second)
            b = bucket{second, 0, 0};
        return b;
    }

    double ratio_;
    double floor_;
    std::vector<bucket> buckets_;
};

} // namespace leash::detail
