// get_sync - the `get` example for a program with no event loop of its own: plain blocking
// calls, one after the other.
//
//   usage: get_sync URL
//
// leash's operations are asynchronous, so a thread runs the io_context in the background (a
// work guard keeps io_context::run() from returning while there is nothing to do yet), and
// the main thread waits for each result with asio::use_future: .get() returns the result or
// throws std::system_error carrying the error code (leash::error::connect_timeout, a
// connection refused by the OS, ...).
#include <leash/leash.hpp>

#include <asio.hpp>

#include <cstddef>
#include <iostream>
#include <string>
#include <system_error>
#include <thread>

namespace {

// Bodies larger than this fail with leash::error::body_too_large instead of filling memory.
constexpr std::size_t max_body_bytes = 16 * 1024 * 1024;

} // namespace

int main(int argc, char* argv[])
{
    if (argc != 2) {
        std::cerr << "usage: get_sync URL\n";
        return 2;
    }

    asio::io_context io;
    auto work = asio::make_work_guard(io);
    std::thread io_thread([&io] { io.run(); });

    int exit_code = 0;
    {
        leash::transport transport(io);
        try {
            leash::response res =
                transport.async_send(leash::request::get(argv[1]), asio::use_future).get();

            std::cout << "HTTP/" << res.version_major << '.' << res.version_minor << ' '
                      << res.status << ' ' << res.reason << '\n';
            for (const leash::header_field& field : res.headers)
                std::cout << field.name << ": " << field.value << '\n';
            std::cout << '\n';

            // Reading the body to its end hands the connection back to the transport's pool.
            std::string body = res.body.async_read_all(max_body_bytes, asio::use_future).get();
            std::cout << body << std::flush;
        } catch (const std::system_error& e) {
            std::cerr << "get_sync: " << argv[1] << ": " << e.code().message() << '\n';
            exit_code = 1;
        }
        // No more requests: close the pooled connection (the destructor would do it too).
        transport.shutdown();
    }

    // Let run() return once leash's last work is done, and wait for it.
    work.reset();
    io_thread.join();
    return exit_code;
}
