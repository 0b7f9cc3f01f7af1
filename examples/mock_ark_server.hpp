// mock_ark_server.hpp - a local stand-in for the Volcengine Ark chat completions API, used by the
// chat examples when no ARK_API_KEY is set and by the smoke tests (through mock_ark).
//
// mock_ark::server listens on 127.0.0.1 (an ephemeral port) and runs its own io_context on its
// own thread. It speaks just enough HTTP/1.1 for a client: keep-alive, request bodies framed by
// Content-Length, responses framed by Content-Length or chunked transfer encoding. It answers
//
//   POST /api/v3/chat/completions   as Ark does. With "stream": true: 200 with a
//       text/event-stream in chunked encoding: one `data: {chunk}` event per token of
//       reply_text() (choices[0].delta.content, "usage": null), a last chunk with
//       finish_reason "stop", with stream_options.include_usage a chunk with "choices": [] and
//       the usage, then `data: [DONE]`. Without it: one chat.completion object.
//       A missing or wrong "Authorization: Bearer <api_key>" gets 401 and Ark's error envelope
//       {"error":{"code","message","param","type"}}; a body that is not a chat request, 400.
//   GET /sse-sample   (not part of Ark) a fixed event stream that uses every SSE field, with
//       line ends split across chunks, for leash-sse's smoke test; see sse_sample below.
//   GET /sse-keepalive, GET /sse-stall   (not part of Ark) one event ("data: ready"), then a
//       ": ping" comment every 100 ms, or silence, until the client closes the connection: a
//       gateway waiting on a stuck upstream, for leash-sse's timeout smoke tests.
//
// Other paths get 404, other methods 405, in the same envelope. Every response carries an
// X-Request-Id, quoted in error messages as Ark does.
//
// Thread safety: the public member functions may be called from any thread. The destructor
// closes the listener and every connection and joins the server thread.
#pragma once

#include <asio.hpp>
#include <asio/experimental/as_tuple.hpp>
#include <nlohmann/json.hpp>

#include <atomic>
#include <charconv>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <ctime>
#include <exception>
#include <iostream>
#include <memory>
#include <set>
#include <string>
#include <string_view>
#include <system_error>
#include <thread>
#include <utility>
#include <vector>

namespace mock_ark {

// The reply of the mock model, in the pieces it is streamed as (one chunk each).
inline const std::vector<std::string>& reply_tokens()
{
    static const std::vector<std::string> tokens{
        "Hello", "!", " I", " am", " a", " local", " mock", " of", " the", " Doubao", " model",
        ",", " streaming", " this", " reply", " token", " by", " token", "."};
    return tokens;
}

inline std::string reply_text()
{
    std::string text;
    for (const auto& token : reply_tokens())
        text += token;
    return text;
}

// The body of GET /sse-sample, in the pieces it is sent as: a byte order mark, comments, a
// retry field, CRLF and LF line ends (one CRLF split across two chunks), named events, ids,
// multi-line data, quotes, backslashes and control characters, UTF-8 and a byte that is not
// UTF-8, an id reset, an event without data (not dispatched), an empty data field, and an
// unterminated event at the end (discarded). The events a conforming client dispatches from
// it, as leash-sse prints them, are listed by the test example.leash_sse.fields.
inline const std::vector<std::string>& sse_sample()
{
    static const std::vector<std::string> pieces{
        "\xEF\xBB\xBF: an event stream that uses every field\r\n",
        "retry: 2500\r\n\r\n",
        "data: first\r",
        "\n\r\n",
        "event: update\nid: 7\ndata: line one\ndata: line two\n\n",
        "data: quote \" backslash \\ tab\tbell\x01 end\n\n",
        "data: caf\xC3\xA9 \xE4\xBD\xA0\xE5\xA5\xBD\n\n",
        "data: bad \xFF byte\n\n",
        "id\ndata: id reset\n\n",
        "event: no-data\n\n",
        "event: end\ndata\n\n",
        "data: unfinished, never dispatched",
    };
    return pieces;
}

struct server_options {
    std::string api_key = "mock-key";                // expected as "Authorization: Bearer <api_key>"
    std::chrono::milliseconds token_delay{30};       // before each streamed chunk
};

class server {
public:
    explicit server(server_options options = {})
        : options_(std::move(options)), acceptor_(io_)
    {
        const asio::ip::tcp::endpoint endpoint(asio::ip::make_address("127.0.0.1"), 0);
        acceptor_.open(endpoint.protocol());
        acceptor_.set_option(asio::socket_base::reuse_address(true));
        acceptor_.bind(endpoint);
        acceptor_.listen();
        port_ = acceptor_.local_endpoint().port();
        asio::co_spawn(io_, accept_loop(), report_failure);
        thread_ = std::thread([this] { io_.run(); });
    }

