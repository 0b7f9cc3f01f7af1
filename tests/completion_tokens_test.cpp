// Every public asynchronous operation takes any Asio completion token, and the operations that
// wait for the peer end promptly when canceled, whatever the cancellation type.
#include <leash/sse_reader.hpp>
// (an operation with a result type of its own: in separate compilation, launch() for it is
// compiled here)
#include <leash/detail/impl/spawn.ipp>
#include <support/harness.hpp>

#include <asio/experimental/deferred.hpp>

#include <future>
#include <string_view>
#include <thread>

using namespace leash::test;

namespace {

enum class token_kind { callback, use_future, use_awaitable, as_tuple, deferred };

std::ostream& operator<<(std::ostream& out, token_kind k)
{
    constexpr const char* names[] = {"callback", "use_future", "use_awaitable", "as_tuple", "deferred"};
    return out << names[static_cast<int>(k)];
}

#define EVERY_TOKEN_KIND()                                                                                  \
    const auto kind = GENERATE(token_kind::callback, token_kind::use_future, token_kind::use_awaitable, \
                               token_kind::as_tuple, token_kind::deferred);                             \
    CAPTURE(kind)

// Runs the harness's io_context until it has no work left, at most scenario_timeout; true if it
// ran out of work (rather than out of time).
bool run_until_no_work(harness& h)
{
    h.ioc.restart();
    h.ioc.run_for(scenario_timeout);
    return h.ioc.stopped();
}

// Starts an operation with a token of `kind` (start(token) initiates it), checks its result
// with check(ec, values...), then calls finish() (which must leave leash no work, e.g. shut the
// transport down). Requires the handler to be called exactly once and the io_context to run
// out of work within scenario_timeout.
template <class Start, class Check, class Finish>
void complete_with(harness& h, token_kind kind, Start start, Check check, Finish finish)
{
    int calls = 0;
    auto handler = [&](std::error_code ec, auto... values) {
        ++calls;
        check(ec, std::move(values)...);
        finish();
    };
    switch (kind) {
    case token_kind::callback:
        start(handler);
        break;
    case token_kind::deferred: {
        auto op = start(asio::experimental::deferred);
        CHECK(calls == 0);  // nothing starts before the deferred operation is invoked
        std::move(op)(handler);
        break;
    }
    case token_kind::use_future: {
        auto result = start(asio::use_future);
        h.ioc.restart();
        bool ran_out = false;
        std::thread runner([&] {
            h.ioc.run_for(scenario_timeout);
            ran_out = h.ioc.stopped();
        });
        const bool ready = result.wait_for(scenario_timeout) == std::future_status::ready;
        if (ready) {
            ++calls;
            if constexpr (std::is_void_v<decltype(result.get())>) {
                result.get();
                check(std::error_code{});
            }
            else
                check(std::error_code{}, result.get());
        }
        asio::post(h.ioc, finish);  // on the io_context's thread, like the other kinds
        runner.join();
        REQUIRE(ready);
        REQUIRE(ran_out);
        REQUIRE(calls == 1);
        return;
    }
    case token_kind::use_awaitable:
    case token_kind::as_tuple:
        asio::co_spawn(h.ioc, [&]() -> asio::awaitable<void> {
            using value_type = typename decltype(start(asio::use_awaitable))::value_type;
            if (kind == token_kind::as_tuple)
                std::apply(handler, co_await start(asio::experimental::as_tuple(asio::use_awaitable)));
            else if constexpr (std::is_void_v<value_type>) {
                co_await start(asio::use_awaitable);
                handler(std::error_code{});
            }
            else
                handler(std::error_code{}, co_await start(asio::use_awaitable));
        }, [](std::exception_ptr e) {
            if (e)
                std::rethrow_exception(e);
        });
        break;
    }
    REQUIRE(run_until_no_work(h));
    REQUIRE(calls == 1);
}

const std::string head_6 = "HTTP/1.1 200 OK\r\nContent-Length: 6\r\n\r\n";
const std::string sse_head = "HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\nTransfer-Encoding: chunked\r\n\r\n";
const std::string sse_head_11 = "HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\nContent-Length: 11\r\n\r\n";

// `head` and `rest` in one write (the body arrives with its head and is read without I/O), or
// the rest 50 ms later (read from the connection).
reply head_then(const std::string& head, const std::string& rest, bool with_head)
{
    return with_head ? reply::raw(head + rest) : reply::raw(head).piece(50ms, rest);
}

leash::response send_ok(harness& h)
{
    return h.run([&]() -> asio::awaitable<leash::response> {
        auto [ec, res] = co_await h.transport.async_send(leash::request::get(h.url()), as_tuple);
        REQUIRE_FALSE(ec);
        co_return std::move(res);
    }());
}

// Headers and three body bytes, then silence with the connection open.
reply stalled_body(const received_request&)
{
    return reply::raw("HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\nabc").then_hold();
}

#define EVERY_CANCELLATION_TYPE()                                                                         \
    const auto type = GENERATE(asio::cancellation_type::terminal, asio::cancellation_type::partial,      \
                               asio::cancellation_type::total);                                          \
    CAPTURE(static_cast<int>(type))

// Starts start(handler) with `handler` bound to a cancellation slot, emits `type` on
// `strand` once the operation has taken its first steps there, and requires: the handler is
// called once, promptly, with operation_aborted; the connection is closed by then; and leash
// has no work left once the transport is shut down and drop() let go of the body.
template <class Start, class Drop>
void cancel_pending(harness& h, asio::any_io_executor strand, asio::cancellation_type type, Start start, Drop drop)
{
    asio::cancellation_signal cancel;
    int calls = 0;
    std::error_code result;
    std::chrono::steady_clock::time_point emitted, completed;
    start(asio::bind_cancellation_slot(cancel.slot(), [&](std::error_code ec, auto&&...) {
        ++calls;
        result = ec;
        completed = std::chrono::steady_clock::now();
        CHECK(h.transport.gauges().open == 0);
        h.transport.shutdown();
        drop();
    }));
    // Strands run in order: this runs after the operation started its read on the strand.
    asio::post(strand, [&] {
        CHECK(calls == 0);
        emitted = std::chrono::steady_clock::now();
        cancel.emit(type);
    });
    REQUIRE(run_until_no_work(h));
    REQUIRE(calls == 1);
    CHECK(result == asio::error::operation_aborted);
    CHECK(completed - emitted < 1s);
    CHECK(h.transport.stats().closed.error + h.transport.stats().closed.body_abandoned == 1);
    CHECK(h.server.wait_for_open_connections(0, 5s));
    CHECK(h.server.closed_by_client() == 1);
}

} // namespace

