/// \file
/// leash/sse.hpp - a decoder for server-sent event streams (text/event-stream), without I/O.
#pragma once

#include <leash/detail/decimal.hpp>
#include <leash/error.hpp>

#include <chrono>
#include <concepts>
#include <cstddef>
#include <cstring>
#include <limits>
#include <optional>
#include <string>
#include <string_view>
#include <system_error>
#include <utility>
#include <vector>

/// Server-sent events (text/event-stream): the decoder, without I/O, and the reader over a
/// response body.
namespace leash::sse {

/// One dispatched event.
struct event {
    std::string type = "message";  ///< the `event` field, or "message"
    std::string data;              ///< the `data` lines joined with "\n" (no final "\n")
    std::string id;                ///< the last event id in effect when the event was dispatched
};

/// A decoder for server-sent event streams (text/event-stream), without I/O.
///
/// Feed the response body bytes as they arrive, in chunks of any size (a line or a CRLF may be
/// split anywhere); every event is delivered once its terminating blank line has been seen.
/// The bytes are not decoded or validated as UTF-8: field values are passed through as they
/// arrive. Parsing follows the WHATWG HTML "event stream" rules exactly:
///   - lines end with CRLF, LF or a lone CR, also when the CR and the LF arrive in different
///     feeds;
///   - one UTF-8 byte order mark (EF BB BF) at the very start of the stream is skipped; anywhere
///     else it is ordinary content;
///   - a line starting with ':' is a comment;
///   - "name:value" is a field; exactly one space at the start of the value is removed (if
///     present). A line without ':' is a field whose value is empty. Names are case-sensitive;
///   - event: sets the event type; data: appends the value and "\n" to the data;
///     id: sets the last event id, unless the value contains NUL (then the field is ignored);
///     retry: sets the reconnection time if the value is one or more ASCII digits (a value too
///     large for std::chrono::milliseconds saturates); every other field is ignored;
///   - an empty line ends the event: the last event id is committed (it persists across events
///     until an id field changes it; an empty id resets it). If no data field was seen, nothing
///     is dispatched; otherwise the final "\n" of the data is removed and the event dispatched.
///     The event type and the data then start empty again;
///   - when the stream ends (finish), an event without its blank line is discarded, together
///     with any id field it carried.
///
/// Memory is bounded by max_event_bytes: the line being read plus the data and event type of the
/// event being built may not exceed it (the last event id is at most one line long).
///
/// \threadsafety
/// None. Use one decoder per stream, from one thread at a time.
///
/// \lifetime
/// A decoder keeps no reference to the bytes it is fed; every event owns its strings.
/// A decoder is a plain value (copyable and movable).
///
/// \errors
/// error::sse_event_too_large when an event passes max_event_bytes; the decoder then stays
/// failed (see feed()).
class decoder {
public:
    static constexpr std::size_t default_max_event_bytes = 8 * 1024 * 1024;  ///< room for base64 images

    /// A decoder at the start of a stream, bounding each event to `max_event_bytes`.
    explicit decoder(std::size_t max_event_bytes = default_max_event_bytes) noexcept
        : max_event_bytes_(max_event_bytes)
    {
    }

    /// Decodes the next bytes of the stream, calling on_event(event&&) for every event
    /// dispatched, in stream order. Returns error::sse_event_too_large when the line being read
    /// plus the event being built would exceed max_event_bytes; events completed earlier in the
    /// same call have been delivered. The decoder is then failed: every later feed returns the
    /// same error and delivers nothing. An exception thrown by on_event propagates and the rest
    /// of `bytes` is not decoded.
    ///
    /// \tparam OnEvent a callable taking `event&&`.
    template <class OnEvent>
        requires std::invocable<OnEvent&, event&&>
    std::error_code feed(std::string_view bytes, OnEvent&& on_event)
    {
        if (failed_)
            return error::sse_event_too_large;
        const char* p = bytes.data();
        const char* const end = p + bytes.size();
        if (p == end)
            return {};
        if (bom_seen_ < bom_done)
            p = skip_bom(p, end);
        if (p != end && after_cr_) {
            // The previous feed ended with CR: an LF right after it belongs to that line end.
            after_cr_ = false;
            if (*p == '\n')
                ++p;
        }

        // Lines are found with memchr. The position of the next LF is kept between lines so that
        // a run of CR-terminated lines does not rescan the rest of the input for every line.
        const char* lf = nullptr;
        while (p != end) {
            if (lf == nullptr || lf < p) {
                lf = static_cast<const char*>(std::memchr(p, '\n', static_cast<std::size_t>(end - p)));
                if (lf == nullptr)
                    lf = end;
            }
            const char* eol = static_cast<const char*>(std::memchr(p, '\r', static_cast<std::size_t>(lf - p)));
            if (eol == nullptr)
                eol = lf;
            const auto piece = static_cast<std::size_t>(eol - p);
            if (exceeds_bound(line_.size() + piece)) {
                fail();
                return error::sse_event_too_large;
            }
            if (eol == end) {
                // An unfinished line: keep it for the next feed.
                line_.append(p, piece);
                return {};
            }

            std::string_view line;
            if (line_.empty()) {
                line = std::string_view(p, piece);  // the whole line is in the input: no copy
            } else {
                line_.append(p, piece);
                line = line_;
            }
            p = eol + 1;
            if (*eol == '\r') {
                if (p == end)
                    after_cr_ = true;
                else if (*p == '\n')
                    ++p;
            }

            if (line.empty()) {
                // line_ is empty here, so the decoder is consistent should on_event throw.
                dispatch(on_event);
            } else {
                process_field(line);
                line_.clear();
            }
        }
        return {};
    }

