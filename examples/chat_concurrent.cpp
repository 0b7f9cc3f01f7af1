// chat_concurrent - many streaming chat completions at once through one client whose pool keeps
// at most 16 connections to the host; then the pool's statistics show the connections reused
// and, after shutdown, none left open.
//
//   usage: chat_concurrent [REQUESTS]
//
// Without ARK_API_KEY the requests go to a local mock of the Ark API (mock_ark_server.hpp),
// 100 of them by default. With it they go to the real API (ARK_MODEL and ARK_BASE_URL as for
// chat_stream), 4 by default: every request is billed.
//
// All requests start at once; the pool dials up to max_conns_per_host connections and queues
// the other requests (FIFO) until a connection comes back. A connection comes back as soon as
// its stream has been read to the end: sse::reader ends the stream at `data: [DONE]` and reads
// the rest of the body (the chunked terminator), so the connection is reused, not closed.
//
// Exit status: 0 when every request got a complete answer and no connection or body is left
// after shutdown; 1 otherwise; 2 on a usage error.
#include "mock_ark_server.hpp"

#include <leash/leash.hpp>

#include <asio.hpp>
#include <asio/experimental/as_tuple.hpp>
#include <nlohmann/json.hpp>

#include <charconv>
#include <chrono>
#include <cstdlib>
#include <exception>
#include <iomanip>
#include <iostream>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <system_error>

namespace {

constexpr std::string_view program_name = "chat_concurrent";
constexpr std::string_view default_model = "doubao-seed-1-6-250615";
constexpr std::string_view default_base_url = "https://ark.cn-beijing.volces.com/api/v3";
constexpr std::size_t max_conns_per_host = 16;
constexpr std::size_t max_error_body = 64 * 1024;
constexpr auto as_tuple = asio::experimental::as_tuple(asio::use_awaitable);

using json = nlohmann::json;

std::string env_or(const char* name, std::string_view fallback)
{
    const char* value = std::getenv(name);
    return value && *value ? std::string(value) : std::string(fallback);
}

// What went wrong with one request; empty when it succeeded.
using problem = std::string;

// One streaming chat completion, read to its end. `expected` is the whole answer, when known.
asio::awaitable<problem> chat(leash::client& client, std::string model, std::size_t index,
                              std::optional<std::string> expected)
{
    const json payload = {
        {"model", model},
        {"messages",
         json::array({{{"role", "user"}, {"content", "Request " + std::to_string(index) + ": say hello."}}})},
        {"stream", true},
        {"stream_options", {{"include_usage", true}}},
    };
    leash::request req = leash::request::post("chat/completions", payload.dump());
    req.headers.set("Accept", "text/event-stream");
    req.replayable = true;  // retried by the client after 429 / 5xx answers, as the SDKs do

    auto [send_ec, res] = co_await client.async_send(std::move(req), as_tuple);
    if (send_ec)
        co_return "request failed: " + send_ec.message();
    if (res.status != 200) {
        auto [read_ec, body] = co_await res.body.async_read_all(max_error_body, as_tuple);
        (void)read_ec;
        const json parsed = json::parse(body, nullptr, false);
        std::string code;
        if (parsed.is_object() && parsed.contains("error") && parsed["error"].is_object())
            code = parsed["error"].value("code", "");
        co_return "HTTP " + std::to_string(res.status) + (code.empty() ? "" : " " + code);
    }

    // stop_at_done (the default): [DONE] ends the stream and the rest of the body is read, so
    // the connection goes back to the pool.
    leash::sse::reader reader(std::move(res.body));
    std::string answer;
    bool have_usage = false;
    for (;;) {
        auto [ec, event] = co_await reader.async_next(as_tuple);
        if (ec == asio::error::eof)
            break;
        if (ec)
            co_return "stream failed: " + ec.message();
        const json chunk = json::parse(event.data, nullptr, false);
        if (!chunk.is_object())
            continue;
        if (chunk.contains("error"))
            co_return "error in the stream: " + chunk["error"].dump();
        if (const auto it = chunk.find("choices"); it != chunk.end() && it->is_array() && !it->empty()
                                                   && (*it)[0].is_object()) {
            const json& choice = (*it)[0];
            if (const auto delta = choice.find("delta"); delta != choice.end() && delta->is_object())
                if (const auto content = delta->find("content"); content != delta->end() && content->is_string())
                    answer += content->get<std::string>();
        }
        if (const auto it = chunk.find("usage"); it != chunk.end() && it->is_object())
            have_usage = true;
    }
    // The usage chunk comes last, just before [DONE]: without it the stream was cut short.
    if (!have_usage)
        co_return "the stream ended without its usage chunk";
    if (answer.empty())
        co_return "empty answer";
    if (expected && answer != *expected)
        co_return "unexpected answer: " + answer;
    co_return problem{};
}

bool parse_count(std::string_view text, std::size_t& count)
{
    const auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), count);
    return ec == std::errc{} && end == text.data() + text.size() && count > 0;
}

void print_gauges(std::string_view when, const leash::pool_gauges& g)
{
    std::cout << when << ": open " << g.open << " (idle " << g.idle << ", leased " << g.leased << "), dialing "
              << g.dialing << ", waiters " << g.waiters << ", live bodies " << g.live_bodies << '\n';
}

