// In-process, scriptable HTTP/1.1 server for leash's tests.
//
// The server listens on 127.0.0.1 (ephemeral port) and runs its own
// asio::io_context on its own thread. A handler decides, per request, what the
// server does: which bytes to write, with which delays, and what happens to the
// connection afterwards. Everything the tests can observe (received requests,
// connection counters) is guarded by a mutex, and every wait has a timeout.
//
// Threading contract: all socket work happens on the server thread; the public
// member functions of test_server may be called from any thread.
#pragma once

#include <asio.hpp>

#include <algorithm>
#include <array>
#include <charconv>
#include <chrono>
#include <condition_variable>
#include <cstddef>
#include <cstdint>
#include <exception>
#include <filesystem>
#include <functional>
#include <future>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <system_error>
#include <thread>
#include <utility>
#include <vector>

namespace leash::test {

using header_list = std::vector<std::pair<std::string, std::string>>;

namespace detail {

inline char ascii_lower(char c) {
    return (c >= 'A' && c <= 'Z') ? static_cast<char>(c - 'A' + 'a') : c;
}

inline bool iequals(std::string_view a, std::string_view b) {
    return a.size() == b.size() &&
           std::equal(a.begin(), a.end(), b.begin(),
                      [](char x, char y) { return ascii_lower(x) == ascii_lower(y); });
}

// True if `needle` occurs in `haystack`, ignoring ASCII case.
inline bool icontains(std::string_view haystack, std::string_view needle) {
    if (needle.size() > haystack.size()) return false;
    for (std::size_t i = 0; i + needle.size() <= haystack.size(); ++i) {
        if (iequals(haystack.substr(i, needle.size()), needle)) return true;
    }
    return false;
}

inline std::string_view trim(std::string_view s) {
    while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
    while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
    return s;
}

inline std::string_view find_header(const header_list& headers, std::string_view name) {
    for (const auto& [key, value] : headers) {
        if (iequals(key, name)) return value;
    }
    return {};
}

inline bool has_header(const header_list& headers, std::string_view name) {
    return std::any_of(headers.begin(), headers.end(),
                       [&](const auto& h) { return iequals(h.first, name); });
}

// Parses the whole of `text` as an unsigned number in `base`.
inline std::optional<std::size_t> parse_number(std::string_view text, int base) {
    std::size_t value = 0;
    const char* end = text.data() + text.size();
    auto [ptr, ec] = std::from_chars(text.data(), end, value, base);
    if (text.empty() || ec != std::errc{} || ptr != end) return std::nullopt;
    return value;
}

}  // namespace detail

// One complete request as the server parsed it.
struct received_request {
    std::string method, target, version;
    header_list headers;
    header_list trailers;  // trailer fields of a chunked request body
    std::string body;      // decoded (de-chunked) body
    std::size_t connection_id = 0;        // accept order, starting at 0
    std::size_t index_on_connection = 0;  // 0 for the first request on that connection

    // First value of the header `name` (case-insensitive), "" if absent.
    std::string header(std::string_view name) const {
        return std::string(detail::find_header(headers, name));
    }
    bool has_header(std::string_view name) const { return detail::has_header(headers, name); }
    std::size_t count_header(std::string_view name) const {
        return static_cast<std::size_t>(
            std::count_if(headers.begin(), headers.end(),
                          [&](const auto& h) { return detail::iequals(h.first, name); }));
    }
};

// What the server does for one request: wait `first_byte_delay`, write each of
// `writes` (each after its own delay), then write `repeat` forever if set, and
// finally apply `after`.
struct reply {
    enum class after_reply {
        keep_alive,  // read the next request on the same connection
        close,       // graceful close: shutdown(send) + close
        reset,       // abortive close (SO_LINGER 0): the client sees a RST
        hold,        // keep the connection open but never answer again
    };

    struct delayed_write {
        std::chrono::milliseconds delay{0};
        std::string bytes;
    };

    std::vector<delayed_write> writes;
    std::chrono::milliseconds first_byte_delay{0};
    // Written again and again (after its delay) until a write fails; `after` is
    // then never reached. Ignored if its bytes are empty.
    std::optional<delayed_write> repeat;
    after_reply after = after_reply::keep_alive;
    // With keep_alive: close the connection this long after the reply was
    // written, unless the client sent more bytes first.
    std::optional<std::chrono::milliseconds> idle_close_delay;