    /// Decodes the next bytes of the stream, appending the dispatched events to `out`.
    std::error_code feed(std::string_view bytes, std::vector<event>& out)
    {
        return feed(bytes, [&out](event&& e) { out.push_back(std::move(e)); });
    }

    /// The stream ended: an unfinished event (no blank line yet) and an unfinished line are
    /// discarded, including an id field of that event. last_event_id() and retry() keep their
    /// values. The decoder may then decode a new stream (after reconnecting): a byte order mark
    /// is skipped again at its start. A failed decoder stays failed.
    void finish() noexcept
    {
        line_.clear();
        data_.clear();
        type_.clear();
        pending_id_.clear();
        id_pending_ = false;
        after_cr_ = false;
        bom_seen_ = 0;
    }

    /// The last event id committed by a blank line ("" if none, or after an empty id field):
    /// the value for a Last-Event-ID request header when reconnecting.
    const std::string& last_event_id() const noexcept { return last_id_; }

    /// The reconnection time from the last valid retry field, if any.
    std::optional<std::chrono::milliseconds> retry() const noexcept { return retry_; }

private:
    static constexpr int bom_done = 3;

    // Skips as much of a byte order mark at the start of the stream as `p` holds. On the first
    // byte that differs, the bytes matched so far are ordinary content of the first line.
    const char* skip_bom(const char* p, const char* end)
    {
        static constexpr char bom[] = "\xEF\xBB\xBF";
        while (p != end && bom_seen_ < bom_done) {
            if (*p != bom[bom_seen_]) {
                line_.append(bom, static_cast<std::size_t>(bom_seen_));
                bom_seen_ = bom_done;
                return p;
            }
            ++p;
            ++bom_seen_;
        }
        return p;
    }

    bool exceeds_bound(std::size_t line_bytes) const noexcept
    {
        return line_bytes + data_.size() + type_.size() > max_event_bytes_;
    }

    void fail() noexcept
    {
        failed_ = true;
        // Release what may be megabytes; nothing of it can be used any more.
        std::string().swap(line_);
        std::string().swap(data_);
        std::string().swap(type_);
        std::string().swap(pending_id_);
    }

    // A non-empty line that does not end an event.
    void process_field(std::string_view line)
    {
        if (line.front() == ':')
            return;  // a comment
        std::string_view name = line;
        std::string_view value;
        if (const auto colon = line.find(':'); colon != std::string_view::npos) {
            name = line.substr(0, colon);
            value = line.substr(colon + 1);
            if (!value.empty() && value.front() == ' ')
                value.remove_prefix(1);
        }

        if (name == "data") {
            data_.append(value);
            data_.push_back('\n');
        } else if (name == "event") {
            type_.assign(value);
        } else if (name == "id") {
            if (value.find('\0') == std::string_view::npos) {
                pending_id_.assign(value);
                id_pending_ = true;
            }
        } else if (name == "retry") {
            set_retry(value);
        }
    }

    void set_retry(std::string_view value) noexcept
    {
        using rep = std::chrono::milliseconds::rep;
        rep ms = 0;
        switch (detail::parse_decimal_digits(value, ms)) {
        case detail::decimal_parse::ok: break;
        case detail::decimal_parse::too_large: ms = std::numeric_limits<rep>::max(); break;
        case detail::decimal_parse::not_digits: return;  // ignored, as the SSE standard says
        }
        retry_ = std::chrono::milliseconds(ms);
    }

    // An empty line.
    template <class OnEvent>
    void dispatch(OnEvent& on_event)
    {
        if (id_pending_) {
            last_id_.swap(pending_id_);
            id_pending_ = false;
        }
        if (data_.empty()) {
            type_.clear();
            return;
        }
        event ev;
        data_.pop_back();
        ev.data = std::move(data_);
        data_.clear();
        if (!type_.empty()) {
            ev.type = std::move(type_);
            type_.clear();
        }
        ev.id = last_id_;
        on_event(std::move(ev));
    }

    std::size_t max_event_bytes_;
    std::string line_;              // the unfinished line carried over from earlier feeds
    std::string data_;              // the data buffer: each data value plus "\n"
    std::string type_;              // the event type buffer
    std::string last_id_;           // the last event id, as committed by the last blank line
    std::string pending_id_;        // an id field not yet committed (valid if id_pending_)
    std::optional<std::chrono::milliseconds> retry_;
    int bom_seen_ = 0;              // bytes of a leading byte order mark seen; bom_done after it
    bool id_pending_ = false;
    bool after_cr_ = false;         // the last feed ended with CR: skip an LF at the next start
    bool failed_ = false;
};

} // namespace leash::sse
