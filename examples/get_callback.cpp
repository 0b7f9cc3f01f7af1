// get_callback - the `get` example written with plain completion handlers instead of coroutines.
//
//   usage: get_callback URL
//
// async_send delivers the response head to a callback; the body is then streamed through a
// fixed buffer with async_read_some until it reports asio::error::eof.
#include <leash/leash.hpp>

#include <asio.hpp>

#include <array>
#include <cstddef>
#include <iostream>
#include <string>
#include <system_error>

namespace {

class fetch {
public:
    fetch(leash::transport& transport, std::string url)
        : transport_(transport), url_(std::move(url))
    {
    }

    void start()
    {
        transport_.async_send(leash::request::get(url_), [this](std::error_code ec, leash::response res) {
            if (ec)
                return finish(ec);
            print_head(res);
            response_ = std::move(res);
            read_body();
        });
    }

    int exit_code() const noexcept { return exit_code_; }

private:
    static void print_head(const leash::response& res)
    {
        std::cout << "HTTP/" << res.version_major << '.' << res.version_minor << ' ' << res.status
                  << ' ' << res.reason << '\n';
        for (const leash::header_field& field : res.headers)
            std::cout << field.name << ": " << field.value << '\n';
        std::cout << '\n';
    }

    void read_body()
    {
        response_.body.async_read_some(asio::buffer(buffer_), [this](std::error_code ec, std::size_t n) {
            std::cout.write(buffer_.data(), static_cast<std::streamsize>(n));
            if (ec == asio::error::eof)
                return finish({});  // the whole body has arrived
            if (ec)
                return finish(ec);
            read_body();
        });
    }

    void finish(std::error_code ec)
    {
        std::cout << std::flush;
        if (ec) {
            std::cerr << "get_callback: " << url_ << ": " << ec.message() << '\n';
            exit_code_ = 1;
        }
        // No more requests: closing the pooled connection leaves io.run() nothing to wait for.
        transport_.shutdown();
    }

    leash::transport& transport_;
    std::string url_;
    leash::response response_;
    std::array<char, 4096> buffer_{};
    int exit_code_ = 0;
};

} // namespace

int main(int argc, char* argv[])
{
    if (argc != 2) {
        std::cerr << "usage: get_callback URL\n";
        return 2;
    }

    asio::io_context io;
    leash::transport transport(io);
    fetch request(transport, argv[1]);
    request.start();
    io.run();
    return request.exit_code();
}
