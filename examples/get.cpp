// get - fetches a URL and prints the status line, the response headers and the body.
//
//   usage: get URL
//
// The request runs as a C++20 coroutine. Every leash operation is awaited with
// asio::use_awaitable, so a failure surfaces as a std::system_error carrying the error code
// (leash::error::connect_timeout, a connection refused by the OS, ...).
#include <leash/leash.hpp>

#include <asio.hpp>

#include <cstddef>
#include <exception>
#include <iostream>
#include <string>
#include <system_error>

namespace {

// Bodies larger than this fail with leash::error::body_too_large instead of filling memory.
constexpr std::size_t max_body_bytes = 16 * 1024 * 1024;

asio::awaitable<void> get(leash::transport& transport, std::string url)
{
    leash::response res = co_await transport.async_send(leash::request::get(std::move(url)),
                                                        asio::use_awaitable);

    std::cout << "HTTP/" << res.version_major << '.' << res.version_minor << ' ' << res.status << ' '
              << res.reason << '\n';
    for (const leash::header_field& field : res.headers)
        std::cout << field.name << ": " << field.value << '\n';
    std::cout << '\n';

    // Reading the body to its end hands the connection back to the transport's pool.
    std::string body = co_await res.body.async_read_all(max_body_bytes, asio::use_awaitable);
    std::cout << body << std::flush;
}

} // namespace

int main(int argc, char* argv[])
{
    if (argc != 2) {
        std::cerr << "usage: get URL\n";
        return 2;
    }

    asio::io_context io;
    leash::transport transport(io);
    int exit_code = 0;

    asio::co_spawn(io, get(transport, argv[1]), [&](std::exception_ptr failure) {
        // No more requests: closing the pooled connection leaves io.run() nothing to wait for.
        transport.shutdown();
        if (!failure)
            return;
        exit_code = 1;
        try {
            std::rethrow_exception(failure);
        } catch (const std::system_error& e) {
            std::cerr << "get: " << argv[1] << ": " << e.code().message() << '\n';
        } catch (const std::exception& e) {
            std::cerr << "get: " << argv[1] << ": " << e.what() << '\n';
        }
    });

    io.run();
    return exit_code;
}
