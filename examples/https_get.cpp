// https_get - fetches an https:// URL with certificate verification, printing the status
// line and the body.
//
//   usage: https_get URL [CA_FILE]
//
// By default the system trust store verifies the server; CA_FILE (PEM) replaces it, as for a
// private CA. Host name verification, SNI and TLS >= 1.2 are always on. A certificate that
// does not verify fails the request with an error in leash's x509 category, whose message is
// OpenSSL's reason ("certificate has expired", "hostname mismatch", ...).
#include <leash/leash.hpp>

#include <asio.hpp>

#include <iostream>
#include <string>

namespace {

asio::awaitable<void> get(leash::transport& transport, std::string url)
{
    leash::response res = co_await transport.async_send(leash::request::get(std::move(url)), asio::use_awaitable);
    std::cout << "HTTP/" << res.version_major << '.' << res.version_minor << ' ' << res.status << ' ' << res.reason
              << "\n\n";
    std::cout << co_await res.body.async_read_all(1 << 20, asio::use_awaitable) << std::flush;

    const auto stats = transport.stats();
    std::cerr << "TLS handshakes: " << stats.tls_handshakes << ", resumed: " << stats.tls_resumptions << '\n';
}

} // namespace

int main(int argc, char* argv[])
{
    if (argc < 2 || argc > 3) {
        std::cerr << "usage: https_get URL [CA_FILE]\n";
        return 2;
    }

    leash::transport_options options;
    if (argc == 3)
        options.tls.ca_file = argv[2];

    asio::io_context io;
    int exit_code = 0;
    try {
        leash::transport transport(io, options);
        asio::co_spawn(io, get(transport, argv[1]), [&](std::exception_ptr failure) {
            transport.shutdown();
            if (!failure)
                return;
            exit_code = 1;
            try {
                std::rethrow_exception(failure);
            } catch (const std::system_error& e) {
                std::cerr << "https_get: " << argv[1] << ": " << e.code().message() << " [" << e.code().category().name()
                          << "]\n";
            }
        });
        io.run();
    } catch (const std::system_error& e) {  // an unreadable CA file
        std::cerr << "https_get: " << e.what() << '\n';
        return 1;
    }
    return exit_code;
}