    // --- convenience constructors -------------------------------------------

    // "HTTP/1.1 200 OK" with Content-Length (see status()).
    static reply ok(std::string body = "ok", header_list extra_headers = {}) {
        return status(200, std::move(body), std::move(extra_headers));
    }

    // "HTTP/1.1 <code> <reason>", then `extra_headers`, then the body.
    // Content-Length is added unless extra_headers already carries
    // Content-Length or Transfer-Encoding, or the status has no body (1xx, 204,
    // 304). A "Connection: close" extra header implies then_close().
    static reply status(int code, std::string body = "", header_list extra_headers = {}) {
        std::string head = status_line(code);
        const bool bodiless = (code >= 100 && code < 200) || code == 204 || code == 304;
        const bool framed = detail::has_header(extra_headers, "Content-Length") ||
                            detail::has_header(extra_headers, "Transfer-Encoding");
        if (!bodiless && !framed) head += "Content-Length: " + std::to_string(body.size()) + "\r\n";
        head += format_headers(extra_headers) + "\r\n";
        reply r = raw(head + body);
        if (detail::icontains(detail::find_header(extra_headers, "Connection"), "close")) {
            r.then_close();
        }
        return r;
    }

    // "HTTP/1.1 200 OK" with Transfer-Encoding: chunked; one chunk per element
    // (empty elements are skipped), then the last chunk with `trailers`.
    static reply chunked(std::vector<std::string> chunks, header_list trailers = {}) {
        std::string bytes = status_line(200) + "Transfer-Encoding: chunked\r\n\r\n";
        for (const auto& c : chunks) bytes += chunk(c);
        bytes += last_chunk(trailers);
        return raw(std::move(bytes));
    }

    // Exactly these bytes, nothing added.
    static reply raw(std::string bytes) {
        reply r;
        r.writes.push_back({std::chrono::milliseconds{0}, std::move(bytes)});
        return r;
    }

    // Read the request, send nothing, keep the connection open.
    static reply never() {
        reply r;
        r.after = after_reply::hold;
        return r;
    }

    // Read the request, then close gracefully without sending anything.
    static reply close_without_reply() {
        reply r;
        r.after = after_reply::close;
        return r;
    }

    // Write `head`, then `piece` every `every` until the client goes away.
    static reply endless(std::string head, std::string piece, std::chrono::milliseconds every) {
        reply r = raw(std::move(head));
        r.repeat = delayed_write{every, std::move(piece)};
        return r;
    }

    // A 200 chunked response whose body never ends: one chunk of `chunk_data`
    // every `every` until the client goes away.
    static reply endless_chunked(std::string chunk_data = std::string(1024, 'x'),
                                 std::chrono::milliseconds every = std::chrono::milliseconds{10}) {
        return endless(status_line(200) + "Transfer-Encoding: chunked\r\n\r\n", chunk(chunk_data),
                       every);
    }

    // --- encoding helpers (for building replies piece by piece) -------------

    // "HTTP/1.1 <code> <reason>\r\n"
    static std::string status_line(int code) {
        return "HTTP/1.1 " + std::to_string(code) + " " + std::string(reason_phrase(code)) + "\r\n";
    }

    // One chunk of a chunked body: "<hex size>\r\n<data>\r\n".
    static std::string chunk(std::string_view data) {
        std::array<char, 2 * sizeof(std::size_t)> hex{};
        auto [end, ec] = std::to_chars(hex.data(), hex.data() + hex.size(), data.size(), 16);
        (void)ec;  // cannot fail: the buffer fits any size_t in hex
        return std::string(hex.data(), end) + "\r\n" + std::string(data) + "\r\n";
    }

    // The end of a chunked body: "0\r\n", trailers, "\r\n".
    static std::string last_chunk(const header_list& trailers = {}) {
        return "0\r\n" + format_headers(trailers) + "\r\n";
    }

    static std::string format_headers(const header_list& headers) {
        std::string out;
        for (const auto& [name, value] : headers) out += name + ": " + value + "\r\n";
        return out;
    }

