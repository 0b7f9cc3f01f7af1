// Network faults that the scriptable server cannot produce on its own.
#pragma once

#include <asio.hpp>

#include <atomic>
#include <future>
#include <list>
#include <string>
#include <thread>

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

// A server that accepts connections and then neither reads nor writes: requests sit in its
// receive buffer, large bodies fill every buffer on the way. Runs on its own thread; the
// destructor closes everything.
class silent_listener {
public:
    silent_listener() : acceptor_(io_, {asio::ip::make_address("127.0.0.1"), 0})
    {
        accept_next();
        thread_ = std::thread([this] { io_.run(); });
    }
    ~silent_listener()
    {
        asio::post(io_, [this] {
            std::error_code ignored;
            acceptor_.close(ignored);
            for (auto& s : held_)
                s.close(ignored);
        });
        thread_.join();
    }

    unsigned short port() const { return port_; }
    std::string url(std::string_view path = "/") const
    {
        return "http://127.0.0.1:" + std::to_string(port_) + std::string(path);
    }
    std::size_t accepted() const { return accepted_.load(); }

    // Closes the connections held so far (their descriptors are the test's, not leash's).
    void close_held()
    {
        std::promise<void> done;
        asio::post(io_, [&] {
            std::error_code ignored;
            for (auto& s : held_)
                s.close(ignored);
            held_.clear();
            done.set_value();
        });
        done.get_future().wait();
    }

private:
    void accept_next()
    {
        acceptor_.async_accept([this](std::error_code ec, asio::ip::tcp::socket s) {
            if (ec)
                return;
            held_.push_back(std::move(s));
            ++accepted_;
            accept_next();
        });
    }

    asio::io_context io_;
    asio::ip::tcp::acceptor acceptor_;
    const unsigned short port_ = acceptor_.local_endpoint().port();
    std::list<asio::ip::tcp::socket> held_;
    std::atomic<std::size_t> accepted_{0};
    std::thread thread_;
};

} // namespace leash::test
