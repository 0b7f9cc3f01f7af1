// Fuzz target: a whole request through leash::transport against a loopback server that
// answers with the fuzzed bytes, then ends its side of the connection.
//
// The first input byte chooses GET or HEAD, how the body is consumed (read_all with a large
// or a tiny limit, read_some in small steps, or dropped unread), small header limits, and
// whether a second request follows on the same host (reuse or a dead connection found at
// checkout). Oracles: every operation completes (no hang); a delivered response has a final
// status; a body never exceeds its Content-Length and meets it when read to the end; HEAD has
// no body; after shutdown every gauge is zero, no host is left in the pool, and the server
// sees every connection closed.
#include <leash/transport.hpp>

#include "fuzz_check.hpp"

#include <asio.hpp>

#include <array>
#include <charconv>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

namespace {

using namespace std::chrono_literals;

// The loopback server: every connection reads a request head, writes `reply`, shuts down
// its sending side and waits for the client to close.
class server {
public:
    explicit server(asio::io_context& ioc)
        : acceptor_(ioc, asio::ip::tcp::endpoint(asio::ip::make_address_v4("127.0.0.1"), 0))
    {
        accept();
    }

    std::string url(std::string_view path) const
    {
        return "http://127.0.0.1:" + std::to_string(acceptor_.local_endpoint().port()) + std::string(path);
    }

    std::string reply;
    std::size_t open = 0;

private:
    struct session {
        explicit session(asio::ip::tcp::socket s) : socket(std::move(s)) {}
        asio::ip::tcp::socket socket;
        std::string in;
        std::array<char, 4096> drain{};
    };

    void accept()
    {
        acceptor_.async_accept([this](std::error_code ec, asio::ip::tcp::socket socket) {
            if (ec)
                return;
            ++open;
            auto s = std::make_shared<session>(std::move(socket));
            asio::async_read_until(s->socket, asio::dynamic_buffer(s->in), "\r\n\r\n",
                                   [this, s](std::error_code read_ec, std::size_t) {
                                       if (read_ec)
                                           return finish(s);
                                       asio::async_write(s->socket, asio::buffer(reply),
                                                         [this, s](std::error_code, std::size_t) {
                                                             std::error_code ignored;
                                                             s->socket.shutdown(asio::socket_base::shutdown_send, ignored);
                                                             drain(s);
                                                         });
                                   });
            accept();
        });
    }

    void drain(const std::shared_ptr<session>& s)
    {
        s->socket.async_read_some(asio::buffer(s->drain), [this, s](std::error_code ec, std::size_t) {
            if (ec)
                return finish(s);
            drain(s);
        });
    }

    void finish(const std::shared_ptr<session>& s)
    {
        std::error_code ignored;
        s->socket.close(ignored);
        --open;
    }

    asio::ip::tcp::acceptor acceptor_;
};

struct choices {
    bool head = false;
    int body_mode = 0;  // 0 read_all, 1 read_all with a tiny limit, 2 read_some steps, 3 dropped
    bool small_limits = false;
    bool second_request = false;
};

std::optional<std::uint64_t> declared_length(const leash::response& r)
{
    const auto v = r.headers.get("Content-Length");
    if (!v)
        return std::nullopt;
    std::uint64_t n = 0;
    const auto [end, ec] = std::from_chars(v->data(), v->data() + v->size(), n);
    if (ec != std::errc() || end != v->data() + v->size())
        return std::nullopt;
    return n;
}

// One request and the consumption of its body; `done` is called once at the end.
class exchange : public std::enable_shared_from_this<exchange> {
public:
    exchange(leash::transport& t, std::string url, const choices& c, std::function<void()> done)
        : transport_(t), url_(std::move(url)), choices_(c), done_(std::move(done))
    {
    }