    server(const server&) = delete;
    server& operator=(const server&) = delete;
    ~server() { stop(); }

    unsigned short port() const noexcept { return port_; }
    // "http://127.0.0.1:PORT"
    std::string origin() const { return "http://127.0.0.1:" + std::to_string(port_); }
    // The base URL clients append "/chat/completions" to, as for Ark's own.
    std::string base_url() const { return origin() + "/api/v3"; }

    std::size_t connections_accepted() const noexcept { return connections_.load(); }
    std::size_t requests_received() const noexcept { return requests_.load(); }

    // Closes the listener and every connection (streams in progress end abruptly) and joins
    // the server thread. Idempotent.
    void stop()
    {
        if (!thread_.joinable())
            return;
        asio::post(io_, [this] {
            std::error_code ignored;
            acceptor_.close(ignored);
            for (const auto& s : sessions_)
                s->close();
        });
        thread_.join();
    }

private:
    static constexpr std::size_t max_head_bytes = 64 * 1024;
    static constexpr std::size_t max_body_bytes = 4 * 1024 * 1024;
    static constexpr auto as_tuple = asio::experimental::as_tuple(asio::use_awaitable);
    using json = nlohmann::json;

    struct session {
        explicit session(asio::ip::tcp::socket s) : socket(std::move(s)), timer(socket.get_executor()) {}
        void close()
        {
            std::error_code ignored;
            socket.close(ignored);
            timer.cancel();
        }
        asio::ip::tcp::socket socket;
        asio::steady_timer timer;  // paces streamed chunks
    };

    struct http_request {
        std::string method, target, version;
        std::vector<std::pair<std::string, std::string>> headers;
        std::string body;
        bool keep_alive = true;

        std::string_view header(std::string_view name) const
        {
            for (const auto& [n, v] : headers)
                if (iequals(n, name))
                    return v;
            return {};
        }
        bool has_header(std::string_view name) const
        {
            for (const auto& h : headers)
                if (iequals(h.first, name))
                    return true;
            return false;
        }
    };

    struct reply {
        int status;
        std::string_view reason;
    };

    static void report_failure(std::exception_ptr failure)
    {
        if (!failure)
            return;
        try {
            std::rethrow_exception(failure);
        } catch (const std::exception& e) {
            std::cerr << "mock Ark server: " << e.what() << '\n';
        }
    }

    static bool iequals(std::string_view a, std::string_view b)
    {
        if (a.size() != b.size())
            return false;
        for (std::size_t i = 0; i < a.size(); ++i) {
            auto lower = [](char c) { return c >= 'A' && c <= 'Z' ? static_cast<char>(c - 'A' + 'a') : c; };
            if (lower(a[i]) != lower(b[i]))
                return false;
        }
        return true;
    }

    static std::string_view trim(std::string_view s)
    {
        while (!s.empty() && (s.front() == ' ' || s.front() == '\t'))
            s.remove_prefix(1);
        while (!s.empty() && (s.back() == ' ' || s.back() == '\t'))
            s.remove_suffix(1);
        return s;
    }

    // Parses a request head (the bytes up to and including the blank line).
    static bool parse_head(std::string_view head, http_request& req)
    {
        auto next_line = [&head]() -> std::string_view {
            const auto end = head.find("\r\n");
            const std::string_view line = head.substr(0, end);
            head.remove_prefix(end == std::string_view::npos ? head.size() : end + 2);
            return line;
        };
        const std::string_view request_line = next_line();
        const auto sp1 = request_line.find(' ');
        const auto sp2 = request_line.find(' ', sp1 == std::string_view::npos ? sp1 : sp1 + 1);
        if (sp1 == std::string_view::npos || sp2 == std::string_view::npos || sp1 == 0)
            return false;
        req.method = request_line.substr(0, sp1);
        req.target = request_line.substr(sp1 + 1, sp2 - sp1 - 1);
        req.version = request_line.substr(sp2 + 1);
        if (req.version != "HTTP/1.1" && req.version != "HTTP/1.0")
            return false;
        for (std::string_view line = next_line(); !line.empty(); line = next_line()) {
            const auto colon = line.find(':');
            if (colon == std::string_view::npos || colon == 0)
                return false;
            req.headers.emplace_back(std::string(line.substr(0, colon)), std::string(trim(line.substr(colon + 1))));
        }
        const std::string_view connection = req.header("Connection");
        req.keep_alive = req.version == "HTTP/1.1" ? !iequals(connection, "close") : iequals(connection, "keep-alive");
        return true;
    }

