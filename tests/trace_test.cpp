// Trace hooks and the leak diagnostic, end to end against the in-process server.
#include <support/harness.hpp>

#include <leash/trace.hpp>

#include <algorithm>
#include <array>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

using namespace leash::test;
using leash::trace_hooks;
using leash::transport_options;

namespace {

// Records every event as a line of text, in order.
class recorder {
public:
    std::shared_ptr<trace_hooks> hooks(std::string prefix = "")
    {
        auto h = std::make_shared<trace_hooks>();
        h->get_conn = [this, prefix](const leash::get_conn_event& e) {
            add(prefix + "get_conn" + (e.queued ? " queued" : ""));
        };
        h->got_conn = [this, prefix](const leash::got_conn_event& e) {
            add(prefix + "got_conn" + (e.reused ? " reused" : " new"));
            std::lock_guard lock(mutex_);
            got.push_back(e);
            got_requests.emplace_back(std::string(e.request.method) + " " + std::string(e.request.host)
                                      + std::string(e.request.target));
        };
        h->dns_start = [this, prefix](const leash::dns_start_event& e) {
            add(prefix + "dns_start " + std::string(e.name));
        };
        h->dns_done = [this, prefix](const leash::dns_done_event& e) {
            add(prefix + "dns_done" + (e.error ? " error" : ""));
            std::lock_guard lock(mutex_);
            for (const auto& a : e.addresses)
                resolved.push_back(a.to_string());
        };
        h->connect_start = [this, prefix](const leash::connect_start_event& e) {
            add(prefix + "connect_start " + e.endpoint.address().to_string());
        };
        h->connect_done = [this, prefix](const leash::connect_done_event& e) {
            add(prefix + "connect_done " + e.endpoint.address().to_string() + (e.error ? " error" : ""));
        };
        h->tls_handshake_start = [this, prefix](const leash::tls_handshake_start_event&) {
            add(prefix + "tls_start");
        };
        h->tls_handshake_done = [this, prefix](const leash::tls_handshake_done_event& e) {
            add(prefix + "tls_done" + (e.error ? " error" : e.resumed ? " resumed" : " full"));
            std::lock_guard lock(mutex_);
            tls_versions.emplace_back(e.version);
        };
        h->wrote_headers = [this, prefix](const leash::request_event&) { add(prefix + "wrote_headers"); };
        h->wrote_request = [this, prefix](const leash::wrote_request_event& e) {
            add(prefix + "wrote_request" + (e.body_skipped ? " body_skipped" : "") + (e.error ? " error" : ""));
        };
        h->first_response_byte = [this, prefix](const leash::request_event&) { add(prefix + "first_byte"); };
        h->put_idle = [this, prefix](const leash::put_idle_event&) { add(prefix + "put_idle"); };
        h->connection_closed = [this, prefix](const leash::connection_closed_event& e) {
            add(prefix + "closed " + std::string(to_string(e.reason)));
        };
        h->unread_body = [this, prefix](const leash::unread_body_event& e) {
            add(prefix + "unread_body");
            std::lock_guard lock(mutex_);
            unread.push_back(e);
            unread_requests.emplace_back(std::string(e.request.method) + " " + std::string(e.request.host)
                                         + std::string(e.request.target));
        };
        return h;
    }

    std::vector<std::string> events() const
    {
        std::lock_guard lock(mutex_);
        return events_;
    }
    std::size_t count(const std::string& name) const
    {
        std::lock_guard lock(mutex_);
        return static_cast<std::size_t>(std::count(events_.begin(), events_.end(), name));
    }
    void clear()
    {
        std::lock_guard lock(mutex_);
        events_.clear();
    }

