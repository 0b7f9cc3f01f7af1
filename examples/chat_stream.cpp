// chat_stream - asks Doubao (Volcengine Ark) a question and prints the answer token by token,
// as the server streams it.
//
//   usage: chat_stream [PROMPT]
//
// Environment:
//   ARK_API_KEY   the API key. When it is not set, the program starts a local mock of the Ark API
//                 (mock_ark_server.hpp) and talks to that instead, so it runs anywhere.
//   ARK_MODEL     a model id or an endpoint id ("ep-..."); default doubao-seed-1-6-250615, which
//                 is only a default: use one your account has access to.
//   ARK_BASE_URL  default https://ark.cn-beijing.volces.com/api/v3 (any OpenAI-compatible base
//                 URL works: the request and the stream have the same shape).
//
// The request is POST {ARK_BASE_URL}/chat/completions with "stream": true and
// stream_options.include_usage, sent through a leash::client that holds the base URL and the
// Authorization header. The response is a text/event-stream: every event's data is one JSON
// chunk whose choices[0].delta.content is the next piece of the answer (printed to stdout at
// once), the last chunk before `data: [DONE]` carries the token usage (printed to stderr).
// A thinking model streams its reasoning first in delta.reasoning_content; it goes to stderr.
//
// Exit status: 0 when the answer was complete; 1 when the API answered with an error (its
// status, code and message are printed), the connection failed, or the stream ended without
// `data: [DONE]`; 2 on a usage error.
#include "mock_ark_server.hpp"

#include <leash/leash.hpp>

#include <asio.hpp>
#include <asio/experimental/as_tuple.hpp>
#include <nlohmann/json.hpp>

#include <chrono>
#include <cstdlib>
#include <exception>
#include <iostream>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <system_error>

