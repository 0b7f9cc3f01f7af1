// The pool's decisions, without sockets or timers: connections and waiters are plain ints,
// time is a variable.
#include <leash/detail/pool_core.hpp>

#include <catch2/catch.hpp>

#include <chrono>
#include <vector>

using namespace std::chrono_literals;
using sclock = leash::detail::clock;
using leash::detail::close_reason;
using leash::detail::pool_limits;
using pool = leash::detail::pool_core<int, int>;
using outcome = pool::outcome;

namespace {

const std::string A = "http://a:80";
const std::string B = "http://b:80";
const std::string C = "http://c:80";
const auto t0 = sclock::time_point{} + 1h;
constexpr auto keep = 90s;

pool_limits limits(std::size_t conns, std::size_t idle_per_host = 16, std::size_t idle = 128,
                   std::size_t pending = 1024)
{
    pool_limits l;
    l.max_conns_per_host = conns;
    l.max_idle_conns_per_host = idle_per_host;
    l.max_idle_conns = idle;
    l.max_pending_per_host = pending;
    l.idle_conn_timeout = keep;
    return l;
}

struct fixture {
    explicit fixture(pool_limits l) : p(l) {}

    pool::acquire_result acquire(const std::string& key, int waiter = 0, sclock::time_point now = t0)
    {
        return p.acquire(key, now, expired, [&] { return waiter; });
    }
    // Acquire that dials: returns after dial_succeeded.
    void open(const std::string& key)
    {
        REQUIRE(acquire(key).what == outcome::dial);
        p.dial_succeeded(key);
    }
    std::optional<pool::grant> release(const std::string& key, int conn, bool reusable = true,
                                       sclock::time_point now = t0, sclock::duration idle = keep)
    {
        return p.release(key, conn, reusable, now, idle, closed);
    }

    pool p;
    std::vector<pool::closing> expired;
    std::vector<pool::closing> closed;
};

} // namespace

TEST_CASE("pool: the first request for a host dials")
{
    fixture f(limits(2));
    CHECK(f.acquire(A).what == outcome::dial);
    CHECK(f.p.gauges(A).dialing == 1);
    f.p.dial_succeeded(A);
    CHECK(f.p.gauges(A).open == 1);
    CHECK(f.p.gauges(A).leased == 1);
    CHECK(f.p.gauges(A).dialing == 0);
}

TEST_CASE("pool: max_conns_per_host counts dialing connections and queues the excess")
{
    fixture f(limits(2));
    CHECK(f.acquire(A).what == outcome::dial);
    CHECK(f.acquire(A).what == outcome::dial);
    CHECK(f.acquire(A, 7).what == outcome::wait);
    CHECK(f.p.gauges(A).waiters == 1);
    CHECK(f.p.gauges(A).dialing == 2);
}

TEST_CASE("pool: a released connection goes to the oldest waiter, FIFO")
{
    fixture f(limits(1));
    f.open(A);
    REQUIRE(f.acquire(A, 1).what == outcome::wait);
    REQUIRE(f.acquire(A, 2).what == outcome::wait);
    auto g = f.release(A, 100);
    REQUIRE(g);
    CHECK(g->waiter == 1);
    CHECK(g->conn == 100);
    g = f.release(A, 100);
    REQUIRE(g);
    CHECK(g->waiter == 2);
    CHECK_FALSE(f.release(A, 100));
    CHECK(f.p.gauges(A).idle == 1);
}

TEST_CASE("pool: idle connections are reused most recently used first")
{
    fixture f(limits(4));
    f.open(A);
    f.open(A);
    f.release(A, 1, true, t0);
    f.release(A, 2, true, t0 + 1s);
    auto r = f.acquire(A, 0, t0 + 2s);
    CHECK(r.what == outcome::idle);
    CHECK(r.conn == 2);
}

TEST_CASE("pool: a full waiter queue fails fast")
{
    fixture f(limits(1, 16, 128, 2));
    f.open(A);
    CHECK(f.acquire(A, 1).what == outcome::wait);
    CHECK(f.acquire(A, 2).what == outcome::wait);
    CHECK(f.acquire(A, 3).what == outcome::overloaded);
    CHECK(f.p.gauges(A).waiters == 2);
}

TEST_CASE("pool: a canceled waiter is removed and never granted")
{
    fixture f(limits(1));
    f.open(A);
    f.acquire(A, 1);
    f.acquire(A, 2);
    CHECK(f.p.cancel_wait(A, 1));
    CHECK_FALSE(f.p.cancel_wait(A, 1));
    auto g = f.release(A, 100);
    REQUIRE(g);
    CHECK(g->waiter == 2);
}

TEST_CASE("pool: the per-host idle cap closes the returning connection")
{
    fixture f(limits(4, 1));
    f.open(A);
    f.open(A);
    f.release(A, 1);
    f.release(A, 2);
    REQUIRE(f.closed.size() == 1);
    CHECK(f.closed[0].conn == 2);
    CHECK(f.closed[0].reason == close_reason::idle_limit);
    CHECK(f.p.gauges(A).idle == 1);
    CHECK(f.p.gauges(A).open == 1);
}