    mutable std::mutex mutex_;
    std::vector<leash::got_conn_event> got;  // (views inside are not kept valid)
    std::vector<std::string> got_requests;
    std::vector<std::string> resolved;
    std::vector<std::string> tls_versions;
    std::vector<leash::unread_body_event> unread;
    std::vector<std::string> unread_requests;

private:
    void add(std::string e)
    {
        std::lock_guard lock(mutex_);
        events_.push_back(std::move(e));
    }
    std::vector<std::string> events_;
};

transport_options traced(recorder& r)
{
    transport_options o;
    o.trace = r.hooks();
    return o;
}

using events = std::vector<std::string>;

// The leak diagnostic after `threshold`, reporting to `r` (if given) through the transport.
transport_options reporting_unread_bodies(std::chrono::milliseconds threshold, recorder* r)
{
    transport_options o;
    if (r)
        o.trace = r->hooks();
    o.report_unread_body_after = threshold;
    return o;
}

// A response whose body arrives in part, the rest never: its body holds the connection.
reply partial_body_then_silence()
{
    return reply::raw("HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\nabc").then_hold();
}

} // namespace

TEST_CASE("trace: a request on a new connection reports each phase in order")
{
    recorder rec;
    harness h({}, traced(rec));
    h.run(fetch_ok(h.transport, h.url("/a?b=c")));
    CHECK(rec.events()
          == events{"get_conn", "connect_start 127.0.0.1", "connect_done 127.0.0.1", "got_conn new", "wrote_headers",
                    "wrote_request", "first_byte", "put_idle"});
    REQUIRE(rec.got_requests.size() == 1);
    CHECK(rec.got_requests[0] == "GET http://127.0.0.1:" + std::to_string(h.server.port()) + "/a?b=c");
    h.require_clean_end();
    CHECK(rec.events().back() == "closed shutdown");
}

TEST_CASE("trace: a reused connection reports how long it was idle")
{
    recorder rec;
    harness h({}, traced(rec));
    h.run([&]() -> asio::awaitable<void> {
        co_await fetch_ok(h.transport, h.url());
        co_await pause(20ms);
        rec.clear();
        co_await fetch_ok(h.transport, h.url());
    }());
    CHECK(rec.events() == events{"get_conn", "got_conn reused", "wrote_headers", "wrote_request", "first_byte", "put_idle"});
    REQUIRE(rec.got.size() == 2);
    CHECK(rec.got[1].reused);
    CHECK(rec.got[1].connection_id == rec.got[0].connection_id);
    CHECK(rec.got[1].idle_time >= 20ms);
    CHECK(rec.got[0].idle_time == std::chrono::nanoseconds(0));
    h.require_clean_end();
}

TEST_CASE("trace: a host name reports DNS start and done with the addresses")
{
    recorder rec;
    harness h({}, traced(rec));
    const auto url = "http://localhost:" + std::to_string(h.server.port()) + "/";
    h.run(fetch_ok(h.transport, url));
    const auto ev = rec.events();
    REQUIRE(ev.size() >= 4);
    CHECK(ev[0] == "get_conn");
    CHECK(ev[1] == "dns_start localhost");
    CHECK(ev[2] == "dns_done");
    CHECK(std::find(rec.resolved.begin(), rec.resolved.end(), "127.0.0.1") != rec.resolved.end());
    CHECK(std::find(ev.begin(), ev.end(), "connect_done 127.0.0.1") != ev.end());
    h.require_clean_end();
}

TEST_CASE("trace: a refused connection reports the failed connect")
{
    recorder rec;
    harness h({}, traced(rec));
    std::string gone_url;
    {
        test_server gone;  // its port refuses connections once it is gone
        gone_url = gone.url();
    }
    h.run([&]() -> asio::awaitable<void> {
        auto r = co_await fetch(h.transport, gone_url);
        CHECK(r.ec == asio::error::connection_refused);
    }());
    CHECK(rec.events() == events{"get_conn", "connect_start 127.0.0.1", "connect_done 127.0.0.1 error"});
    h.require_clean_end();
}