    static std::string_view reason_phrase(int code) {
        switch (code) {
            case 100: return "Continue";
            case 101: return "Switching Protocols";
            case 200: return "OK";
            case 201: return "Created";
            case 204: return "No Content";
            case 206: return "Partial Content";
            case 301: return "Moved Permanently";
            case 302: return "Found";
            case 303: return "See Other";
            case 304: return "Not Modified";
            case 307: return "Temporary Redirect";
            case 308: return "Permanent Redirect";
            case 400: return "Bad Request";
            case 401: return "Unauthorized";
            case 403: return "Forbidden";
            case 404: return "Not Found";
            case 405: return "Method Not Allowed";
            case 408: return "Request Timeout";
            case 411: return "Length Required";
            case 413: return "Content Too Large";
            case 429: return "Too Many Requests";
            case 500: return "Internal Server Error";
            case 501: return "Not Implemented";
            case 502: return "Bad Gateway";
            case 503: return "Service Unavailable";
            case 504: return "Gateway Timeout";
            default: return "Status";
        }
    }

    // --- chainable modifiers -------------------------------------------------

    reply& then_keep_alive() { return set_after(after_reply::keep_alive); }
    reply& then_close() { return set_after(after_reply::close); }
    reply& then_reset() { return set_after(after_reply::reset); }
    reply& then_hold() { return set_after(after_reply::hold); }

    reply& close_idle_after(std::chrono::milliseconds delay) {
        idle_close_delay = delay;
        return *this;
    }

    // Delay before the first byte (or before `after` if nothing is written).
    reply& delay(std::chrono::milliseconds d) {
        first_byte_delay = d;
        return *this;
    }

    // Append `bytes`, written `d` after the previous write completed.
    reply& piece(std::chrono::milliseconds d, std::string bytes) {
        writes.push_back({d, std::move(bytes)});
        return *this;
    }

    // After the writes, write `bytes` every `every` until the client goes away.
    reply& repeat_forever(std::chrono::milliseconds every, std::string bytes) {
        repeat = delayed_write{every, std::move(bytes)};
        return *this;
    }

private:
    reply& set_after(after_reply a) {
        after = a;
        return *this;
    }
};

using request_handler = std::function<reply(const received_request&)>;

// Snapshot of the server's connection and request counters.
struct server_stats {
    std::size_t accepted = 0;               // connections accepted so far
    std::size_t open_connections = 0;       // currently open, server's view
    std::size_t peak_open_connections = 0;  // maximum of open_connections
    std::size_t closed_by_client = 0;       // connections ended by client EOF/reset
    std::size_t requests = 0;               // complete requests received
};

namespace detail {

// Incremental HTTP/1.1 request parser. Consumes bytes from the front of the
// input buffer; the body is decoded (Content-Length or chunked).
class request_parser {
public:
    enum class result { need_more, complete, malformed };

    static constexpr std::size_t max_head_size = 64 * 1024;
    static constexpr std::size_t max_line_size = 8 * 1024;

    // Parses what it can from `input` into `out`, erasing consumed bytes.
    // After `complete`, the parser is ready for the next request.
    result parse(std::string& input, received_request& out) {
        for (;;) {
            switch (stage_) {
                case stage::head: {
                    const auto end = input.find("\r\n\r\n");
                    if (end == std::string::npos) {
                        return input.size() > max_head_size ? result::malformed : result::need_more;
                    }
                    if (!parse_head(std::string_view(input).substr(0, end + 2), out)) {
                        return result::malformed;
                    }
                    input.erase(0, end + 4);
                    if (!choose_body_stage(out)) return result::malformed;
                    break;
                }
                case stage::fixed_body:
                    if (!take_body_bytes(input, out)) return result::need_more;
                    return finish();
                case stage::chunk_size: {
                    auto line = take_line(input);
                    if (!line) return input.size() > max_line_size ? result::malformed : result::need_more;
                    auto size = parse_number(trim(line->substr(0, line->find(';'))), 16);
                    if (!size) return result::malformed;
                    remaining_ = *size;
                    stage_ = remaining_ == 0 ? stage::trailers : stage::chunk_data;
                    break;
                }
                case stage::chunk_data:
                    if (!take_body_bytes(input, out)) return result::need_more;
                    stage_ = stage::chunk_data_end;
                    break;
                case stage::chunk_data_end:
                    if (input.size() < 2) return result::need_more;
                    if (input.compare(0, 2, "\r\n") != 0) return result::malformed;
                    input.erase(0, 2);
                    stage_ = stage::chunk_size;
                    break;
                case stage::trailers: {
                    auto line = take_line(input);
                    if (!line) return input.size() > max_line_size ? result::malformed : result::need_more;
                    if (line->empty()) return finish();
                    if (!parse_header_line(*line, out.trailers)) return result::malformed;
                    break;
                }
            }
        }
    }