TEST_CASE("completion tokens: transport::async_send takes every completion token")
{
    EVERY_TOKEN_KIND();
    harness h;
    complete_with(
        h, kind, [&](auto token) { return h.transport.async_send(leash::request::get(h.url()), std::move(token)); },
        [](std::error_code ec, leash::response res) {
            CHECK_FALSE(ec);
            CHECK(res.status == 200);
        },
        [&] { h.transport.shutdown(); });
    h.require_clean_end();
}

TEST_CASE("completion tokens: transport::async_shutdown takes every completion token")
{
    EVERY_TOKEN_KIND();
    harness h;
    h.run(fetch_ok(h.transport, h.url()));
    complete_with(
        h, kind, [&](auto token) { return h.transport.async_shutdown(1s, std::move(token)); },
        [](std::error_code ec) { CHECK_FALSE(ec); }, [] {});
    h.require_clean_end();
}

TEST_CASE("completion tokens: client::async_send takes every completion token")
{
    EVERY_TOKEN_KIND();
    harness h;
    leash::client c(h.ioc);
    complete_with(
        h, kind, [&](auto token) { return c.async_send(leash::request::get(h.url()), std::move(token)); },
        [](std::error_code ec, leash::response res) {
            CHECK_FALSE(ec);
            CHECK(res.status == 200);
        },
        [&] {
            c.transport().shutdown();
            h.transport.shutdown();
        });
    h.require_clean_end();
}

TEST_CASE("completion tokens: body::async_read_some takes every completion token, with or without I/O")
{
    EVERY_TOKEN_KIND();
    const bool with_head = GENERATE(true, false);
    CAPTURE(with_head);
    harness h([&](const received_request&) { return head_then(head_6, "123456", with_head); });
    auto res = send_ok(h);
    CHECK(res.body.holds_connection() != with_head);
    char buf[16];
    complete_with(
        h, kind, [&](auto token) { return res.body.async_read_some(asio::buffer(buf), std::move(token)); },
        [&](std::error_code ec, std::size_t n) {
            CHECK_FALSE(ec);
            CHECK(std::string_view(buf, n) == "123456");
        },
        [&] { h.transport.shutdown(); });
    h.require_clean_end();
}

