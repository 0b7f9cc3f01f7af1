// Test harness for transport tests: a test_server, an io_context driven by the test thread,
// a transport, helpers to run a coroutine under a timeout, and the leak check every
// transport test ends with.
#pragma once

#include <leash/leash.hpp>
#include <support/test_pki.hpp>
#include <support/test_server.hpp>
#include <support/tls_front.hpp>

#include <asio/experimental/as_tuple.hpp>
#include <catch2/catch.hpp>

#include <chrono>
#include <exception>
#include <memory>
#include <optional>
#include <ostream>
#include <string>
#include <tuple>

namespace leash::test {

using namespace std::chrono_literals;

inline constexpr auto as_tuple = asio::experimental::as_tuple(asio::use_awaitable);

// The longest any single scenario may take before the test fails instead of hanging.
inline constexpr std::chrono::seconds scenario_timeout{15};

// Runs `op` on `ioc` until it completes; fails if that takes longer than `timeout`.
template <class T>
T run(asio::io_context& ioc, asio::awaitable<T> op, std::chrono::steady_clock::duration timeout = scenario_timeout)
{
    std::optional<T> result;
    std::exception_ptr failure;
    bool finished = false;
    ioc.restart();
    asio::co_spawn(ioc, std::move(op), [&](std::exception_ptr e, T value) {
        failure = e;
        if (!e)
            result.emplace(std::move(value));
        finished = true;
        ioc.stop();
    });
    ioc.run_for(timeout);
    if (!finished)
        FAIL("scenario did not finish within its timeout");
    if (failure)
        std::rethrow_exception(failure);
    return std::move(*result);
}

inline void run(asio::io_context& ioc, asio::awaitable<void> op,
                std::chrono::steady_clock::duration timeout = scenario_timeout)
{
    run(ioc, [](asio::awaitable<void> inner) -> asio::awaitable<int> {
        co_await std::move(inner);
        co_return 0;
    }(std::move(op)), timeout);
}

struct fetched {
    std::error_code ec;
    int status = 0;
    std::string body;
};

// Sends `req` and reads its body to the end.
inline asio::awaitable<fetched> fetch(leash::transport& t, leash::request req)
{
    auto [ec, res] = co_await t.async_send(std::move(req), as_tuple);
    if (ec)
        co_return fetched{ec, 0, {}};
    auto [read_ec, text] = co_await res.body.async_read_all(1 << 24, as_tuple);
    co_return fetched{read_ec, res.status, std::move(text)};
}

inline asio::awaitable<fetched> fetch(leash::transport& t, std::string url)
{
    return fetch(t, leash::request::get(std::move(url)));
}

// fetch, requiring success. (Keep co_await out of assertion macros: their expansion can
// evaluate the operand in ways coroutines do not survive.)
inline asio::awaitable<fetched> fetch_ok(leash::transport& t, std::string url)
{
    auto r = co_await fetch(t, std::move(url));
    REQUIRE_FALSE(r.ec);
    co_return r;
}

// Waits on the io_context for `d` (lets timers elapse without blocking the thread).
inline asio::awaitable<void> pause(std::chrono::steady_clock::duration d)
{
    asio::steady_timer timer(co_await asio::this_coro::executor, d);
    co_await timer.async_wait(as_tuple);
}

// The io_context creates its reactor (a few descriptors) on first use: create it before
// counting, so the count only changes if something leaks.
inline std::size_t warm_up_and_count_fds(asio::io_context& ioc)
{
    asio::ip::tcp::socket socket(ioc);
    asio::steady_timer timer(ioc);
    return open_fd_count();
}

// How the harness's transport reaches the scripted server: directly, or through a TLS front
// with a certificate from the test CA (which the transport is set up to trust).
enum class transport_kind { plain, tls };

inline std::ostream& operator<<(std::ostream& out, transport_kind k)
{
    return out << (k == transport_kind::plain ? "http" : "https");
}

struct tls_setup {
    tls_front_options front;
    std::optional<pem_identity> identity;  // default: the test PKI's valid certificate
    bool trust_test_ca = true;             // point tls.ca_file at the test CA
};

class harness {
public:
    explicit harness(test_server::handler h = {}, leash::transport_options options = {},
                     transport_kind kind = transport_kind::plain, tls_setup tls = {})
        : server(std::move(h))
        , front(make_front(kind, server, tls))
        , fds_at_start(warm_up_and_count_fds(ioc))
        , transport(ioc, with_test_ca(std::move(options), kind, tls))
    {
    }