    // True when no part of a request has been consumed yet.
    bool at_request_start() const { return stage_ == stage::head; }

private:
    enum class stage { head, fixed_body, chunk_size, chunk_data, chunk_data_end, trailers };

    result finish() {
        stage_ = stage::head;
        return result::complete;
    }

    // Moves up to remaining_ bytes into the body; true once none remain.
    bool take_body_bytes(std::string& input, received_request& out) {
        const auto n = std::min(remaining_, input.size());
        out.body.append(input, 0, n);
        input.erase(0, n);
        remaining_ -= n;
        return remaining_ == 0;
    }

    // Removes and returns one CRLF-terminated line (without the CRLF).
    static std::optional<std::string> take_line(std::string& input) {
        const auto eol = input.find("\r\n");
        if (eol == std::string::npos) return std::nullopt;
        std::string line = input.substr(0, eol);
        input.erase(0, eol + 2);
        return line;
    }

    static bool parse_header_line(std::string_view line, header_list& into) {
        const auto colon = line.find(':');
        if (colon == std::string_view::npos || colon == 0) return false;
        const auto name = line.substr(0, colon);
        if (name.find_first_of(" \t") != std::string_view::npos) return false;
        into.emplace_back(std::string(name), std::string(trim(line.substr(colon + 1))));
        return true;
    }

    // `head` is the request line and header lines, each ending in CRLF.
    static bool parse_head(std::string_view head, received_request& out) {
        auto eol = head.find("\r\n");
        const auto request_line = head.substr(0, eol);
        const auto sp1 = request_line.find(' ');
        if (sp1 == std::string_view::npos) return false;
        const auto sp2 = request_line.find(' ', sp1 + 1);
        if (sp2 == std::string_view::npos) return false;
        out.method = std::string(request_line.substr(0, sp1));
        out.target = std::string(request_line.substr(sp1 + 1, sp2 - sp1 - 1));
        out.version = std::string(request_line.substr(sp2 + 1));
        if (out.method.empty() || out.target.empty() || out.version.rfind("HTTP/", 0) != 0) {
            return false;
        }
        head.remove_prefix(eol + 2);
        while (!head.empty()) {
            eol = head.find("\r\n");
            if (!parse_header_line(head.substr(0, eol), out.headers)) return false;
            head.remove_prefix(eol + 2);
        }
        return true;
    }

    bool choose_body_stage(const received_request& req) {
        if (icontains(find_header(req.headers, "Transfer-Encoding"), "chunked")) {
            stage_ = stage::chunk_size;
            return true;
        }
        remaining_ = 0;
        if (has_header(req.headers, "Content-Length")) {
            auto length = parse_number(trim(find_header(req.headers, "Content-Length")), 10);
            if (!length) return false;
            remaining_ = *length;
        }
        stage_ = stage::fixed_body;
        return true;
    }

    stage stage_ = stage::head;
    std::size_t remaining_ = 0;
};

// True if the client asked for the connection to be closed after this request.
inline bool request_wants_close(const received_request& req) {
    const auto connection = find_header(req.headers, "Connection");
    if (icontains(connection, "close")) return true;
    return req.version == "HTTP/1.0" && !icontains(connection, "keep-alive");
}

// True for errors that mean the peer closed or reset the connection.
inline bool is_client_close(const asio::error_code& ec) {
    return ec == asio::error::eof || ec == asio::error::connection_reset ||
           ec == asio::error::broken_pipe || ec == asio::error::connection_aborted;
}

// State shared between the server thread and the test thread.
class shared_state {
public:
    explicit shared_state(request_handler handler) : handler_(std::move(handler)) {}