TEST_CASE("pool: the global idle cap evicts the least recently used host's connection")
{
    fixture f(limits(4, 4, 2));
    f.open(A);
    f.open(B);
    f.open(C);
    f.release(A, 1, true, t0);
    f.release(B, 2, true, t0 + 1s);
    CHECK(f.closed.empty());
    f.release(C, 3, true, t0 + 2s);
    REQUIRE(f.closed.size() == 1);
    CHECK(f.closed[0].conn == 1);
    CHECK(f.closed[0].reason == close_reason::idle_limit);
    CHECK(f.p.idle_total() == 2);
    CHECK(f.p.gauges(A).open == 0);
    CHECK(f.acquire(A).what == outcome::dial);
}

TEST_CASE("pool: expire removes idle connections whose time is up")
{
    fixture f(limits(4));
    f.open(A);
    f.open(B);
    f.release(A, 1, true, t0, 10s);
    f.release(B, 2, true, t0, 30s);
    CHECK(f.p.next_expiry() == t0 + 10s);
    CHECK(f.p.expire(t0 + 9s).empty());
    auto gone = f.p.expire(t0 + 10s);
    REQUIRE(gone.size() == 1);
    CHECK(gone[0].conn == 1);
    CHECK(gone[0].reason == close_reason::idle_timeout);
    CHECK(f.p.next_expiry() == t0 + 30s);
    CHECK(f.p.gauges(A).open == 0);
}

TEST_CASE("pool: idle timeout is capped by idle_conn_timeout, and a zero timeout means no reuse")
{
    fixture f(limits(4));
    f.open(A);
    f.release(A, 1, true, t0, 1h);
    CHECK(f.p.next_expiry() == t0 + keep);
    f.acquire(A, 0, t0);
    f.release(A, 1, true, t0, 0s);
    CHECK(f.closed.size() == 1);
    CHECK(f.p.gauges(A).open == 0);
}

TEST_CASE("pool: checkout skips an idle connection that has expired but not been reaped")
{
    fixture f(limits(4));
    f.open(A);
    f.release(A, 1, true, t0, 10s);
    auto r = f.acquire(A, 0, t0 + 11s);
    CHECK(r.what == outcome::dial);
    REQUIRE(f.expired.size() == 1);
    CHECK(f.expired[0].conn == 1);
}

TEST_CASE("pool: a closed connection's slot goes to the oldest waiter as a dial")
{
    fixture f(limits(1));
    f.open(A);
    f.acquire(A, 5);
    auto g = f.p.closed(A);
    REQUIRE(g);
    CHECK(g->waiter == 5);
    CHECK_FALSE(g->conn);
    CHECK(f.p.gauges(A).dialing == 1);
    CHECK(f.p.gauges(A).open == 0);
}

TEST_CASE("pool: a failed dial frees its slot for the next waiter")
{
    fixture f(limits(1));
    REQUIRE(f.acquire(A).what == outcome::dial);
    f.acquire(A, 5);
    auto g = f.p.dial_failed(A);
    REQUIRE(g);
    CHECK(g->waiter == 5);
    CHECK(f.p.gauges(A).dialing == 1);
}

TEST_CASE("pool: a non-reusable release closes the connection and passes its slot on")
{
    fixture f(limits(1));
    f.open(A);
    f.acquire(A, 5);
    auto g = f.release(A, 1, false);
    REQUIRE(f.closed.size() == 1);
    CHECK(f.closed[0].reason == close_reason::not_reusable);
    REQUIRE(g);
    CHECK(g->waiter == 5);
    CHECK_FALSE(g->conn);
}

TEST_CASE("pool: shutdown hands back idle connections and waiters and refuses new work")
{
    fixture f(limits(1));
    f.open(A);
    f.open(B);
    f.release(B, 2);
    f.acquire(A, 5);
    std::vector<pool::closing> closed;
    std::vector<int> waiters;
    f.p.shutdown(closed, waiters);
    REQUIRE(closed.size() == 1);
    CHECK(closed[0].conn == 2);
    CHECK(closed[0].reason == close_reason::shutdown);
    CHECK(waiters == std::vector<int>{5});
    CHECK(f.acquire(A).what == outcome::shut_down);
    CHECK_FALSE(f.release(A, 1));
    CHECK(f.closed.back().reason == close_reason::shutdown);
    leash::transport_stats s;
    f.p.fill(s);
    CHECK(s.total.all_zero());
    CHECK(s.hosts.empty());
}

TEST_CASE("pool: a host with nothing left is forgotten")
{
    fixture f(limits(1));
    f.open(A);
    f.p.body_opened(A);
    f.p.closed(A);
    leash::transport_stats s;
    f.p.fill(s);
    CHECK(s.hosts.size() == 1);
    CHECK(s.total.live_bodies == 1);
    f.p.body_closed(A);
    f.p.fill(s);
    CHECK(s.hosts.empty());
}
