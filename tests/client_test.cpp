// The convenience client: base URL, default headers, application-level retries.
#include <leash/client.hpp>
#include <support/harness.hpp>

using namespace leash::test;
using clock_type = std::chrono::steady_clock;

namespace {

leash::client_options fast_retries(std::string base_url)
{
    leash::client_options o;
    o.base_url = std::move(base_url);
    o.retry.initial_backoff = 5ms;
    o.retry.max_backoff = 20ms;
    return o;
}

asio::awaitable<fetched> fetch(leash::client& c, leash::request req)
{
    auto [ec, res] = co_await c.async_send(std::move(req), as_tuple);
    if (ec)
        co_return fetched{ec, 0, {}};
    auto [read_ec, text] = co_await res.body.async_read_all(1 << 20, as_tuple);
    co_return fetched{read_ec, res.status, std::move(text)};
}

// Answers with each reply in turn, then 200 "done".
test_server::handler in_turn(std::vector<reply> replies)
{
    auto state = std::make_shared<std::pair<std::mutex, std::vector<reply>>>();
    state->second = std::move(replies);
    return [state](const received_request&) {
        std::lock_guard lock(state->first);
        if (state->second.empty())
            return reply::ok("done");
        auto r = state->second.front();
        state->second.erase(state->second.begin());
        return r;
    };
}

} // namespace

TEST_CASE("client: relative URLs join the base URL and default headers are added")
{
    test_server server;
    asio::io_context ioc;
    const auto fds_at_start = warm_up_and_count_fds(ioc);
    auto o = fast_retries(server.url("/api/v3"));
    o.default_headers.set("Authorization", "Bearer k");
    o.default_headers.set("X-Team", "a");
    leash::client c(ioc, o);
    auto req = leash::request::post("/chat/completions", "{}");
    req.headers.set("X-Team", "b");
    auto r = run(ioc, fetch(c, std::move(req)));
    CHECK_FALSE(r.ec);
    auto got = server.requests().at(0);
    CHECK(got.target == "/api/v3/chat/completions");
    CHECK(got.header("Authorization") == "Bearer k");
    CHECK(got.header("X-Team") == "b");
    require_clean_end(ioc, c, server, fds_at_start);
}

TEST_CASE("client: 429 with Retry-After, then 503, then 200: retried to success")
{
    test_server server(in_turn({reply::status(429, "slow down", {{"Retry-After", "0"}}),
                                reply::status(503, "busy", {{"retry-after-ms", "30"}})}));
    asio::io_context ioc;
    const auto fds_at_start = warm_up_and_count_fds(ioc);
    leash::client c(ioc, fast_retries(server.url()));
    const auto start = clock_type::now();
    auto r = run(ioc, fetch(c, leash::request::get("/models")));
    CHECK_FALSE(r.ec);
    CHECK(r.status == 200);
    CHECK(r.body == "done");
    CHECK(c.retries() == 2);
    CHECK(server.request_count() == 3);
    CHECK(clock_type::now() - start >= 30ms);  // the server's retry-after-ms was honoured
    CHECK(server.accepted() == 1);             // discarded bodies kept the connection
    require_clean_end(ioc, c, server, fds_at_start);
}

TEST_CASE("client: a POST answered 429, or 503 with Retry-After, is retried: it was not processed")
{
    test_server server(in_turn({reply::status(429, "slow down"), reply::status(503, "busy", {{"Retry-After", "0"}})}));
    asio::io_context ioc;
    const auto fds_at_start = warm_up_and_count_fds(ioc);
    leash::client c(ioc, fast_retries(server.url()));
    auto r = run(ioc, fetch(c, leash::request::post("/chat/completions", "{}")));
    CHECK_FALSE(r.ec);
    CHECK(r.body == "done");
    CHECK(server.request_count() == 3);
    CHECK(server.requests().at(2).body == "{}");
    require_clean_end(ioc, c, server, fds_at_start);
}