    // Returns the new connection's id.
    std::size_t on_accepted() {
        std::lock_guard lock(mutex_);
        const auto id = stats_.accepted++;
        ++stats_.open_connections;
        stats_.peak_open_connections = std::max(stats_.peak_open_connections, stats_.open_connections);
        changed_.notify_all();
        return id;
    }

    void on_closed(bool by_client) {
        std::lock_guard lock(mutex_);
        --stats_.open_connections;
        if (by_client) ++stats_.closed_by_client;
        changed_.notify_all();
    }

    void on_request(const received_request& req) {
        std::lock_guard lock(mutex_);
        requests_.push_back(req);
        ++stats_.requests;
        changed_.notify_all();
    }

    request_handler handler() const {
        std::lock_guard lock(mutex_);
        return handler_;
    }

    void set_handler(request_handler handler) {
        std::lock_guard lock(mutex_);
        handler_ = std::move(handler);
    }

    server_stats stats() const {
        std::lock_guard lock(mutex_);
        return stats_;
    }

    std::vector<received_request> requests() const {
        std::lock_guard lock(mutex_);
        return requests_;
    }

    // Waits until `pred(stats)` holds; false on timeout. `pred` runs under the
    // lock and must not call back into the server.
    template <class Predicate>
    bool wait_for(Predicate pred, std::chrono::milliseconds timeout) {
        std::unique_lock lock(mutex_);
        return changed_.wait_for(lock, timeout, [&] { return pred(stats_); });
    }

private:
    mutable std::mutex mutex_;
    std::condition_variable changed_;
    server_stats stats_;
    std::vector<received_request> requests_;
    request_handler handler_;
};

enum class close_kind {
    graceful,   // shutdown(send) + close
    reset,      // SO_LINGER 0 + close
    by_client,  // the client closed or reset; just release the socket
    abort,      // server shutdown or unexpected error; just release the socket
};

// One accepted connection. Lives on the server thread only; kept alive by its
// pending asynchronous operations. A read is always outstanding while the
// connection is open, so client EOF/reset is noticed in every phase.
class connection : public std::enable_shared_from_this<connection> {
public:
    connection(asio::ip::tcp::socket socket, std::size_t id, shared_state& state)
        : socket_(std::move(socket)),
          reply_timer_(socket_.get_executor()),
          idle_timer_(socket_.get_executor()),
          state_(state),
          id_(id) {}

    void start() {
        asio::error_code ignored;
        socket_.set_option(asio::ip::tcp::no_delay(true), ignored);
        read_more();
    }

    // True when waiting for the first byte of a request.
    bool is_idle() const {
        return !closed_ && phase_ == phase::reading_request && input_.empty() &&
               parser_.at_request_start();
    }

    bool is_closed() const { return closed_; }

    // Idempotent; updates the shared counters on the first call.
    void close(close_kind how) {
        if (closed_) return;
        closed_ = true;
        reply_timer_.cancel();
        idle_timer_.cancel();
        asio::error_code ignored;
        if (how == close_kind::reset) socket_.set_option(asio::socket_base::linger(true, 0), ignored);
        if (how == close_kind::graceful) socket_.shutdown(asio::ip::tcp::socket::shutdown_send, ignored);
        socket_.close(ignored);
        state_.on_closed(how == close_kind::by_client);
    }

private:
    enum class phase {
        reading_request,  // parsing input; the handler runs when a request completes
        replying,         // executing a reply; input is buffered
        holding,          // never answering again; input is discarded
    };

    using continuation = std::function<void()>;

    void read_more() {
        socket_.async_read_some(asio::buffer(read_buffer_),
                                [self = shared_from_this()](const asio::error_code& ec, std::size_t n) {
                                    self->on_read(ec, n);
                                });
    }

    void on_read(const asio::error_code& ec, std::size_t n) {
        if (closed_) return;
        if (ec) {
            close(is_client_close(ec) ? close_kind::by_client : close_kind::abort);
            return;
        }
        ++read_generation_;  // invalidates a pending idle close
        idle_timer_.cancel();
        if (phase_ != phase::holding) input_.append(read_buffer_.data(), n);
        if (phase_ == phase::reading_request) process_input();
        if (!closed_) read_more();
    }