namespace {

constexpr std::string_view program_name = "chat_stream";
constexpr std::string_view default_model = "doubao-seed-1-6-250615";
constexpr std::string_view default_base_url = "https://ark.cn-beijing.volces.com/api/v3";
constexpr std::string_view default_prompt = "Say hello and tell me who you are, in one sentence.";
// How much of an error response is read to find the error in it.
constexpr std::size_t max_error_body = 64 * 1024;
constexpr auto as_tuple = asio::experimental::as_tuple(asio::use_awaitable);

using json = nlohmann::json;

std::string env_or(const char* name, std::string_view fallback)
{
    const char* value = std::getenv(name);
    return value && *value ? std::string(value) : std::string(fallback);
}

// A JSON value's string member, or "" when it is missing or not a string.
std::string string_member(const json& object, const char* name)
{
    if (!object.is_object())
        return {};
    const auto it = object.find(name);
    return it != object.end() && it->is_string() ? it->get<std::string>() : std::string();
}

// Prints an API error under `headline`: Ark and OpenAI wrap it as
// {"error":{"code","message","type",...}}; a bare error object and a body that is not JSON at
// all are shown too.
void report_api_error(std::string_view headline, std::string_view request_id, std::string_view body)
{
    std::cerr << program_name << ": " << headline << '\n';
    const json parsed = json::parse(body, nullptr, false);
    const json& error = parsed.is_object() && parsed.contains("error") ? parsed["error"] : parsed;
    const std::string code = string_member(error, "code");
    const std::string message = string_member(error, "message");
    const std::string type = string_member(error, "type");
    if (!code.empty())
        std::cerr << "  code:       " << code << '\n';
    if (!type.empty())
        std::cerr << "  type:       " << type << '\n';
    if (!message.empty())
        std::cerr << "  message:    " << message << '\n';
    if (code.empty() && message.empty() && !body.empty())
        std::cerr << "  body:       " << body.substr(0, 2048) << '\n';
    if (!request_id.empty())
        std::cerr << "  request id: " << request_id << '\n';
}

struct chat_settings {
    std::string model;
    std::string prompt;
};

asio::awaitable<int> chat(leash::client& client, chat_settings settings)
{
    const json payload = {
        {"model", settings.model},
        {"messages", json::array({{{"role", "user"}, {"content", settings.prompt}}})},
        {"stream", true},
        {"stream_options", {{"include_usage", true}}},
    };
    // A URL without a scheme is appended to the client's base URL.
    leash::request req = leash::request::post("chat/completions", payload.dump());
    req.headers.set("Accept", "text/event-stream");
    // Lets the client retry after 429 / 5xx answers and refused connections, as the official
    // SDKs do: nothing has been generated for an attempt that was refused.
    req.replayable = true;

    auto [send_ec, res] = co_await client.async_send(std::move(req), as_tuple);
    if (send_ec) {
        std::cerr << program_name << ": " << client.options().base_url << "/chat/completions: "
                  << send_ec.message() << '\n';
        co_return 1;
    }
    const std::string request_id(res.headers.get("X-Request-Id").value_or(""));
    if (res.status != 200) {
        auto [read_ec, body] = co_await res.body.async_read_all(max_error_body, as_tuple);
        (void)read_ec;  // a body too long or cut short is shown as far as it arrived
        report_api_error("the API answered " + std::to_string(res.status) + ' ' + res.reason, request_id, body);
        co_return 1;
    }

    // [DONE] is handled here rather than by the reader, so that a stream that ends without it
    // (cut short by a proxy, say) is told apart from a complete one. The event timeouts bound
    // the time to the first token and between tokens, which ": ping" keep-alive comments from
    // a gateway waiting on a stuck model would otherwise stretch forever.
    leash::sse::reader_options stream_bounds;
    stream_bounds.stop_at_done = false;
    stream_bounds.first_event_timeout = std::chrono::seconds(60);
    stream_bounds.event_timeout = std::chrono::seconds(30);
    leash::sse::reader reader(std::move(res.body), stream_bounds);
    std::optional<json> usage;
    bool done = false;
    bool in_reasoning = false;
    for (;;) {
        auto [ec, event] = co_await reader.async_next(as_tuple);
        if (ec == asio::error::eof)
            break;
        if (ec) {
            std::cout << std::endl;
            std::cerr << program_name << ": the stream failed: " << ec.message() << '\n';
            co_return 1;
        }
        if (event.data == "[DONE]") {
            done = true;
            break;
        }
        const json chunk = json::parse(event.data, nullptr, false);
        if (event.type == "error" || (chunk.is_object() && chunk.contains("error"))) {
            // An error after the 200 head arrives as an event of its own.
            std::cout << std::endl;
            report_api_error("the API reported an error in the stream", request_id, event.data);
            co_return 1;
        }
        if (!chunk.is_object())
            continue;  // not a chunk (an empty keep-alive event, say): nothing to show

        if (const auto it = chunk.find("choices"); it != chunk.end() && it->is_array() && !it->empty()
                                                    && (*it)[0].is_object()) {
            const json delta = (*it)[0].value("delta", json::object());
            if (const std::string reasoning = string_member(delta, "reasoning_content"); !reasoning.empty()) {
                if (!in_reasoning)
                    std::cerr << "(thinking) ";
                in_reasoning = true;
                std::cerr << reasoning << std::flush;
            }
            if (const std::string content = string_member(delta, "content"); !content.empty()) {
                if (in_reasoning)
                    std::cerr << '\n';
                in_reasoning = false;
                std::cout << content << std::flush;
            }
        }
        // Ark sends "usage": null on every chunk; the totals come in the last one.
        if (const auto it = chunk.find("usage"); it != chunk.end() && it->is_object())
            usage = *it;
    }
    std::cout << std::endl;

    if (!done) {
        std::cerr << program_name << ": the stream ended without data: [DONE]; the answer may be incomplete\n";
        co_return 1;
    }
    if (usage)
        std::cerr << "usage: prompt " << usage->value("prompt_tokens", 0) << " tokens, completion "
                  << usage->value("completion_tokens", 0) << " tokens, total " << usage->value("total_tokens", 0)
                  << " tokens\n";
    co_return 0;
}

} // namespace

int main(int argc, char* argv[])
{
    if (argc > 2 || (argc == 2 && std::string_view(argv[1]).starts_with("-"))) {
        std::cerr << "usage: " << program_name << " [PROMPT]\n"
                  << "  environment: ARK_API_KEY (unset: a local mock is used), ARK_MODEL, ARK_BASE_URL\n";
        return 2;
    }

    chat_settings settings{env_or("ARK_MODEL", default_model), argc == 2 ? argv[1] : std::string(default_prompt)};
    leash::client_options options;
    std::string api_key = env_or("ARK_API_KEY", "");

    // Without a key, a mock of the Ark API serves the request from a thread of this process.
    std::unique_ptr<mock_ark::server> mock;
    if (api_key.empty()) {
        mock = std::make_unique<mock_ark::server>();
        api_key = "mock-key";
        options.base_url = mock->base_url();
        std::cerr << "ARK_API_KEY not set: using a local mock of the Ark API at " << options.base_url << '\n';
    } else {
        options.base_url = env_or("ARK_BASE_URL", default_base_url);
    }

    std::error_code ec;
    options.default_headers.set("Authorization", "Bearer " + api_key, ec);
    if (ec) {
        std::cerr << program_name << ": ARK_API_KEY cannot be sent in a header: " << ec.message() << '\n';
        return 2;
    }

    asio::io_context io;
    leash::client client(io, std::move(options));
    int exit_code = 1;
    asio::co_spawn(io, chat(client, std::move(settings)), [&](std::exception_ptr failure, int code) {
        // No more requests: closing the pooled connection leaves io.run() nothing to wait for.
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