asio::awaitable<int> run(leash::client& client, std::string model, std::size_t count,
                         std::optional<std::string> expected, const mock_ark::server* mock)
{
    const auto executor = co_await asio::this_coro::executor;
    const auto start = std::chrono::steady_clock::now();

    // Every request runs as a coroutine of its own; the last one to finish wakes this one.
    std::size_t remaining = count;
    std::size_t ok = 0;
    std::map<std::string, std::size_t> problems;  // by kind, for the report
    asio::steady_timer all_done(executor, asio::steady_timer::time_point::max());
    for (std::size_t i = 0; i < count; ++i)
        asio::co_spawn(executor, chat(client, model, i, expected), [&](std::exception_ptr failure, problem p) {
            if (failure) {
                try {
                    std::rethrow_exception(failure);
                } catch (const std::exception& e) {
                    p = e.what();
                }
            }
            if (p.empty())
                ++ok;
            else
                ++problems[p];
            if (--remaining == 0)
                all_done.cancel();
        });
    co_await all_done.async_wait(as_tuple);
    const std::chrono::duration<double> elapsed = std::chrono::steady_clock::now() - start;

    const leash::transport_stats before = client.transport().stats();
    // Closes the idle connections; completes once nothing holds a connection any more.
    auto [shutdown_ec] = co_await client.transport().async_shutdown(std::chrono::seconds(5), as_tuple);
    const leash::transport_stats after = client.transport().stats();

    const std::size_t failed = count - ok;
    std::cout << "requests: " << ok << " ok, " << failed << " failed, in " << std::fixed << std::setprecision(2)
              << elapsed.count() << " s\n";
    for (const auto& [what, n] : problems)
        std::cout << "  " << n << " x " << what << '\n';
    std::cout << "connections: " << before.connections_opened << " opened (at most " << max_conns_per_host
              << " per host), " << before.reused << " of " << before.requests << " requests on a reused one, "
              << before.dial_failures << " dial failures, " << before.retries << " stale retries, "
              << client.retries() << " client retries\n";
    print_gauges("before shutdown", before.total);
    const leash::close_counters& c = after.closed;
    std::cout << "closed: " << c.total() << " (shutdown " << c.shutdown << ", idle timeout " << c.idle_timeout
              << ", idle limit " << c.idle_limit << ", dead at checkout " << c.dead_at_checkout
              << ", not reusable " << c.not_reusable << ", body abandoned " << c.body_abandoned << ", error "
              << c.error << ")\n";
    print_gauges("after shutdown", after.total);
    if (mock)
        std::cout << "mock server: " << mock->requests_received() << " requests on " << mock->connections_accepted()
                  << " connections\n";

    bool good = failed == 0;
    if (shutdown_ec) {
        std::cerr << program_name << ": shutdown: " << shutdown_ec.message() << '\n';
        good = false;
    }
    if (!after.total.all_zero() || after.closed.total() != after.connections_opened) {
        std::cerr << program_name << ": connections or bodies leaked: " << after.total.open << " open, "
                  << after.total.live_bodies << " live bodies, " << after.connections_opened << " opened but "
                  << after.closed.total() << " closed\n";
        good = false;
    }
    if (before.connections_opened > max_conns_per_host) {
        std::cerr << program_name << ": the pool opened more than " << max_conns_per_host << " connections\n";
        good = false;
    }
    co_return good ? 0 : 1;
}

} // namespace

int main(int argc, char* argv[])
{
    std::size_t count = 0;  // 0: the default for the server used
    if (argc > 2 || (argc == 2 && !parse_count(argv[1], count))) {
        std::cerr << "usage: " << program_name << " [REQUESTS]\n"
                  << "  environment: ARK_API_KEY (unset: a local mock is used), ARK_MODEL, ARK_BASE_URL\n";
        return 2;
    }

    leash::client_options options;
    std::string api_key = env_or("ARK_API_KEY", "");
    std::unique_ptr<mock_ark::server> mock;
    std::optional<std::string> expected;
    if (api_key.empty()) {
        // A shorter pause between chunks than chat_stream's: the point here is the pool.
        mock_ark::server_options mock_options;
        mock_options.token_delay = std::chrono::milliseconds(5);
        mock = std::make_unique<mock_ark::server>(std::move(mock_options));
        api_key = "mock-key";
        options.base_url = mock->base_url();
        expected = mock_ark::reply_text();
        if (count == 0)
            count = 100;
        std::cerr << "ARK_API_KEY not set: using a local mock of the Ark API at " << options.base_url << '\n';
    } else {
        options.base_url = env_or("ARK_BASE_URL", default_base_url);
        if (count == 0)
            count = 4;
    }
    std::error_code ec;
    options.default_headers.set("Authorization", "Bearer " + api_key, ec);
    if (ec) {
        std::cerr << program_name << ": ARK_API_KEY cannot be sent in a header: " << ec.message() << '\n';
        return 2;
    }

    leash::transport_options transport_options;
    transport_options.max_conns_per_host = max_conns_per_host;

    std::cout << program_name << ": " << count << " concurrent streaming requests to " << options.base_url
              << ", at most " << max_conns_per_host << " connections\n";

    asio::io_context io;
    leash::client client(io, std::move(options), std::move(transport_options));
    int exit_code = 1;
    asio::co_spawn(io, run(client, env_or("ARK_MODEL", default_model), count, std::move(expected), mock.get()),
                   [&](std::exception_ptr failure, int code) {
                       client.transport().shutdown();
                       exit_code = failure ? 1 : code;
                       if (!failure)
                           return;
                       try {
                           std::rethrow_exception(failure);
                       } catch (const std::exception& e) {
                           std::cerr << program_name << ": " << e.what() << '\n';
                       }
                   });
    io.run();
    return exit_code;
}
