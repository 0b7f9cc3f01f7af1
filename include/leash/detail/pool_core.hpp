// The pool's bookkeeping, without I/O: which request gets which connection, who waits, which
// idle connection is evicted or has expired. The transport feeds it events under its lock and
// performs what it answers (hand a connection to a waiter, let a waiter dial, close these).
//
// Conn and Waiter are opaque, copyable, equality-comparable handles. Time is passed in.
// Not thread-safe: the caller serialises access.
#pragma once

#include <leash/stats.hpp>

#include <algorithm>
#include <chrono>
#include <cstddef>
#include <deque>
#include <map>
#include <optional>
#include <string>
#include <vector>

namespace leash::detail {

using clock = std::chrono::steady_clock;

struct pool_limits {
    std::size_t max_conns_per_host = 64;
    std::size_t max_pending_per_host = 1024;
    std::size_t max_idle_conns_per_host = 64;
    std::size_t max_idle_conns = 256;
    clock::duration idle_conn_timeout = std::chrono::seconds(90);
};

using close_reason = leash::close_reason;

template <class Conn, class Waiter>
class pool_core {
public:
    // What acquire() decided.
    enum class outcome {
        idle,        // use `conn`, taken from the idle stack (probe it first)
        dial,        // a slot was reserved: dial, then call dial_succeeded or dial_failed
        wait,        // queued; a later grant names this waiter
        overloaded,  // the waiter queue is full
        shut_down,   // shutdown() was called
    };
    struct acquire_result {
        outcome what = outcome::shut_down;
        std::optional<Conn> conn;
    };

    // A decision for a queued waiter: take `conn`, or (conn empty) dial in a reserved slot.
    struct grant {
        Waiter waiter;
        std::optional<Conn> conn;
    };

    // A connection to close, and why.
    struct closing {
        Conn conn;
        close_reason reason;
    };

    explicit pool_core(pool_limits limits = {}) : limits_(limits) {}

    const pool_limits& limits() const noexcept { return limits_; }

    // A request for `key` wants a connection. Idle connections are handed out most recently
    // used first; expired ones met on the way are appended to `expired` for closing. If the
    // request has to wait, make_waiter() is called for its handle (and only then).
    template <class MakeWaiter>
    acquire_result acquire(const std::string& key, clock::time_point now, std::vector<closing>& expired,
                           MakeWaiter&& make_waiter)
    {
        if (shut_down_)
            return {outcome::shut_down, std::nullopt};
        auto& h = hosts_[key];
        while (!h.idle.empty()) {
            idle_entry e = std::move(h.idle.back());
            h.idle.pop_back();
            --idle_total_;
            if (e.expires <= now) {
                --h.open_count;
                expired.push_back({std::move(e.conn), close_reason::idle_timeout});
                continue;
            }
            ++h.leased;
            return {outcome::idle, std::move(e.conn)};
        }
        if (h.waiters.empty() && h.slots_used() < limits_.max_conns_per_host) {
            ++h.dialing;
            return {outcome::dial, std::nullopt};
        }
        if (h.waiters.size() >= limits_.max_pending_per_host) {
            erase_if_unused(key);
            return {outcome::overloaded, std::nullopt};
        }
        h.waiters.push_back(make_waiter());
        return {outcome::wait, std::nullopt};
    }

    // A dial reserved by acquire() or a grant succeeded: the new connection is leased.
    void dial_succeeded(const std::string& key)
    {
        auto& h = hosts_.at(key);
        --h.dialing;
        ++h.leased;
        ++h.open_count;
    }

    // A dial failed or was abandoned: its slot goes to the oldest waiter, if any.
    std::optional<grant> dial_failed(const std::string& key)
    {
        auto& h = hosts_.at(key);
        --h.dialing;
        return pass_slot(key);
    }