    // Parses and dispatches buffered requests until one is incomplete or a
    // reply is in progress.
    void process_input() {
        while (!closed_ && phase_ == phase::reading_request) {
            switch (parser_.parse(input_, pending_)) {
                case request_parser::result::need_more:
                    return;
                case request_parser::result::malformed:
                    input_.clear();
                    start_reply(reply::status(400, "malformed request").then_close());
                    return;
                case request_parser::result::complete:
                    dispatch(std::exchange(pending_, received_request{}));
                    break;
            }
        }
    }

    void dispatch(received_request req) {
        req.connection_id = id_;
        req.index_on_connection = requests_on_connection_++;
        state_.on_request(req);
        reply r = invoke_handler(req);
        if (r.after == reply::after_reply::keep_alive && request_wants_close(req)) {
            r.after = reply::after_reply::close;
        }
        start_reply(std::move(r));
    }

    reply invoke_handler(const received_request& req) {
        try {
            auto handler = state_.handler();
            return handler ? handler(req) : reply::ok();
        } catch (const std::exception& e) {
            return reply::status(500, std::string("handler threw: ") + e.what()).then_close();
        } catch (...) {
            return reply::status(500, "handler threw").then_close();
        }
    }

    void start_reply(reply r) {
        phase_ = phase::replying;
        reply_ = std::move(r);
        next_write_ = 0;
        after_delay(reply_.first_byte_delay, [this] { write_next(); });
    }

    void write_next() {
        if (next_write_ < reply_.writes.size()) {
            after_delay(reply_.writes[next_write_].delay, [this] {
                write(reply_.writes[next_write_].bytes, [this] {
                    ++next_write_;
                    write_next();
                });
            });
        } else if (reply_.repeat && !reply_.repeat->bytes.empty()) {
            after_delay(reply_.repeat->delay, [this] {
                write(reply_.repeat->bytes, [this] { write_next(); });
            });
        } else {
            finish_reply();
        }
    }

    void finish_reply() {
        switch (reply_.after) {
            case reply::after_reply::keep_alive:
                phase_ = phase::reading_request;
                if (reply_.idle_close_delay && input_.empty()) arm_idle_close(*reply_.idle_close_delay);
                process_input();
                break;
            case reply::after_reply::close:
                close(close_kind::graceful);
                break;
            case reply::after_reply::reset:
                close(close_kind::reset);
                break;
            case reply::after_reply::hold:
                phase_ = phase::holding;
                input_.clear();
                break;
        }
    }

    // Runs `next` after `delay` unless the connection gets closed first.
    void after_delay(std::chrono::milliseconds delay, continuation next) {
        if (delay <= std::chrono::milliseconds::zero()) {
            next();
            return;
        }
        reply_timer_.expires_after(delay);
        reply_timer_.async_wait(
            [self = shared_from_this(), next = std::move(next)](const asio::error_code& ec) {
                if (!ec && !self->closed_) next();
            });
    }

    // Writes `bytes` (which must outlive the write) and then runs `next`; a
    // failed write just ends the connection.
    void write(const std::string& bytes, continuation next) {
        if (bytes.empty()) {
            next();
            return;
        }
        asio::async_write(socket_, asio::buffer(bytes),
                          [self = shared_from_this(), next = std::move(next)](const asio::error_code& ec,
                                                                              std::size_t) {
                              if (self->closed_) return;
                              if (ec) {
                                  self->close(is_client_close(ec) ? close_kind::by_client
                                                                  : close_kind::abort);
                                  return;
                              }
                              next();
                          });
    }

    void arm_idle_close(std::chrono::milliseconds delay) {
        idle_timer_.expires_after(delay);
        idle_timer_.async_wait([self = shared_from_this(), generation = read_generation_](
                                   const asio::error_code& ec) {
            if (ec || self->read_generation_ != generation || !self->is_idle()) return;
            self->close(close_kind::graceful);
        });
    }