TEST_CASE("client: with retry_unprocessed off, a POST answered 429 is delivered")
{
    test_server server(in_turn({reply::status(429, "slow down")}));
    asio::io_context ioc;
    const auto fds_at_start = warm_up_and_count_fds(ioc);
    auto o = fast_retries(server.url());
    o.retry.retry_unprocessed = false;
    leash::client c(ioc, o);
    auto r = run(ioc, fetch(c, leash::request::post("/chat/completions", "{}")));
    CHECK(r.status == 429);
    CHECK(server.request_count() == 1);
    require_clean_end(ioc, c, server, fds_at_start);
}

TEST_CASE("client: retries stop after max_retries and the last response is delivered")
{
    test_server server([](const received_request&) { return reply::status(503, "busy"); });
    asio::io_context ioc;
    const auto fds_at_start = warm_up_and_count_fds(ioc);
    leash::client c(ioc, fast_retries(server.url()));
    auto r = run(ioc, fetch(c, leash::request::get("/")));
    CHECK_FALSE(r.ec);
    CHECK(r.status == 503);
    CHECK(r.body == "busy");
    CHECK(server.request_count() == 3);
    require_clean_end(ioc, c, server, fds_at_start);
}

TEST_CASE("client: a POST answered 503 without Retry-After is not retried unless it is replayable")
{
    test_server server([](const received_request&) { return reply::status(503, "busy"); });
    asio::io_context ioc;
    const auto fds_at_start = warm_up_and_count_fds(ioc);
    leash::client c(ioc, fast_retries(server.url()));
    auto r = run(ioc, fetch(c, leash::request::post("/", "{}")));
    CHECK(r.status == 503);
    CHECK(server.request_count() == 1);

    auto keyed = leash::request::post("/", "{}");
    keyed.headers.set("Idempotency-Key", "k1");
    r = run(ioc, fetch(c, std::move(keyed)));
    CHECK(server.request_count() == 4);
    require_clean_end(ioc, c, server, fds_at_start);
}

TEST_CASE("client: statuses outside the retry list are delivered at once")
{
    test_server server([](const received_request&) { return reply::status(404, "nope"); });
    asio::io_context ioc;
    const auto fds_at_start = warm_up_and_count_fds(ioc);
    leash::client c(ioc, fast_retries(server.url()));
    auto r = run(ioc, fetch(c, leash::request::get("/")));
    CHECK(r.status == 404);
    CHECK(server.request_count() == 1);
    require_clean_end(ioc, c, server, fds_at_start);
}

TEST_CASE("client: connect failures are retried, then reported")
{
    std::string url;
    {
        test_server gone;
        url = gone.url();
    }
    asio::io_context ioc;
    const auto fds_at_start = warm_up_and_count_fds(ioc);
    leash::client c(ioc, fast_retries(""));
    auto r = run(ioc, fetch(c, leash::request::get(url)));
    CHECK(r.ec == asio::error::connection_refused);
    CHECK(c.retries() == 2);
    CHECK(c.transport().stats().dial_failures == 3);
    c.transport().shutdown();
    ioc.restart();
    ioc.run_for(5s);
    CHECK(ioc.stopped());
    CHECK(c.transport().stats().total.all_zero());
    // no descriptor more than before the test
    const bool no_extra_fd = open_fd_count_settles_at_most(fds_at_start);
    INFO("open descriptors: " << describe_open_fds());
    CHECK(no_extra_fd);
}

TEST_CASE("client: canceling during backoff ends the request at once")
{
    test_server server([](const received_request&) { return reply::status(503, "busy", {{"Retry-After", "30"}}); });
    asio::io_context ioc;
    const auto fds_at_start = warm_up_and_count_fds(ioc);
    leash::client c(ioc, fast_retries(server.url()));
    run(ioc, [&]() -> asio::awaitable<void> {
        asio::cancellation_signal cancel;
        std::optional<std::error_code> result;
        c.async_send(leash::request::get("/"), asio::bind_cancellation_slot(cancel.slot(), [&](std::error_code ec,
                                                                                             leash::response) {
                         result = ec;
                     }));
        co_await wait_until([&] { return server.request_count() == 1; });
        co_await pause(20ms);  // now in the 30 s backoff
        cancel.emit(asio::cancellation_type::terminal);
        co_await wait_until([&] { return result.has_value(); });
        CHECK(*result == asio::error::operation_aborted);
    }(), 5s);
    require_clean_end(ioc, c, server, fds_at_start);
}