TEST_CASE("completion tokens: body::async_read_all takes every completion token, with or without I/O")
{
    EVERY_TOKEN_KIND();
    const bool with_head = GENERATE(true, false);
    CAPTURE(with_head);
    harness h([&](const received_request&) { return head_then(head_6, "123456", with_head); });
    auto res = send_ok(h);
    CHECK(res.body.holds_connection() != with_head);
    complete_with(
        h, kind, [&](auto token) { return res.body.async_read_all(1024, std::move(token)); },
        [](std::error_code ec, std::string text) {
            CHECK_FALSE(ec);
            CHECK(text == "123456");
        },
        [&] { h.transport.shutdown(); });
    h.require_clean_end();
}

TEST_CASE("completion tokens: sse::reader::async_next takes every completion token, with or without I/O")
{
    EVERY_TOKEN_KIND();
    const bool with_head = GENERATE(true, false);
    CAPTURE(with_head);
    harness h([&](const received_request&) {
        return head_then(sse_head_11, "data: one\n\n", with_head);
    });
    leash::sse::reader events(send_ok(h).body);
    CHECK(events.body().holds_connection() != with_head);
    complete_with(
        h, kind, [&](auto token) { return events.async_next(std::move(token)); },
        [](std::error_code ec, leash::sse::event e) {
            CHECK_FALSE(ec);
            CHECK(e.data == "one");
        },
        [&] {
            events.body().close();
            h.transport.shutdown();
        });
    h.require_clean_end();
}

TEST_CASE("completion tokens: a canceled body::async_read_some ends promptly and closes its connection")
{
    EVERY_CANCELLATION_TYPE();
    harness h(stalled_body);
    auto res = send_ok(h);
    char buf[16];
    REQUIRE(h.run(res.body.async_read_some(asio::buffer(buf), as_tuple)) == std::tuple(std::error_code{}, 3u));
    cancel_pending(
        h, res.body.get_executor(), type,
        [&](auto token) { res.body.async_read_some(asio::buffer(buf), std::move(token)); },
        [&] { res.body = leash::body(); });
    h.require_clean_end();
}

TEST_CASE("completion tokens: a canceled body::async_read_all ends promptly and closes its connection")
{
    EVERY_CANCELLATION_TYPE();
    harness h(stalled_body);
    auto res = send_ok(h);
    cancel_pending(
        h, res.body.get_executor(), type, [&](auto token) { res.body.async_read_all(1000, std::move(token)); },
        [&] { res.body = leash::body(); });
    h.require_clean_end();
}

TEST_CASE("completion tokens: a canceled sse::reader::async_next ends promptly and closes its connection")
{
    EVERY_CANCELLATION_TYPE();
    harness h([](const received_request&) {
        return reply::raw(sse_head).piece(1ms, reply::chunk("data: one\n\n")).then_hold();
    });
    leash::sse::reader events(send_ok(h).body);
    auto [ec, first] = h.run(events.async_next(as_tuple));
    REQUIRE_FALSE(ec);
    CHECK(first.data == "one");
    cancel_pending(
        h, events.get_executor(), type, [&](auto token) { events.async_next(std::move(token)); },
        [&] { events.body() = leash::body(); });
    h.require_clean_end();
}

TEST_CASE("operations: an exception inside an operation reaches its handler as an error code, not run()")
{
    asio::io_context ioc;
    const auto throwing = [](std::exception_ptr e,
                             leash::detail::operation_entry entry) -> asio::awaitable<leash::detail::op_result<int>> {
        co_await entry.begin();
        std::rethrow_exception(e);
        co_return leash::detail::op_result<int>{};
    };
    const std::pair<std::exception_ptr, std::error_code> cases[] = {
        {std::make_exception_ptr(std::system_error(asio::error::operation_aborted)), asio::error::operation_aborted},
        {std::make_exception_ptr(std::bad_alloc()), std::make_error_code(std::errc::not_enough_memory)},
        {std::make_exception_ptr(std::logic_error("unexpected")), leash::error::internal_error},
    };
    for (const auto& [thrown, expected] : cases) {
        int calls = 0;
        std::error_code result;
        auto op = leash::detail::make_operation([&, e = thrown](leash::detail::operation_entry entry) {
            return throwing(e, entry);
        });
        leash::detail::spawn_operation(ioc.get_executor(), std::move(op), [&](std::error_code ec, int) {
            ++calls;
            result = ec;
        });
        ioc.restart();
        CHECK_NOTHROW(ioc.run_for(scenario_timeout));
        CHECK(ioc.stopped());
        CHECK(calls == 1);
        CHECK(result == expected);
    }
}
