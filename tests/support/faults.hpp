// Network faults that the scriptable server cannot produce on its own.
#pragma once

#include <asio.hpp>

#include <string>

namespace leash::test {

// A TCP listener whose accept queue is full, so that connecting to it hangs (the kernel drops
// the SYNs) until the connect times out: a black hole on loopback. Never accepts.
class blackhole_listener {
public:
    // Listens on `address`:`port` (port 0: any free one).
    explicit blackhole_listener(const std::string& address = "127.0.0.1", unsigned short port = 0)
        : acceptor_(io_), filler_(io_)
    {
        const asio::ip::tcp::endpoint ep(asio::ip::make_address(address), port);
        acceptor_.open(ep.protocol());
        acceptor_.bind(ep);
        acceptor_.listen(0);  // room for a single pending connection...
        filler_.connect(acceptor_.local_endpoint());  // ...which this one takes
    }

    unsigned short port() const { return acceptor_.local_endpoint().port(); }

private:
    asio::io_context io_;
    asio::ip::tcp::acceptor acceptor_;
    asio::ip::tcp::socket filler_;
};

} // namespace leash::test