TEST_CASE("client: a retried upload from a body source sends the whole body again, chunked or with a length")
{
    for (const bool announce_length : {false, true}) {
        test_server server(in_turn({reply::status(503, "busy")}));
        asio::io_context ioc;
        const auto fds_at_start = warm_up_and_count_fds(ioc);
        leash::client c(ioc, fast_retries(server.url()));
        auto req = leash::request::post("/upload", "");
        req.replayable = true;
        req.source = leash::body_source::from_string("hello, world", announce_length);
        auto r = run(ioc, fetch(c, std::move(req)));
        INFO("announce_length " << announce_length);
        CHECK_FALSE(r.ec);
        CHECK(r.status == 200);
        CHECK(r.body == "done");
        const auto requests = server.requests();
        REQUIRE(requests.size() == 2);
        CHECK(requests[0].body == "hello, world");
        CHECK(requests[1].body == "hello, world");
        require_clean_end(ioc, c, server, fds_at_start);
    }
}

TEST_CASE("client: a response to an upload whose source cannot start over is delivered, not retried")
{
    test_server server([](const received_request&) { return reply::status(503, "busy"); });
    asio::io_context ioc;
    const auto fds_at_start = warm_up_and_count_fds(ioc);
    leash::client c(ioc, fast_retries(server.url()));
    auto req = leash::request::post("/upload", "");
    req.replayable = true;
    req.source = leash::body_source::from_string("once only");
    req.source->rewind = nullptr;
    auto r = run(ioc, fetch(c, std::move(req)));
    CHECK_FALSE(r.ec);
    CHECK(r.status == 503);
    CHECK(server.request_count() == 1);
    CHECK(server.requests().at(0).body == "once only");
    CHECK(c.retries() == 0);
    require_clean_end(ioc, c, server, fds_at_start);
}

TEST_CASE("client: call_timeout bounds every attempt and backoff of a call")
{
    test_server server([](const received_request&) { return reply::status(503, "busy").delay(300ms); });
    asio::io_context ioc;
    const auto fds_at_start = warm_up_and_count_fds(ioc);
    auto o = fast_retries(server.url());
    o.retry.max_retries = 10;
    o.call_timeout = 800ms;
    auto req = leash::request::get("/");
    req.replayable = true;
    leash::client c(ioc, o);
    const auto start = clock_type::now();
    auto r = run(ioc, fetch(c, std::move(req)));
    CHECK(r.ec == leash::error::call_timeout);
    CHECK(r.ec == leash::condition::timeout);
    CHECK(clock_type::now() - start < 5s);
    CHECK(server.request_count() >= 2);  // retried within the call
    CHECK(server.request_count() <= 4);
    require_clean_end(ioc, c, server, fds_at_start);
}

TEST_CASE("client: a backoff that would pass call_timeout is not waited for; the last response is delivered")
{
    test_server server([](const received_request&) { return reply::status(503, "busy", {{"Retry-After", "30"}}); });
    asio::io_context ioc;
    const auto fds_at_start = warm_up_and_count_fds(ioc);
    auto o = fast_retries(server.url());
    o.call_timeout = 2s;
    leash::client c(ioc, o);
    const auto start = clock_type::now();
    auto r = run(ioc, fetch(c, leash::request::get("/")));
    CHECK_FALSE(r.ec);
    CHECK(r.status == 503);
    CHECK(server.request_count() == 1);
    CHECK(clock_type::now() - start < 2s);
    require_clean_end(ioc, c, server, fds_at_start);
}

TEST_CASE("client: call_timeout spans the hops of a redirect chain")
{
    test_server server([](const received_request& r) {
        return reply::status(302, "", {{"Location", r.target + "x"}}).delay(200ms);
    });
    asio::io_context ioc;
    const auto fds_at_start = warm_up_and_count_fds(ioc);
    auto o = fast_retries(server.url());
    o.redirect.max_redirects = 50;
    o.call_timeout = 700ms;
    leash::client c(ioc, o);
    auto r = run(ioc, fetch(c, leash::request::get("/")));
    CHECK(r.ec == leash::error::call_timeout);
    CHECK(server.request_count() <= 5);
    require_clean_end(ioc, c, server, fds_at_start);
}