    asio::ip::tcp::socket socket_;
    asio::steady_timer reply_timer_;
    asio::steady_timer idle_timer_;
    shared_state& state_;
    const std::size_t id_;

    phase phase_ = phase::reading_request;
    bool closed_ = false;
    std::uint64_t read_generation_ = 0;

    std::array<char, 16 * 1024> read_buffer_{};
    std::string input_;
    request_parser parser_;
    received_request pending_;
    std::size_t requests_on_connection_ = 0;

    reply reply_;
    std::size_t next_write_ = 0;
};

}  // namespace detail

class test_server {
public:
    using handler = request_handler;

    // Replies 200 "ok" to every request.
    test_server() : test_server(handler{}) {}

    // `h` is called on the server thread once per complete request; an empty
    // handler behaves like the default one. If `h` throws, the server replies
    // 500 and closes the connection.
    explicit test_server(handler h) : state_(std::move(h)) {
        const asio::ip::tcp::endpoint endpoint(asio::ip::make_address_v4("127.0.0.1"), 0);
        acceptor_.open(endpoint.protocol());
        acceptor_.bind(endpoint);
        acceptor_.listen();
        port_ = acceptor_.local_endpoint().port();
        accept_next();
        thread_ = std::thread([this] { run(); });
    }

    // Closes the listener and every connection (including held and endless
    // ones), then joins the server thread.
    ~test_server() {
        asio::post(io_, [this] { shut_down(); });
        thread_.join();
    }

    test_server(const test_server&) = delete;
    test_server& operator=(const test_server&) = delete;

    // Replaces the handler for requests completed from now on.
    void set_handler(handler h) { state_.set_handler(std::move(h)); }

    unsigned short port() const { return port_; }

    // "http://127.0.0.1:PORT" followed by `path` (a leading '/' is added if missing).
    std::string url(std::string_view path = "/") const {
        std::string result = "http://127.0.0.1:" + std::to_string(port_);
        if (path.empty() || path.front() != '/') result += '/';
        result += path;
        return result;
    }

    server_stats stats() const { return state_.stats(); }
    std::size_t accepted() const { return stats().accepted; }
    std::size_t open_connections() const { return stats().open_connections; }
    std::size_t peak_open_connections() const { return stats().peak_open_connections; }
    std::size_t closed_by_client() const { return stats().closed_by_client; }
    std::size_t request_count() const { return stats().requests; }
    std::vector<received_request> requests() const { return state_.requests(); }

    // --- waiting (false on timeout) ----------------------------------------

    // Waits until `pred(stats())` holds. `pred` runs under the server's lock
    // and must not call member functions of this server.
    bool wait_for(const std::function<bool(const server_stats&)>& pred,
                  std::chrono::milliseconds timeout) {
        return state_.wait_for(pred, timeout);
    }

    bool wait_for_requests(std::size_t n, std::chrono::milliseconds timeout) {
        return state_.wait_for([n](const server_stats& s) { return s.requests >= n; }, timeout);
    }

    // Waits until exactly `n` connections are open.
    bool wait_for_open_connections(std::size_t n, std::chrono::milliseconds timeout) {
        return state_.wait_for([n](const server_stats& s) { return s.open_connections == n; }, timeout);
    }

    bool wait_for_closed_by_client(std::size_t n, std::chrono::milliseconds timeout) {
        return state_.wait_for([n](const server_stats& s) { return s.closed_by_client >= n; }, timeout);
    }

    bool wait_for_accepted(std::size_t n, std::chrono::milliseconds timeout) {
        return state_.wait_for([n](const server_stats& s) { return s.accepted >= n; }, timeout);
    }

    // Gracefully closes every connection that is waiting for the first byte of
    // a request (kept alive after a reply, or never used). Returns how many
    // were closed once that is done (0 if the server thread did not get to it
    // within a few seconds).
    std::size_t close_idle_connections() {
        if (io_.get_executor().running_in_this_thread()) return close_idle_now();
        auto done = std::make_shared<std::promise<std::size_t>>();
        auto result = done->get_future();
        asio::post(io_, [this, done] { done->set_value(close_idle_now()); });
        if (result.wait_for(std::chrono::seconds(5)) != std::future_status::ready) return 0;
        return result.get();
    }

private:
    void run() {
        for (;;) {
            try {
                io_.run();
                return;
            } catch (...) {
                // Handlers report errors through error codes; keep serving
                // rather than terminating the test binary.
            }
        }
    }

