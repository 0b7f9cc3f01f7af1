// The consumer test's application: one GET with leash against a minimal server of its own.
// Exits 0 when the response is "200" with body "ok".
#include <leash/leash.hpp>

#include <asio.hpp>

#include <chrono>
#include <exception>
#include <iostream>
#include <cstddef>
#include <string>
#include <string_view>
#include <system_error>
#include <thread>

namespace {

constexpr std::string_view canned_response = "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok";

// Accepts one connection on 127.0.0.1, reads one request head and answers it. Runs on its
// own thread until stop().
class one_shot_server {
public:
    one_shot_server()
    {
        acceptor_.async_accept([this](std::error_code ec, asio::ip::tcp::socket socket) {
            if (ec)
                return;
            socket_ = std::move(socket);
            asio::async_read_until(socket_, asio::dynamic_buffer(request_), "\r\n\r\n",
                                   [this](std::error_code read_ec, std::size_t) {
                                       if (read_ec)
                                           return;
                                       asio::async_write(socket_, asio::buffer(canned_response),
                                                         [](std::error_code, std::size_t) {});
                                   });
        });
        thread_ = std::thread([this] { io_.run(); });
    }
    ~one_shot_server() { stop(); }

    void stop()
    {
        io_.stop();
        if (thread_.joinable())
            thread_.join();
    }

    unsigned short port() const { return acceptor_.local_endpoint().port(); }
    // What the server read; only valid after stop().
    const std::string& request() const { return request_; }

private:
    asio::io_context io_;
    asio::ip::tcp::acceptor acceptor_{io_, {asio::ip::make_address_v4("127.0.0.1"), 0}};
    asio::ip::tcp::socket socket_{io_};
    std::string request_;
    std::thread thread_;
};

asio::awaitable<void> fetch(leash::transport& transport, std::string url, int& exit_code)
{
    leash::response res = co_await transport.async_send(leash::request::get(url), asio::use_awaitable);
    const std::string body = co_await res.body.async_read_all(1024, asio::use_awaitable);
    if (res.status != 200 || body != "ok") {
        std::cerr << "unexpected response from " << url << ": " << res.status << " \"" << body << "\"\n";
        co_return;
    }
    exit_code = 0;
}

} // namespace

int main()
{
    one_shot_server server;
    const std::string url = "http://127.0.0.1:" + std::to_string(server.port()) + "/consumer";

    leash::transport_options options;
    options.request_timeout = std::chrono::seconds(10);  // nothing here may hang a test run

    asio::io_context io;
    leash::transport transport(io, options);
    int exit_code = 1;
    asio::co_spawn(io, fetch(transport, url, exit_code), [&](std::exception_ptr failure) {
        transport.shutdown();
        if (!failure)
            return;
        try {
            std::rethrow_exception(failure);
        } catch (const std::exception& e) {
            std::cerr << "GET " << url << " failed: " << e.what() << '\n';
        }
    });
    io.run();

    server.stop();
    if (server.request().rfind("GET /consumer HTTP/1.1\r\n", 0) != 0) {
        std::cerr << "the server did not receive the expected request line:\n" << server.request() << '\n';
        return 1;
    }
    if (exit_code == 0)
        std::cout << "leash consumer: GET " << url << " -> 200 ok\n";
    return exit_code;
}