    void start()
    {
        auto req = choices_.head ? leash::request::head(url_) : leash::request::get(url_);
        transport_.async_send(std::move(req), [self = shared_from_this()](std::error_code ec, leash::response r) {
            self->on_response(ec, std::move(r));
        });
    }

private:
    void on_response(std::error_code ec, leash::response r)
    {
        if (ec)
            return done_();
        FUZZ_CHECK(r.status >= 200 && r.status <= 999);
        response_ = std::move(r);
        length_ = declared_length(response_);
        switch (choices_.body_mode) {
        case 0:
        case 1: {
            const std::size_t limit = choices_.body_mode == 0 ? (1u << 20) : 16;
            response_.body.async_read_all(limit, [self = shared_from_this(), limit](std::error_code read_ec, std::string text) {
                self->check_body(text.size(), read_ec, limit);
                self->done_();
            });
            return;
        }
        case 2:
            read_step();
            return;
        default:
            response_.body = leash::body();  // dropped unread
            return done_();
        }
    }

    void read_step()
    {
        response_.body.async_read_some(asio::buffer(step_), [self = shared_from_this()](std::error_code ec, std::size_t n) {
            self->read_ += n;
            if (!ec) {
                FUZZ_CHECK(n > 0);
                FUZZ_CHECK(!self->length_ || self->read_ <= *self->length_);
                return self->read_step();
            }
            self->check_body(self->read_, ec == asio::error::eof ? std::error_code() : ec, SIZE_MAX);
            self->done_();
        });
    }

    void check_body(std::size_t size, std::error_code ec, std::size_t limit)
    {
        if (choices_.head || response_.status == 204 || response_.status == 304)
            FUZZ_CHECK(size == 0 && !ec);
        if (length_ && !choices_.head)
            FUZZ_CHECK(size <= *length_);
        if (!ec && length_ && !choices_.head && response_.status != 204 && response_.status != 304)
            FUZZ_CHECK(size == *length_);
        if (ec == leash::error::body_too_large)
            FUZZ_CHECK(size <= limit);
        if (!ec)
            FUZZ_CHECK(size <= limit);
    }

    leash::transport& transport_;
    std::string url_;
    choices choices_;
    std::function<void()> done_;
    leash::response response_;
    std::optional<std::uint64_t> length_;
    std::array<char, 7> step_{};
    std::size_t read_ = 0;
};

// Runs the io_context until `finished` holds, at most a few seconds (a hang is a finding).
template <class Predicate>
void run_until(asio::io_context& ioc, Predicate finished)
{
    const auto deadline = std::chrono::steady_clock::now() + 5s;
    while (!finished()) {
        FUZZ_CHECK(std::chrono::steady_clock::now() < deadline);
        ioc.restart();
        ioc.run_one_for(10ms);
    }
}

} // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size)
{
    if (size == 0)
        return 0;
    static asio::io_context ioc;
    static server srv(ioc);

    const std::uint8_t control = data[0];
    choices c;
    c.head = control & 1;
    c.body_mode = (control >> 1) & 3;
    c.small_limits = control & 8;
    c.second_request = control & 16;
    srv.reply.assign(reinterpret_cast<const char*>(data + 1), size - 1);

    leash::transport_options o;
    // Every byte is there at once and the server ends its side: no phase should wait long.
    o.response_header_timeout = 2s;
    o.body_read_timeout = 2s;
    if (c.small_limits) {
        o.max_response_header_bytes = 256;
        o.max_response_headers = 4;
    }
    {
        leash::transport t(ioc, o);
        int pending = 1;
        const auto url = srv.url("/fuzz");
        auto first_done = [&] {
            if (c.second_request) {
                std::make_shared<exchange>(t, url, c, [&] { --pending; })->start();
                return;
            }
            --pending;
        };
        std::make_shared<exchange>(t, url, c, first_done)->start();
        run_until(ioc, [&] { return pending == 0; });
        t.shutdown();
        run_until(ioc, [&] { return t.stats().total.all_zero() && srv.open == 0; });
        const auto s = t.stats();
        FUZZ_CHECK(s.hosts.empty());
        FUZZ_CHECK(s.connections_opened == s.closed.total());
    }
    return 0;
}