    template <class T>
    T run(asio::awaitable<T> op, std::chrono::steady_clock::duration timeout = scenario_timeout)
    {
        return test::run(ioc, std::move(op), timeout);
    }
    void run(asio::awaitable<void> op, std::chrono::steady_clock::duration timeout = scenario_timeout)
    {
        test::run(ioc, std::move(op), timeout);
    }

    // Whether every connection has been closed on the server's side (and the TLS front's,
    // which closes its client side only after the server closed its own).
    bool server_side_all_closed() const
    {
        return server.open_connections() == 0 && (!front || front->open_connections() == 0);
    }

    // The URL of `path` on the scripted server, through the TLS front in tls mode.
    std::string url(std::string_view path = "/") const { return front ? front->url(path) : server.url(path); }

    // The end of every transport test: after shutdown (and with every response gone) the
    // io_context runs out of work, every gauge is zero, the server sees every connection
    // closed, and the process holds no extra file descriptor.
    // `others`: further servers the test used, whose connections must close as well.
    void require_clean_end(std::initializer_list<test_server*> others = {})
    {
        transport.shutdown();
        ioc.restart();
        ioc.run_for(std::chrono::seconds(5));
        REQUIRE(ioc.stopped());
        const auto s = transport.stats();
        CHECK(s.total.all_zero());
        CHECK(s.hosts.empty());
        if (front)
            CHECK(front->wait_for_open_connections(0, 5s));
        CHECK(server.wait_for_open_connections(0, 5s));
        for (auto* other : others)
            CHECK(other->wait_for_open_connections(0, 5s));
        // no descriptor more than before the test
        const bool no_extra_fd = open_fd_count_settles_at_most(fds_at_start);
        INFO("open descriptors: " << describe_open_fds());
        CHECK(no_extra_fd);
    }

    test_server server;
    std::unique_ptr<tls_front> front;  // tls mode only
    asio::io_context ioc;
    const std::size_t fds_at_start;
    leash::transport transport;

private:
    static std::unique_ptr<tls_front> make_front(transport_kind kind, const test_server& server, const tls_setup& tls)
    {
        if (kind != transport_kind::tls)
            return nullptr;
        return std::make_unique<tls_front>(server.port(), tls.identity.value_or(shared_test_pki().valid()), tls.front);
    }

    static leash::transport_options with_test_ca(leash::transport_options o, transport_kind kind, const tls_setup& tls)
    {
        if (kind == transport_kind::tls && tls.trust_test_ca && o.tls.ca_file.empty() && o.tls.ca_path.empty()
            && !o.tls.context)
            o.tls.ca_file = shared_test_pki().ca_cert().string();
        return o;
    }
};

// The clean end, for a client's transport: no work left, gauges zero, the servers' connections
// closed, no descriptor leaked.
inline void require_clean_end(asio::io_context& ioc, leash::client& c, std::initializer_list<test_server*> servers,
                              std::size_t fds_at_start)
{
    c.transport().shutdown();
    ioc.restart();
    ioc.run_for(5s);
    REQUIRE(ioc.stopped());
    CHECK(c.transport().stats().total.all_zero());
    for (auto* server : servers)
        CHECK(server->wait_for_open_connections(0, 5s));
    // no descriptor more than before the test
    const bool no_extra_fd = open_fd_count_settles_at_most(fds_at_start);
    INFO("open descriptors: " << describe_open_fds());
    CHECK(no_extra_fd);
}

inline void require_clean_end(asio::io_context& ioc, leash::client& c, test_server& server, std::size_t fds_at_start)
{
    require_clean_end(ioc, c, {&server}, fds_at_start);
}

// Runs a test case once over plain HTTP and once over TLS.
#define LEASH_EVERY_TRANSPORT_KIND()                                                                   \
    const auto kind = GENERATE(::leash::test::transport_kind::plain, ::leash::test::transport_kind::tls); \
    CAPTURE(kind)

} // namespace leash::test

namespace leash::test {

// Lets the io_context run until `condition` holds (checked every millisecond), at most
// `timeout`. Returns whether it held. For conditions only observable from outside leash
// (the server's view of its connections, a gauge reaching a value).
template <class Condition>
asio::awaitable<bool> eventually(Condition condition, std::chrono::steady_clock::duration timeout = 5s)
{
    const auto until = std::chrono::steady_clock::now() + timeout;
    while (!condition()) {
        if (std::chrono::steady_clock::now() >= until)
            co_return false;
        co_await pause(1ms);
    }
    co_return true;
}

// eventually(), failing the test if the condition does not hold in time.
template <class Condition>
asio::awaitable<void> wait_until(Condition condition, std::chrono::steady_clock::duration timeout = 5s)
{
    const bool held = co_await eventually(std::move(condition), timeout);
    REQUIRE(held);
}

} // namespace leash::test
