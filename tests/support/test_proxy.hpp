// A scriptable HTTP proxy for leash's tests.
//
// test_proxy listens on 127.0.0.1 (ephemeral port) and serves each connection on its own
// thread's io_context: it reads a request head, records it, and then
//   - for CONNECT host:port: answers as the script says (by default "200 Connection
//     established"), and on a 2xx connects to host:port ("localhost" is 127.0.0.1) and pipes
//     bytes both ways until either side ends;
//   - for an absolute-form request (GET http://host:port/path): connects to that host and
//     port, sends the head there in origin form without Proxy-Authorization, and pipes bytes
//     both ways (so one client connection carries one origin's requests).
// Misbehaviours: any answer to CONNECT (407, 403, 502, garbage), never answering, closing at
// once, and cutting every connection on demand (cut_connections).
//
// Threading contract (as for test_server): all socket work happens on the proxy's own
// thread; the public member functions may be called from any thread.
#pragma once

#include <asio.hpp>
#include <asio/experimental/as_tuple.hpp>

#include <array>
#include <chrono>
#include <condition_variable>
#include <future>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <thread>
#include <tuple>
#include <vector>

namespace leash::test {

struct test_proxy_script {
    enum class on_connect { answer, never_answer, close };
    on_connect connect_behaviour = on_connect::answer;
    // What CONNECT is answered with; a 2xx opens the tunnel.
    std::string connect_answer = "HTTP/1.1 200 Connection established\r\n\r\n";
};

class test_proxy {
public:
    explicit test_proxy(test_proxy_script script = {})
        : script_(std::move(script))
        , acceptor_(ioc_, {asio::ip::make_address_v4("127.0.0.1"), 0})
        , port_(acceptor_.local_endpoint().port())  // (read here: the acceptor is the proxy thread's)
    {
        asio::co_spawn(ioc_, accept_loop(), asio::detached);
        thread_ = std::thread([this] { ioc_.run(); });
    }
    // Closes every socket and waits for the proxy's thread to run out of work.
    ~test_proxy()
    {
        asio::post(ioc_, [this] {
            std::error_code ignored;
            acceptor_.close(ignored);
            close_sockets();
        });
        thread_.join();
    }
    test_proxy(const test_proxy&) = delete;
    test_proxy& operator=(const test_proxy&) = delete;

    std::uint16_t port() const { return port_; }
    // "http://127.0.0.1:port", with "user:password@" when given.
    std::string url(std::string_view userinfo = {}) const
    {
        return "http://" + (userinfo.empty() ? std::string() : std::string(userinfo) + "@") + "127.0.0.1:"
            + std::to_string(port());
    }

    // Every request head received, in order.
    std::vector<std::string> heads() const
    {
        const std::lock_guard lock(mutex_);
        return heads_;
    }
    std::size_t accepted() const
    {
        const std::lock_guard lock(mutex_);
        return accepted_;
    }
    std::size_t open_connections() const
    {
        const std::lock_guard lock(mutex_);
        return open_;
    }
    bool wait_for_open_connections(std::size_t n, std::chrono::milliseconds limit) const
    {
        std::unique_lock lock(mutex_);
        return changed_.wait_for(lock, limit, [&] { return open_ == n; });
    }

    // Closes every connection the proxy holds, on both sides, as a proxy that drops its tunnels
    // does; returns once they are closed. New connections are still accepted. (Not from the
    // proxy's own thread.)
    void cut_connections()
    {
        std::promise<void> done;
        asio::post(ioc_, [&] {
            close_sockets();
            done.set_value();
        });
        done.get_future().wait();
    }

private:
    using socket_ptr = std::shared_ptr<asio::ip::tcp::socket>;

    asio::awaitable<void> accept_loop()
    {
        for (;;) {
            auto [ec, socket] = co_await acceptor_.async_accept(asio::experimental::as_tuple(asio::use_awaitable));
            if (ec)
                co_return;
            auto client = std::make_shared<asio::ip::tcp::socket>(std::move(socket));
            sockets_.push_back(client);
            count_open(+1, true);
            asio::co_spawn(ioc_, serve(client), asio::detached);
        }
    }

    asio::awaitable<void> serve(socket_ptr client)
    {
        constexpr auto tuple = asio::experimental::as_tuple(asio::use_awaitable);
        std::string in;
        auto [ec, n] = co_await asio::async_read_until(*client, asio::dynamic_buffer(in), "\r\n\r\n", tuple);
        if (!ec) {
            const std::string head = in.substr(0, n);
            in.erase(0, n);
            {
                const std::lock_guard lock(mutex_);
                heads_.push_back(head);
            }
            if (head.rfind("CONNECT ", 0) == 0)
                co_await tunnel(client, head, std::move(in));
            else
                co_await forward(client, head, std::move(in));
        }
        std::error_code ignored;
        client->close(ignored);
        count_open(-1, false);
    }