    // A request id in Ark's style: "021", the time in milliseconds, a sequence number.
    std::string next_request_id()
    {
        const auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(
                            std::chrono::system_clock::now().time_since_epoch())
                            .count();
        char id[64];
        std::snprintf(id, sizeof id, "021%013lld%016llx", static_cast<long long>(ms),
                      static_cast<unsigned long long>(++request_ids_));
        return id;
    }

    using field_list = std::vector<std::pair<std::string_view, std::string>>;

    static std::string head(reply r, const field_list& fields, bool keep_alive)
    {
        std::string out = "HTTP/1.1 " + std::to_string(r.status) + ' ' + std::string(r.reason) + "\r\n";
        for (const auto& [name, value] : fields)
            out.append(name).append(": ").append(value).append("\r\n");
        if (!keep_alive)
            out += "Connection: close\r\n";
        out += "\r\n";
        return out;
    }

    static std::string chunk(std::string_view data)
    {
        char size[20];
        const auto [end, ec] = std::to_chars(size, size + sizeof size, data.size(), 16);
        (void)ec;
        std::string out(size, end);
        out.append("\r\n").append(data).append("\r\n");
        return out;
    }

    static std::string sse_data(const json& payload) { return "data: " + payload.dump() + "\n\n"; }

    static asio::awaitable<bool> write(session& s, std::string data)
    {
        auto [ec, n] = co_await asio::async_write(s.socket, asio::buffer(data), as_tuple);
        (void)n;
        co_return !ec;
    }

    // Sends a complete response with a JSON body; returns whether the connection lives on.
    static asio::awaitable<bool> send_json(session& s, reply r, const json& body, const std::string& request_id,
                                           bool keep_alive)
    {
        // (Braced lists are kept out of co_await expressions: GCC 12 miscompiles them there.)
        const std::string text = body.dump();
        const field_list fields{{"Content-Type", "application/json; charset=utf-8"},
                                {"Content-Length", std::to_string(text.size())},
                                {"X-Request-Id", request_id}};
        const bool ok = co_await write(s, head(r, fields, keep_alive) + text);
        co_return ok && keep_alive;
    }

    // Ark's error envelope.
    static asio::awaitable<bool> send_error(session& s, reply r, std::string_view code, std::string_view type,
                                            std::string_view message, const std::string& request_id, bool keep_alive)
    {
        const json body = {{"error",
                            {{"code", code},
                             {"message", std::string(message) + " Request id: " + request_id},
                             {"param", ""},
                             {"type", type}}}};
        co_return co_await send_json(s, r, body, request_id, keep_alive);
    }

    asio::awaitable<void> accept_loop()
    {
        for (;;) {
            auto [ec, socket] = co_await acceptor_.async_accept(as_tuple);
            if (ec) {
                if (ec == asio::error::operation_aborted || !acceptor_.is_open())
                    co_return;
                continue;  // e.g. a connection reset before it was accepted
            }
            std::error_code ignored;
            socket.set_option(asio::ip::tcp::no_delay(true), ignored);
            ++connections_;
            auto s = std::make_shared<session>(std::move(socket));
            sessions_.insert(s);
            asio::co_spawn(io_, serve(s), [this, s](std::exception_ptr failure) {
                sessions_.erase(s);
                report_failure(failure);
            });
        }
    }

    // One connection: requests one after the other while both sides keep it alive.
    asio::awaitable<void> serve(std::shared_ptr<session> s)
    {
        std::string buffer;
        for (;;) {
            auto [ec, n] = co_await asio::async_read_until(s->socket, asio::dynamic_buffer(buffer, max_head_bytes),
                                                           "\r\n\r\n", as_tuple);
            if (ec) {
                if (ec == asio::error::not_found)
                    co_await send_error(*s, {431, "Request Header Fields Too Large"}, "InvalidParameter",
                                        "BadRequest", "The request head is too large.", next_request_id(), false);
                break;
            }
            http_request req;
            const bool parsed = parse_head(std::string_view(buffer).substr(0, n), req);
            buffer.erase(0, n);
            if (!parsed) {
                co_await send_error(*s, {400, "Bad Request"}, "InvalidParameter", "BadRequest",
                                    "The request is not valid HTTP/1.1.", next_request_id(), false);
                break;
            }
            if (req.has_header("Transfer-Encoding")) {
                co_await send_error(*s, {501, "Not Implemented"}, "InvalidParameter", "BadRequest",
                                    "This mock reads request bodies framed by Content-Length only.",
                                    next_request_id(), false);
                break;
            }
            std::size_t length = 0;
            if (const std::string_view cl = req.header("Content-Length"); !cl.empty()) {
                const auto [end, parse_ec] = std::from_chars(cl.data(), cl.data() + cl.size(), length);
                if (parse_ec != std::errc{} || end != cl.data() + cl.size() || length > max_body_bytes) {
                    co_await send_error(*s, {400, "Bad Request"}, "InvalidParameter", "BadRequest",
                                        "Content-Length is invalid or too large.", next_request_id(), false);
                    break;
                }
            }
            if (buffer.size() < length) {
                auto [read_ec, m] = co_await asio::async_read(s->socket, asio::dynamic_buffer(buffer),
                                                              asio::transfer_exactly(length - buffer.size()), as_tuple);
                (void)m;
                if (read_ec)
                    break;
            }
            req.body = buffer.substr(0, length);
            buffer.erase(0, length);
            ++requests_;
            if (!co_await respond(*s, req))
                break;
        }
        std::error_code ignored;
        s->socket.shutdown(asio::ip::tcp::socket::shutdown_both, ignored);
        s->socket.close(ignored);
    }

