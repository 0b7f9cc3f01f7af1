// One HTTP/1.1 connection: its stream, its read buffer and response parser, and its request
// head buffer, all reused across the requests it carries. Used by one request (or one body)
// at a time; the pool hands it over under its lock.
#pragma once

#include <leash/detail/phase_timer.hpp>
#include <leash/detail/pool_core.hpp>
#include <leash/detail/response_parser.hpp>
#include <leash/detail/stream.hpp>
#include <leash/detail/tls_client.hpp>
#include <leash/trace.hpp>

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

namespace leash::detail {

class connection {
public:
    // The read buffer starts small, so that idle connections that carried small responses
    // cost little memory, and grows to its full size once a read fills it.
    static constexpr std::size_t initial_read_buffer_size = 2 * 1024;
    static constexpr std::size_t read_buffer_size = 16 * 1024;

    connection(const asio::any_io_executor& ex, std::string key)
        : stream(ex), timer(ex), key(std::move(key)), buffer_(new char[initial_read_buffer_size])
    {
    }

    detail::stream stream;
    phase_timer timer;              // the deadline of the phase running on it, whoever owns it
    const std::string key;
    response_parser parser;
    std::string head;               // the serialised request head
    std::vector<char> upload;       // pieces of a body source on their way out
    tls_session_slot tls_session;   // where TLS sessions received here are cached
    bool tls_established = false;   // handshake completed: a close sends close_notify
    std::size_t requests = 0;       // requests started on this connection
    asio::any_io_executor owner;    // strand of the request or body using it (under the pool's lock)
    bool dialing = false;             // being dialed (under the pool's lock)
    bool closed_by_shutdown = false;  // closed by shutdown (dialing) or async_shutdown's deadline (on the owner strand)
    clock::duration idle_timeout{}; // for the pool; the server's hint may shorten it
    std::uint64_t id = 0;           // unique within the transport (for trace hooks)
    clock::time_point idle_since{}; // when it last went back to the pool
    std::shared_ptr<const trace_hooks> lease_trace;  // the hooks of the request using it, if any
    traffic_counters* host_counters = nullptr;  // its host's in the transport's stats (under its lock)

    // --- read buffer: bytes [begin, end) are received but not yet parsed ---
    const char* buffered_data() const noexcept { return buffer_.get() + begin_; }
    std::size_t buffered_size() const noexcept { return end_ - begin_; }
    void consume(std::size_t n) noexcept { begin_ += n; }
    // Space to read into; only called when every buffered byte has been parsed.
    // (Nothing may still point into the buffer: the parser's pieces were taken.)
    asio::mutable_buffer prepare()
    {
        begin_ = end_ = 0;
        if (filled_ && capacity_ < read_buffer_size) {  // the small buffer was not enough
            buffer_.reset(new char[read_buffer_size]);  // uninitialised: only what is read is touched
            capacity_ = read_buffer_size;
        }
        return asio::buffer(buffer_.get(), capacity_);
    }
    void commit(std::size_t n) noexcept
    {
        end_ += n;
        filled_ = end_ == capacity_;
    }
    // Whether the last read filled the whole buffer (so more was probably waiting).
    bool filled_last_read() const noexcept { return filled_; }
    void clear_buffer() noexcept { begin_ = end_ = 0; }

    // Once a message ended: whether the connection may carry another request (the response
    // allows keep-alive and nothing unsolicited follows it).
    bool reusable_after_message() const noexcept { return parser.keep_alive() && buffered_size() == 0; }

private:
    std::unique_ptr<char[]> buffer_;
    std::size_t capacity_ = initial_read_buffer_size;
    bool filled_ = false;
    std::size_t begin_ = 0;
    std::size_t end_ = 0;
};

} // namespace leash::detail