TEST_CASE("trace: TLS handshakes report their start and end, and a resumed session")
{
    recorder rec;
    harness h([](const received_request&) { return reply::ok("ok", {{"Connection", "close"}}); }, traced(rec),
              transport_kind::tls);
    h.run([&]() -> asio::awaitable<void> {
        co_await fetch_ok(h.transport, h.url());
        co_await wait_until([&] { return rec.count("closed not_reusable") == 1; });
        co_await fetch_ok(h.transport, h.url());
    }());
    const auto ev = rec.events();
    CHECK(std::count(ev.begin(), ev.end(), "tls_start") == 2);
    CHECK(std::count(ev.begin(), ev.end(), "tls_done full") == 1);
    CHECK(std::count(ev.begin(), ev.end(), "tls_done resumed") == 1);
    const auto start = std::find(ev.begin(), ev.end(), "tls_start");
    const auto got = std::find(ev.begin(), ev.end(), "got_conn new");
    CHECK(start < got);  // the handshake belongs to getting the connection
    for (const auto& v : rec.tls_versions)
        CHECK(v.rfind("TLSv1.", 0) == 0);
    h.require_clean_end();
}

TEST_CASE("trace: a failed TLS handshake reports its error")
{
    recorder rec;
    transport_options o = traced(rec);
    tls_setup tls;
    tls.trust_test_ca = false;  // the test CA is unknown: verification fails
    harness h({}, o, transport_kind::tls, tls);
    h.run([&]() -> asio::awaitable<void> {
        auto r = co_await fetch(h.transport, h.url());
        CHECK(r.ec == leash::tls_error::certificate_untrusted);
    }());
    CHECK(rec.count("tls_done error") == 1);
    h.require_clean_end();
}

TEST_CASE("trace: a request waiting for a busy host's only connection reports get_conn queued")
{
    recorder rec;
    transport_options o = traced(rec);
    o.max_conns_per_host = 1;
    harness h([](const received_request& r) {
        if (r.target == "/slow")
            return reply::raw("HTTP/1.1 200 OK\r\nContent-Length: 4\r\n\r\nab").piece(50ms, "cd");
        return reply::ok();
    }, o);
    h.run([&]() -> asio::awaitable<void> {
        auto [ec, res] = co_await h.transport.async_send(leash::request::get(h.url("/slow")), as_tuple);
        REQUIRE_FALSE(ec);
        std::optional<fetched> second;
        asio::co_spawn(co_await asio::this_coro::executor, fetch(h.transport, h.url()),
                       [&](std::exception_ptr, fetched r) { second = std::move(r); });
        co_await wait_until([&] { return rec.count("get_conn queued") == 1; });
        auto [read_ec, text] = co_await res.body.async_read_all(100, as_tuple);
        CHECK(text == "abcd");
        co_await wait_until([&] { return second.has_value(); });
        CHECK_FALSE(second->ec);
    }());
    REQUIRE(rec.got.size() == 2);
    CHECK(rec.got[1].reused);
    CHECK(rec.got[1].wait_time >= 10ms);
    h.require_clean_end();
}

TEST_CASE("trace: a connection the server will not keep reports closed not_reusable instead of put_idle")
{
    recorder rec;
    harness h([](const received_request&) { return reply::ok("ok", {{"Connection", "close"}}); }, traced(rec));
    h.run(fetch_ok(h.transport, h.url()));
    CHECK(rec.count("put_idle") == 0);
    CHECK(rec.count("closed not_reusable") == 1);
    h.require_clean_end();
}

TEST_CASE("trace: an abandoned body reports closed body_abandoned")
{
    recorder rec;
    harness h([](const received_request&) { return partial_body_then_silence(); }, traced(rec));
    h.run([&]() -> asio::awaitable<void> {
        auto [ec, res] = co_await h.transport.async_send(leash::request::get(h.url()), as_tuple);
        REQUIRE_FALSE(ec);
        res.body.close();
    }());
    CHECK(rec.count("closed body_abandoned") == 1);
    h.require_clean_end();
}

TEST_CASE("trace: a request's own hooks run after the transport's and only for that request")
{
    recorder transport_rec;
    recorder request_rec;
    harness h({}, traced(transport_rec));
    h.run([&]() -> asio::awaitable<void> {
        co_await fetch_ok(h.transport, h.url("/plain"));
        auto req = leash::request::get(h.url("/traced"));
        req.trace = request_rec.hooks();
        auto traced_result = co_await fetch(h.transport, std::move(req));
        CHECK_FALSE(traced_result.ec);
        co_await fetch_ok(h.transport, h.url("/plain"));
    }());
    CHECK(request_rec.events() == events{"get_conn", "got_conn reused", "wrote_headers", "wrote_request", "first_byte",
                                         "put_idle"});
    CHECK(transport_rec.count("got_conn reused") == 2);
    CHECK(transport_rec.count("got_conn new") == 1);
    REQUIRE(request_rec.got_requests.size() == 1);
    CHECK(request_rec.got_requests[0].ends_with("/traced"));
    h.require_clean_end();
    CHECK(request_rec.count("closed shutdown") == 0);  // the request was long over
}