    // Answers one request; returns whether the connection lives on.
    asio::awaitable<bool> respond(session& s, const http_request& req)
    {
        const std::string request_id = next_request_id();
        const std::string_view path = std::string_view(req.target).substr(0, req.target.find('?'));
        if (path == "/api/v3/chat/completions") {
            if (req.method != "POST")
                co_return co_await send_error(s, {405, "Method Not Allowed"}, "MethodNotAllowed", "BadRequest",
                                              "Use POST for chat completions.", request_id, req.keep_alive);
            co_return co_await chat_completions(s, req, request_id);
        }
        if (path == "/sse-sample") {
            if (req.method != "GET")
                co_return co_await send_error(s, {405, "Method Not Allowed"}, "MethodNotAllowed", "BadRequest",
                                              "Use GET for the sample stream.", request_id, req.keep_alive);
            co_return co_await sse_sample_stream(s, req, request_id);
        }
        if (path == "/sse-keepalive" || path == "/sse-stall")
            co_return co_await idle_stream(s, req, request_id, path == "/sse-keepalive");
        co_return co_await send_error(s, {404, "Not Found"}, "NotFound", "NotFound",
                                      "The requested resource does not exist.", request_id, req.keep_alive);
    }

    asio::awaitable<bool> chat_completions(session& s, const http_request& req, const std::string& request_id)
    {
        const std::string_view auth = req.header("Authorization");
        if (auth != "Bearer " + options_.api_key)
            co_return co_await send_error(s, {401, "Unauthorized"}, "AuthenticationError", "Unauthorized",
                                          auth.empty() ? "The API key is missing from the request."
                                                       : "The API key in the request is invalid.",
                                          request_id, req.keep_alive);

        const json body = json::parse(req.body, nullptr, false);
        if (body.is_discarded() || !body.is_object())
            co_return co_await send_error(s, {400, "Bad Request"}, "InvalidParameter", "BadRequest",
                                          "The request body is not a JSON object.", request_id, req.keep_alive);
        if (!body.contains("model") || !body["model"].is_string() || body["model"].get<std::string>().empty())
            co_return co_await send_error(s, {400, "Bad Request"}, "MissingParameter.model", "BadRequest",
                                          "The request must specify the parameter `model`.", request_id,
                                          req.keep_alive);
        if (!body.contains("messages") || !body["messages"].is_array() || body["messages"].empty())
            co_return co_await send_error(s, {400, "Bad Request"}, "MissingParameter.messages", "BadRequest",
                                          "The request must specify the parameter `messages`.", request_id,
                                          req.keep_alive);

        const std::string model = body["model"].get<std::string>();
        const json usage = usage_for(body["messages"]);
        const auto created = static_cast<std::int64_t>(std::time(nullptr));

        if (!body.value("stream", false)) {
            const json completion = {
                {"choices",
                 json::array({{{"finish_reason", "stop"},
                               {"index", 0},
                               {"logprobs", nullptr},
                               {"message", {{"content", reply_text()}, {"role", "assistant"}}}}})},
                {"created", created},
                {"id", request_id},
                {"model", model},
                {"object", "chat.completion"},
                {"service_tier", "default"},
                {"usage", usage}};
            co_return co_await send_json(s, {200, "OK"}, completion, request_id, req.keep_alive);
        }

        bool include_usage = false;
        if (const auto it = body.find("stream_options"); it != body.end() && it->is_object())
            include_usage = it->value("include_usage", false);

        const field_list fields{{"Content-Type", "text/event-stream; charset=utf-8"},
                                {"Cache-Control", "no-cache"},
                                {"Transfer-Encoding", "chunked"},
                                {"X-Request-Id", request_id}};
        if (!co_await write(s, head({200, "OK"}, fields, req.keep_alive)))
            co_return false;

        auto chunk_of = [&](json delta, const char* finish_reason) {
            json choice = {{"delta", std::move(delta)}, {"index", 0}};
            if (finish_reason)
                choice["finish_reason"] = finish_reason;
            return json{{"choices", json::array({std::move(choice)})},
                        {"created", created},
                        {"id", request_id},
                        {"model", model},
                        {"object", "chat.completion.chunk"},
                        {"service_tier", "default"},
                        {"usage", nullptr}};
        };
        for (const std::string& token : reply_tokens()) {
            if (!co_await pause(s))
                co_return false;
            std::string event = sse_data(chunk_of({{"content", token}, {"role", "assistant"}}, nullptr));
            if (!co_await write(s, chunk(event)))
                co_return false;
        }
        std::string tail = chunk(sse_data(chunk_of({{"content", ""}, {"role", "assistant"}}, "stop")));
        if (include_usage)
            tail += chunk(sse_data({{"choices", json::array()},
                                    {"created", created},
                                    {"id", request_id},
                                    {"model", model},
                                    {"object", "chat.completion.chunk"},
                                    {"service_tier", "default"},
                                    {"usage", usage}}));
        tail += chunk("data: [DONE]\n\n");
        tail += "0\r\n\r\n";
        if (!co_await pause(s) || !co_await write(s, std::move(tail)))
            co_return false;
        co_return req.keep_alive;
    }