    // A leased connection (from acquire or dial) comes back. If `reusable`, it is handed to
    // the oldest waiter or kept idle until `now + idle_timeout` (idle_timeout is capped by
    // limits().idle_conn_timeout). Connections to close are appended to `to_close`.
    std::optional<grant> release(const std::string& key, Conn c, bool reusable, clock::time_point now,
                                 clock::duration idle_timeout, std::vector<closing>& to_close)
    {
        auto& h = hosts_.at(key);
        if (!reusable || shut_down_ || idle_timeout <= clock::duration::zero()) {
            --h.leased;
            --h.open_count;
            to_close.push_back({std::move(c), shut_down_ ? close_reason::shutdown : close_reason::not_reusable});
            return pass_slot(key);
        }
        if (!h.waiters.empty()) {
            grant g{std::move(h.waiters.front()), std::move(c)};
            h.waiters.pop_front();
            return g;
        }
        --h.leased;
        if (h.idle.size() >= limits_.max_idle_conns_per_host) {
            --h.open_count;
            to_close.push_back({std::move(c), close_reason::idle_limit});
            erase_if_unused(key);
            return std::nullopt;
        }
        h.idle.push_back({std::move(c), now, now + std::min(idle_timeout, limits_.idle_conn_timeout)});
        ++idle_total_;
        if (idle_total_ > limits_.max_idle_conns)
            evict_least_recently_used(to_close);
        return std::nullopt;
    }

    // A leased connection was closed instead of released (error, abandoned body, dead at
    // checkout): its slot goes to the oldest waiter, if any.
    std::optional<grant> closed(const std::string& key)
    {
        auto& h = hosts_.at(key);
        --h.leased;
        --h.open_count;
        return pass_slot(key);
    }

    // Removes a queued waiter (canceled or timed out). False if it was not queued (already
    // granted, or never queued).
    bool cancel_wait(const std::string& key, const Waiter& w)
    {
        auto it = hosts_.find(key);
        if (it == hosts_.end())
            return false;
        auto& q = it->second.waiters;
        auto pos = std::find(q.begin(), q.end(), w);
        if (pos == q.end())
            return false;
        q.erase(pos);
        erase_if_unused(key);
        return true;
    }

    // Removes idle connections whose time is up (expires <= now).
    std::vector<closing> expire(clock::time_point now)
    {
        std::vector<closing> out;
        for (auto it = hosts_.begin(); it != hosts_.end();) {
            auto& h = it->second;
            auto keep = std::stable_partition(h.idle.begin(), h.idle.end(),
                                              [&](const idle_entry& e) { return e.expires > now; });
            for (auto e = keep; e != h.idle.end(); ++e)
                out.push_back({std::move(e->conn), close_reason::idle_timeout});
            const auto n = static_cast<std::size_t>(h.idle.end() - keep);
            h.idle.erase(keep, h.idle.end());
            idle_total_ -= n;
            h.open_count -= n;
            it = h.unused() ? hosts_.erase(it) : std::next(it);
        }
        return out;
    }

    // The earliest expiry among idle connections.
    std::optional<clock::time_point> next_expiry() const
    {
        std::optional<clock::time_point> best;
        for (auto& [key, h] : hosts_)
            for (auto& e : h.idle)
                if (!best || e.expires < *best)
                    best = e.expires;
        return best;
    }

    // Stops the pool: every idle connection is returned for closing, every waiter is
    // returned to be failed, and later acquires answer shut_down; connections released
    // later are closed.
    void shutdown(std::vector<closing>& to_close, std::vector<Waiter>& waiters)
    {
        shut_down_ = true;
        for (auto it = hosts_.begin(); it != hosts_.end();) {
            auto& h = it->second;
            for (auto& e : h.idle)
                to_close.push_back({std::move(e.conn), close_reason::shutdown});
            h.open_count -= h.idle.size();
            idle_total_ -= h.idle.size();
            h.idle.clear();
            for (auto& w : h.waiters)
                waiters.push_back(std::move(w));
            h.waiters.clear();
            it = h.unused() ? hosts_.erase(it) : std::next(it);
        }
    }