    void accept_next() {
        acceptor_.async_accept([this](const asio::error_code& ec, asio::ip::tcp::socket socket) {
            if (stopping_ || ec == asio::error::operation_aborted) return;
            if (ec) {
                retry_accept_later();  // e.g. out of descriptors
                return;
            }
            auto conn = std::make_shared<detail::connection>(std::move(socket), state_.on_accepted(), state_);
            forget_closed_connections();
            connections_.push_back(conn);
            conn->start();
            accept_next();
        });
    }

    void retry_accept_later() {
        accept_retry_timer_.expires_after(std::chrono::milliseconds(10));
        accept_retry_timer_.async_wait([this](const asio::error_code& ec) {
            if (!ec && !stopping_) accept_next();
        });
    }

    void forget_closed_connections() {
        connections_.erase(std::remove_if(connections_.begin(), connections_.end(),
                                          [](const auto& weak) {
                                              auto conn = weak.lock();
                                              return !conn || conn->is_closed();
                                          }),
                           connections_.end());
    }

    std::size_t close_idle_now() {
        std::size_t closed = 0;
        for (const auto& weak : connections_) {
            if (auto conn = weak.lock(); conn && conn->is_idle()) {
                conn->close(detail::close_kind::graceful);
                ++closed;
            }
        }
        forget_closed_connections();
        return closed;
    }

    void shut_down() {
        stopping_ = true;
        asio::error_code ignored;
        acceptor_.close(ignored);
        accept_retry_timer_.cancel();
        for (const auto& weak : connections_) {
            if (auto conn = weak.lock()) conn->close(detail::close_kind::abort);
        }
        connections_.clear();
        io_.stop();  // abandoned handlers are destroyed with io_
    }

    // Declaration order matters: state_ must outlive io_ (pending handlers own
    // connections that refer to it), and io_ must outlive the I/O objects.
    detail::shared_state state_;
    asio::io_context io_;
    asio::ip::tcp::acceptor acceptor_{io_};
    asio::steady_timer accept_retry_timer_{io_};
    unsigned short port_ = 0;
    bool stopping_ = false;  // server thread only
    std::vector<std::weak_ptr<detail::connection>> connections_;  // server thread only
    std::thread thread_;
};

// Number of open file descriptors of this process (Linux), not counting the one
// used to list them. For leak checks: compare before and after.
inline std::size_t open_fd_count() {
    std::error_code ec;
    std::size_t count = 0;
    for (std::filesystem::directory_iterator it("/proc/self/fd", ec), end; !ec && it != end;
         it.increment(ec)) {
        ++count;
    }
    return count > 0 ? count - 1 : 0;
}

// The process's open descriptors and what each refers to: "3 -> /dev/null, 5 -> socket:[1234]".
inline std::string describe_open_fds() {
    std::string result;
    std::error_code ec;
    for (std::filesystem::directory_iterator it("/proc/self/fd", ec), end; !ec && it != end;
         it.increment(ec)) {
        std::error_code link_ec;
        const auto target = std::filesystem::read_symlink(it->path(), link_ec);
        if (!result.empty()) result += ", ";
        result += it->path().filename().string() + " -> " + (link_ec ? "?" : target.string());
    }
    return result;
}

// Whether the number of open descriptors drops to `limit` or below within `timeout`. A
// descriptor that a server thread is closing at the moment of the first look is not a leak;
// one still open after `timeout` is. (The kernel offers no notification to wait on, so this
// looks again every millisecond.)
inline bool open_fd_count_settles_at_most(std::size_t limit,
                                          std::chrono::milliseconds timeout = std::chrono::seconds(5)) {
    const auto deadline = std::chrono::steady_clock::now() + timeout;
    for (;;) {
        if (open_fd_count() <= limit) return true;
        if (std::chrono::steady_clock::now() >= deadline) return false;
        std::this_thread::sleep_for(std::chrono::milliseconds(1));
    }
}

}  // namespace leash::test