TEST_CASE("client: a request's own total deadline still bounds each attempt under a longer call_timeout")
{
    test_server server([](const received_request&) { return reply::ok("late").delay(2s); });
    asio::io_context ioc;
    const auto fds_at_start = warm_up_and_count_fds(ioc);
    auto o = fast_retries(server.url());
    o.retry.max_retries = 0;
    o.call_timeout = 10s;
    leash::client c(ioc, o);
    auto req = leash::request::get("/");
    req.timeouts.total = 300ms;
    auto r = run(ioc, fetch(c, std::move(req)));
    CHECK(r.ec == leash::error::request_timeout);
    require_clean_end(ioc, c, server, fds_at_start);
}

TEST_CASE("client: against a server that answers 503 to everything, retries stop at the budget and are counted")
{
    test_server server([](const received_request&) { return reply::status(503, "down"); });
    asio::io_context ioc;
    const auto fds_at_start = warm_up_and_count_fds(ioc);
    auto o = fast_retries(server.url());
    o.retry.max_retries = 3;
    o.retry.initial_backoff = 1ms;
    o.retry.max_backoff = 2ms;
    o.retry.budget_ratio = 0.2;
    o.retry.budget_min_per_second = 1;
    o.retry.budget_window = 10s;
    std::size_t traced_retries = 0;
    std::size_t traced_refusals = 0;
    auto hooks = std::make_shared<leash::trace_hooks>();
    hooks->retry = [&](const leash::retry_event& e) { ++(e.refused_by_budget ? traced_refusals : traced_retries); };
    leash::transport_options t;
    t.trace = hooks;
    leash::client c(ioc, o, t);
    for (int i = 0; i < 30; ++i) {
        auto r = run(ioc, fetch(c, leash::request::get("/")));
        REQUIRE(r.status == 503);
    }
    // Without the budget: 90 retries. With it: the floor (10) and a fifth of the 30 calls.
    CHECK(c.retries() <= 16);
    CHECK(c.retries() >= 10);
    CHECK(c.retries_refused() > 0);
    CHECK(server.request_count() == 30 + c.retries());
    CHECK(traced_retries == c.retries());
    CHECK(traced_refusals == c.retries_refused());
    require_clean_end(ioc, c, server, fds_at_start);
}

TEST_CASE("client: the retry hook names each retry's attempt, cause, delay and where the delay came from")
{
    test_server server(in_turn({reply::status(503, "a", {{"retry-after-ms", "10"}}),
                                reply::status(429, "b", {{"Retry-After", "0"}}), reply::status(500, "c")}));
    asio::io_context ioc;
    const auto fds_at_start = warm_up_and_count_fds(ioc);
    std::vector<leash::retry_event> seen;
    std::vector<std::string> urls;
    auto hooks = std::make_shared<leash::trace_hooks>();
    hooks->retry = [&](const leash::retry_event& e) {
        seen.push_back(e);
        urls.emplace_back(e.url);
    };
    auto o = fast_retries(server.url());
    o.retry.max_retries = 3;
    leash::client c(ioc, o);
    auto req = leash::request::get("/v1/models");
    req.trace = hooks;
    auto r = run(ioc, fetch(c, std::move(req)));
    CHECK(r.body == "done");
    REQUIRE(seen.size() == 3);
    CHECK(seen[0].attempt == 2);
    CHECK(seen[0].status == 503);
    CHECK(seen[0].delay == 10ms);
    CHECK(seen[0].delay_source == leash::retry_delay_source::retry_after_ms);
    CHECK(seen[1].status == 429);
    CHECK(seen[1].delay_source == leash::retry_delay_source::retry_after);
    CHECK(seen[2].attempt == 4);
    CHECK(seen[2].delay_source == leash::retry_delay_source::backoff);
    CHECK_FALSE(seen[2].refused_by_budget);
    CHECK(urls[0] == server.url("/v1/models"));
    require_clean_end(ioc, c, server, fds_at_start);
}