    asio::awaitable<void> tunnel(socket_ptr client, const std::string& head, std::string early)
    {
        constexpr auto tuple = asio::experimental::as_tuple(asio::use_awaitable);
        if (script_.connect_behaviour == test_proxy_script::on_connect::close)
            co_return;
        if (script_.connect_behaviour == test_proxy_script::on_connect::never_answer) {
            std::array<char, 512> sink;
            for (;;) {  // until the client goes away
                auto [ec, n] = co_await client->async_read_some(asio::buffer(sink), tuple);
                if (ec)
                    co_return;
            }
        }
        auto [write_ec, written] = co_await asio::async_write(*client, asio::buffer(script_.connect_answer), tuple);
        if (write_ec || script_.connect_answer.rfind("HTTP/1.1 2", 0) != 0)
            co_return;
        const auto authority = head.substr(8, head.find(' ', 8) - 8);
        co_await relay(client, authority, std::move(early));
    }

    asio::awaitable<void> forward(socket_ptr client, const std::string& head, std::string early)
    {
        // "GET http://host:port/path HTTP/1.1": the origin, and the head in origin form.
        const auto target_start = head.find(' ') + 1;
        const auto after_scheme = head.find("://", target_start) + 3;
        const auto path_start = head.find('/', after_scheme);
        std::string authority = head.substr(after_scheme, path_start - after_scheme);
        std::string origin_head = head.substr(0, target_start) + head.substr(path_start);
        if (const auto auth = origin_head.find("Proxy-Authorization:"); auth != std::string::npos)
            origin_head.erase(auth, origin_head.find("\r\n", auth) + 2 - auth);
        co_await relay(client, authority, origin_head + early);
    }

    // Connects to authority ("host:port"), sends `first`, then pipes both ways until one side ends.
    asio::awaitable<void> relay(socket_ptr client, const std::string& authority, std::string first)
    {
        constexpr auto tuple = asio::experimental::as_tuple(asio::use_awaitable);
        const auto colon = authority.rfind(':');
        std::string host = authority.substr(0, colon);
        if (host == "localhost")
            host = "127.0.0.1";
        auto server = std::make_shared<asio::ip::tcp::socket>(ioc_);
        sockets_.push_back(server);
        std::error_code ec;
        const auto address = asio::ip::make_address(host, ec);
        if (ec)
            co_return;
        const asio::ip::tcp::endpoint origin(address, static_cast<std::uint16_t>(std::stoi(authority.substr(colon + 1))));
        std::tie(ec) = co_await server->async_connect(origin, tuple);
        if (ec)
            co_return;
        if (!first.empty())
            std::tie(ec, std::ignore) = co_await asio::async_write(*server, asio::buffer(first), tuple);
        if (ec)
            co_return;
        asio::co_spawn(ioc_, pipe(server, client), asio::detached);
        co_await pipe(client, server);
    }

    // Copies from -> to until either ends; then closes both (which ends the other direction).
    static asio::awaitable<void> pipe(socket_ptr from, socket_ptr to)
    {
        constexpr auto tuple = asio::experimental::as_tuple(asio::use_awaitable);
        std::array<char, 16 * 1024> data;
        for (;;) {
            auto [read_ec, n] = co_await from->async_read_some(asio::buffer(data), tuple);
            if (read_ec)
                break;
            auto [write_ec, written] = co_await asio::async_write(*to, asio::buffer(data.data(), n), tuple);
            if (write_ec)
                break;
        }
        std::error_code ignored;
        from->close(ignored);
        to->close(ignored);
    }

    void close_sockets()
    {
        std::error_code ignored;
        for (auto& s : sockets_)
            if (auto socket = s.lock())
                socket->close(ignored);
    }

    void count_open(int delta, bool accepted)
    {
        const std::lock_guard lock(mutex_);
        open_ = static_cast<std::size_t>(static_cast<long>(open_) + delta);
        accepted_ += accepted ? 1 : 0;
        changed_.notify_all();
    }

    test_proxy_script script_;
    asio::io_context ioc_;
    asio::ip::tcp::acceptor acceptor_;
    const std::uint16_t port_;
    std::vector<std::weak_ptr<asio::ip::tcp::socket>> sockets_;  // (the proxy's thread only)
    std::thread thread_;
    mutable std::mutex mutex_;
    mutable std::condition_variable changed_;
    std::vector<std::string> heads_;
    std::size_t accepted_ = 0;
    std::size_t open_ = 0;
};

} // namespace leash::test
