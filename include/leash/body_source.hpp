/// \file
/// leash/body_source.hpp - a request body produced piece by piece while it is sent.
#pragma once

#include <asio.hpp>

#include <cstdint>
#include <cstring>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <system_error>
#include <tuple>

namespace leash {

/// A request body produced piece by piece while it is sent.
///
/// For uploads too large to hold in memory, or generated as they go. `read` fills the buffer
/// it is given with the next bytes and completes with (error, bytes); 0 bytes means the end.
/// With `length` known the request carries Content-Length and the source must produce exactly
/// that many bytes; without it the body is sent chunked.
///
/// Retries: a request whose bytes already went out is sent again only if `rewind` is set and
/// returns true (it must start the source over from its first byte). A source without
/// `rewind` makes the request non-replayable once writing began.
///
/// \threadsafety
/// `read` is called on the request's strand, one call at a time, and only while the request is
/// being written.
///
/// \errors
/// A source that produces more or fewer bytes than its `length` fails the request with
/// error::body_length_mismatch; an error `read` completes with ends the request with it.
struct body_source {
    /// What `read` completes with: an error, or the number of bytes written into the buffer
    /// (0 at the end).
    using read_result = std::tuple<std::error_code, std::size_t>;

    /// Fills `out` with the next bytes of the body; 0 bytes means the end.
    std::function<asio::awaitable<read_result>(asio::mutable_buffer out)> read;
    /// The body's length in bytes, sent as Content-Length; empty sends the body chunked.
    std::optional<std::uint64_t> length;
    /// Starts the source over from its first byte, for a retry; false if it cannot.
    std::function<bool()> rewind;

    /// A rewindable source over a string, with or without its length announced.
    static body_source from_string(std::string text, bool announce_length = true)
    {
        auto state = std::make_shared<std::pair<std::string, std::size_t>>(std::move(text), 0);
        body_source s;
        if (announce_length)
            s.length = state->first.size();
        s.read = [state](asio::mutable_buffer out) -> asio::awaitable<read_result> {
            const auto n = std::min(out.size(), state->first.size() - state->second);
            std::memcpy(out.data(), state->first.data() + state->second, n);
            state->second += n;
            co_return read_result{std::error_code{}, n};
        };
        s.rewind = [state] {
            state->second = 0;
            return true;
        };
        return s;
    }
};

} // namespace leash
