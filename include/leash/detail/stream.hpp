// The byte stream under a connection: plain TCP, or TLS over it (start_tls). The transport
// only uses what this class offers, so both kinds behave the same to it.
#pragma once

#include <asio.hpp>
#include <asio/ssl.hpp>

#include <sys/socket.h>
#include <cerrno>
#include <memory>

namespace leash::detail {

class stream {
public:
    using executor_type = asio::any_io_executor;
    using socket_type = asio::ip::tcp::socket;
    using tls_type = asio::ssl::stream<socket_type&>;

    explicit stream(const executor_type& ex) : socket_(ex) {}

    executor_type get_executor() noexcept { return socket_.get_executor(); }
    socket_type& socket() noexcept { return socket_; }

    // Layers TLS over the connected socket; the handshake is the caller's next step.
    tls_type& start_tls(asio::ssl::context& ctx)
    {
        tls_ = std::make_unique<tls_type>(socket_, ctx);
        return *tls_;
    }
    bool is_tls() const noexcept { return tls_ != nullptr; }
    tls_type& tls() noexcept { return *tls_; }

    template <class MutableBuffers, class Token>
    auto async_read_some(const MutableBuffers& b, Token&& token)
    {
        if (tls_)
            return tls_->async_read_some(b, std::forward<Token>(token));
        return socket_.async_read_some(b, std::forward<Token>(token));
    }

    template <class ConstBuffers, class Token>
    auto async_write_some(const ConstBuffers& b, Token&& token)
    {
        if (tls_)
            return tls_->async_write_some(b, std::forward<Token>(token));
        return socket_.async_write_some(b, std::forward<Token>(token));
    }

    // Plain TCP only: writes what the socket accepts right now, without waiting (the socket
    // is non-blocking). Returns the bytes written; ec is would_block when it took none.
    template <class ConstBuffers>
    std::size_t write_some_now(const ConstBuffers& b, std::error_code& ec)
    {
        if (!make_non_blocking(ec))
            return 0;
        return socket_.write_some(b, ec);
    }

    // Plain TCP only: reads what has arrived, without waiting. Returns the bytes read; ec is
    // would_block when nothing was there, eof at the end of the stream.
    std::size_t read_some_now(const asio::mutable_buffer& b, std::error_code& ec)
    {
        if (!make_non_blocking(ec))
            return 0;
        return socket_.read_some(b, ec);
    }

    // Aborts pending operations; they complete with operation_aborted.
    void cancel() noexcept
    {
        std::error_code ignored;
        socket_.cancel(ignored);
    }

    // Closes at once, without telling a TLS peer (see transport_state::retire for the
    // graceful way).
    void close() noexcept
    {
        std::error_code ignored;
        if (socket_.is_open()) {
            socket_.shutdown(socket_type::shutdown_both, ignored);
            socket_.close(ignored);
        }
    }

    bool is_open() const noexcept { return socket_.is_open(); }

    // Non-blocking check of an idle connection: alive only if nothing is readable and the
    // peer has not closed. An idle HTTP/1.1 connection must be silent; for TLS, a readable
    // byte is a close_notify or other record nobody asked for, so the same rule holds.
    bool probe_idle_alive() noexcept
    {
        if (!socket_.is_open())
            return false;
        char byte;
        const auto n = ::recv(socket_.native_handle(), &byte, 1, MSG_PEEK | MSG_DONTWAIT);
        return n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK);
    }

private:
    bool make_non_blocking(std::error_code& ec)
    {
        ec = {};
        if (!socket_.non_blocking())
            socket_.non_blocking(true, ec);
        return !ec;
    }

    socket_type socket_;
    std::unique_ptr<tls_type> tls_;
};

} // namespace leash::detail