TEST_CASE("leak diagnostic: a body left unread past the threshold is reported once, naming the request")
{
    recorder rec;
    harness h([](const received_request&) { return partial_body_then_silence(); }, reporting_unread_bodies(30ms, &rec));
    h.run([&]() -> asio::awaitable<void> {
        auto req = leash::request::post(h.url("/v1/chat/completions?stream=false"), "{}");
        auto [ec, res] = co_await h.transport.async_send(std::move(req), as_tuple);
        REQUIRE_FALSE(ec);
        co_await wait_until([&] { return rec.count("unread_body") == 1; });
        co_await pause(100ms);  // (three more thresholds: still one report)
        CHECK(rec.count("unread_body") == 1);
        CHECK(res.body.holds_connection());
    }());
    REQUIRE(rec.unread.size() == 1);
    CHECK(rec.unread_requests[0] == "POST http://127.0.0.1:" + std::to_string(h.server.port())
                                        + "/v1/chat/completions?stream=false");
    CHECK(rec.unread[0].held_for >= 30ms);
    CHECK_FALSE(rec.unread[0].read_before);
    CHECK(rec.unread[0].connection_id == rec.got.at(0).connection_id);
    h.require_clean_end();
}

TEST_CASE("leak diagnostic: a body whose read is waiting for the server is not reported")
{
    recorder rec;
    harness h([](const received_request&) {
        return reply::raw("HTTP/1.1 200 OK\r\nContent-Length: 4\r\n\r\nab").piece(150ms, "cd");
    }, reporting_unread_bodies(20ms, &rec));
    h.run([&]() -> asio::awaitable<void> {
        auto [ec, res] = co_await h.transport.async_send(leash::request::get(h.url()), as_tuple);
        REQUIRE_FALSE(ec);
        auto [read_ec, text] = co_await res.body.async_read_all(100, as_tuple);
        CHECK(text == "abcd");
    }());
    CHECK(rec.count("unread_body") == 0);
    h.require_clean_end();
}

TEST_CASE("leak diagnostic: it is reported through a request's own hooks as well")
{
    recorder rec;  // (given to the request only)
    harness h([](const received_request&) { return partial_body_then_silence(); }, reporting_unread_bodies(20ms, nullptr));
    h.run([&]() -> asio::awaitable<void> {
        auto req = leash::request::get(h.url("/forgotten"));
        req.trace = rec.hooks();
        auto [ec, res] = co_await h.transport.async_send(std::move(req), as_tuple);
        REQUIRE_FALSE(ec);
        co_await wait_until([&] { return rec.count("unread_body") == 1; });
    }());
    REQUIRE(rec.unread_requests.size() == 1);
    CHECK(rec.unread_requests[0].ends_with("/forgotten"));
    h.require_clean_end();
}

TEST_CASE("leak diagnostic: a body that was partly read reports read_before")
{
    recorder rec;
    harness h([](const received_request&) { return partial_body_then_silence(); }, reporting_unread_bodies(20ms, &rec));
    h.run([&]() -> asio::awaitable<void> {
        auto [ec, res] = co_await h.transport.async_send(leash::request::get(h.url()), as_tuple);
        REQUIRE_FALSE(ec);
        std::array<char, 16> buf{};
        auto [read_ec, n] = co_await res.body.async_read_some(asio::buffer(buf), as_tuple);
        CHECK(n == 3);
        co_await wait_until([&] { return rec.count("unread_body") == 1; });
    }());
    REQUIRE(rec.unread.size() == 1);
    CHECK(rec.unread[0].read_before);
    h.require_clean_end();
}