    bool is_shut_down() const noexcept { return shut_down_; }
    // Nothing at all: no connection, dial, waiter or body on any host.
    bool empty() const noexcept { return hosts_.empty(); }

    // A response body started / stopped holding a connection of `key` (gauge only).
    void body_opened(const std::string& key) { ++hosts_.at(key).live_bodies; }
    void body_closed(const std::string& key)
    {
        --hosts_.at(key).live_bodies;
        erase_if_unused(key);
    }

    pool_gauges gauges(const std::string& key) const
    {
        auto it = hosts_.find(key);
        return it == hosts_.end() ? pool_gauges{} : it->second.gauges();
    }

    // Totals and per-host gauges.
    // The gauges summed over hosts.
    pool_gauges totals() const noexcept
    {
        pool_gauges t;
        for (auto& [key, h] : hosts_) {
            auto g = h.gauges();
            t.open += g.open;
            t.idle += g.idle;
            t.leased += g.leased;
            t.dialing += g.dialing;
            t.waiters += g.waiters;
            t.live_bodies += g.live_bodies;
        }
        return t;
    }

    void fill(transport_stats& s) const
    {
        s.hosts.clear();
        for (auto& [key, h] : hosts_)
            s.hosts.emplace(key, h.gauges());
        s.total = totals();
    }

    std::size_t idle_total() const noexcept { return idle_total_; }

private:
    struct idle_entry {
        Conn conn;
        clock::time_point since;
        clock::time_point expires;
    };

    struct host {
        std::vector<idle_entry> idle;  // back = most recently used
        std::deque<Waiter> waiters;    // front = oldest
        std::size_t open_count = 0;    // idle + leased
        std::size_t leased = 0;
        std::size_t dialing = 0;
        std::size_t live_bodies = 0;

        std::size_t slots_used() const noexcept { return open_count + dialing; }
        bool unused() const noexcept
        {
            return open_count == 0 && dialing == 0 && waiters.empty() && live_bodies == 0;
        }
        pool_gauges gauges() const noexcept
        {
            return {open_count, idle.size(), leased, dialing, waiters.size(), live_bodies};
        }
    };

    // A slot was freed on `key`: the oldest waiter may dial in it.
    std::optional<grant> pass_slot(const std::string& key)
    {
        auto& h = hosts_.at(key);
        if (!h.waiters.empty() && !shut_down_ && h.slots_used() < limits_.max_conns_per_host) {
            grant g{std::move(h.waiters.front()), std::nullopt};
            h.waiters.pop_front();
            ++h.dialing;
            return g;
        }
        erase_if_unused(key);
        return std::nullopt;
    }

    void evict_least_recently_used(std::vector<closing>& to_close)
    {
        typename std::map<std::string, host>::iterator oldest = hosts_.end();
        for (auto it = hosts_.begin(); it != hosts_.end(); ++it)
            if (!it->second.idle.empty()
                && (oldest == hosts_.end() || it->second.idle.front().since < oldest->second.idle.front().since))
                oldest = it;
        if (oldest == hosts_.end())
            return;
        auto& h = oldest->second;
        to_close.push_back({std::move(h.idle.front().conn), close_reason::idle_limit});
        h.idle.erase(h.idle.begin());
        --idle_total_;
        --h.open_count;
        // A host with idle connections has no waiters, so nobody is owed the freed slot.
        if (h.unused())
            hosts_.erase(oldest);
    }

    void erase_if_unused(const std::string& key)
    {
        auto it = hosts_.find(key);
        if (it != hosts_.end() && it->second.unused())
            hosts_.erase(it);
    }

    pool_limits limits_;
    std::map<std::string, host> hosts_;
    std::size_t idle_total_ = 0;
    bool shut_down_ = false;
};

} // namespace leash::detail