    asio::awaitable<bool> sse_sample_stream(session& s, const http_request& req, const std::string& request_id)
    {
        const field_list fields{{"Content-Type", "text/event-stream"},
                                {"Cache-Control", "no-cache"},
                                {"Transfer-Encoding", "chunked"},
                                {"X-Request-Id", request_id}};
        if (!co_await write(s, head({200, "OK"}, fields, req.keep_alive)))
            co_return false;
        for (const std::string& piece : sse_sample())
            if (!co_await write(s, chunk(piece)))
                co_return false;
        co_return co_await write(s, "0\r\n\r\n") && req.keep_alive;
    }

    // One event, then every 100 ms a ": ping" comment (or nothing), until the connection closes.
    asio::awaitable<bool> idle_stream(session& s, const http_request& req, const std::string& request_id, bool ping)
    {
        const field_list fields{{"Content-Type", "text/event-stream"},
                                {"Transfer-Encoding", "chunked"},
                                {"X-Request-Id", request_id}};
        if (!co_await write(s, head({200, "OK"}, fields, req.keep_alive) + chunk("data: ready\n\n")))
            co_return false;
        for (;;) {
            s.timer.expires_after(std::chrono::milliseconds(100));
            auto [ec] = co_await s.timer.async_wait(as_tuple);
            if (ec || !s.socket.is_open() || (ping && !co_await write(s, chunk(": ping\n\n"))))
                co_return false;
        }
    }

    // Waits token_delay before the next chunk; false once the connection is being closed.
    asio::awaitable<bool> pause(session& s)
    {
        if (options_.token_delay.count() <= 0)
            co_return s.socket.is_open();
        s.timer.expires_after(options_.token_delay);
        auto [ec] = co_await s.timer.async_wait(as_tuple);
        co_return !ec && s.socket.is_open();
    }

    // Token counts as a tokenizer might report them: about four bytes of prompt per token
    // plus a few per message; the reply is one token per streamed piece.
    static json usage_for(const json& messages)
    {
        std::size_t prompt = 0;
        for (const json& m : messages) {
            prompt += 4;
            if (const auto it = m.find("content"); it != m.end() && it->is_string())
                prompt += (it->get_ref<const std::string&>().size() + 3) / 4;
        }
        const std::size_t completion = reply_tokens().size();
        return {{"completion_tokens", completion},
                {"completion_tokens_details", {{"reasoning_tokens", 0}}},
                {"prompt_tokens", prompt},
                {"prompt_tokens_details", {{"cached_tokens", 0}}},
                {"total_tokens", prompt + completion}};
    }

    server_options options_;
    asio::io_context io_;
    asio::ip::tcp::acceptor acceptor_;
    unsigned short port_ = 0;
    std::set<std::shared_ptr<session>> sessions_;  // on the server thread only
    std::atomic<std::size_t> connections_{0};
    std::atomic<std::size_t> requests_{0};
    std::uint64_t request_ids_ = 0;                // on the server thread only
    std::thread thread_;
};

} // namespace mock_ark
