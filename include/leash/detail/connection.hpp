// One HTTP/1.1 connection: its stream, its read buffer and response parser, and its request
// head buffer, all reused across the requests it carries. Used by one request (or one body)
// at a time; the pool hands it over under its lock.
#pragma once

#include <leash/detail/pool_core.hpp>
#include <leash/detail/response_parser.hpp>
#include <leash/detail/stream.hpp>
#include <leash/detail/tls_client.hpp>

#include <cstdint>
#include <string>
#include <vector>

namespace leash::detail {

class connection {
public:
    static constexpr std::size_t read_buffer_size = 16 * 1024;

    connection(const asio::any_io_executor& ex, std::string key) : stream(ex), key(std::move(key))
    {
        buffer_.resize(read_buffer_size);
    }

    detail::stream stream;
    const std::string key;
    response_parser parser;
    std::string head;               // the serialised request head
    std::vector<char> upload;       // pieces of a body source on their way out
    tls_session_slot tls_session;   // where TLS sessions received here are cached
    bool tls_established = false;   // handshake completed: a close sends close_notify
    std::size_t requests = 0;       // requests started on this connection
    asio::any_io_executor owner;    // strand of the request or body using it (under the pool's lock)
    bool killed = false;            // closed by a shutdown deadline (on the owner strand)
    clock::duration idle_timeout{}; // for the pool; the server's hint may shorten it

    // --- read buffer: bytes [begin, end) are received but not yet parsed ---
    const char* buffered_data() const noexcept { return buffer_.data() + begin_; }
    std::size_t buffered_size() const noexcept { return end_ - begin_; }
    void consume(std::size_t n) noexcept { begin_ += n; }
    // Space to read into; only called when every buffered byte has been parsed.
    asio::mutable_buffer prepare() noexcept
    {
        begin_ = end_ = 0;
        return asio::buffer(buffer_);
    }
    void commit(std::size_t n) noexcept { end_ += n; }
    void clear_buffer() noexcept { begin_ = end_ = 0; }

    // Once a message ended: whether the connection may carry another request (the response
    // allows keep-alive and nothing unsolicited follows it).
    bool reusable_after_message() const noexcept { return parser.keep_alive() && buffered_size() == 0; }

private:
    std::vector<char> buffer_;
    std::size_t begin_ = 0;
    std::size_t end_ = 0;
};

} // namespace leash::detail
