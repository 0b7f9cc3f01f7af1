// Response framing, without I/O: an llhttp response parser (strict, no lenient flags, and
// refusing what llhttp 8.1 lets through: folded header lines, line endings other than CRLF,
// status lines other than "HTTP/1.x 3DIGIT SP reason", field names that are not tokens, and
// chunk framing other than RFC 9112 7.1's) that collects the status line and headers, hands
// out body bytes incrementally and reports the end of the message. The reference decoder in
// tests/support/reference_framing.hpp states every rule, and is the fuzzing oracle.
//
// feed() stops early so the caller never has to buffer a whole body: after each piece of body
// (take_body()) and at the end of the message. Interim 1xx responses (100 Continue, 103, ...)
// are consumed silently.
// Body views point into the caller's input and stay valid until the caller reuses it.
#pragma once

#include <leash/error.hpp>
#include <leash/detail/framing_checks.hpp>
#include <leash/headers.hpp>

#include <llhttp.h>

#include <algorithm>
#include <cstdint>
#include <cstring>
#include <optional>
#include <string>
#include <string_view>
#include <system_error>

namespace leash::detail {

struct parser_limits {
    std::size_t max_header_bytes = 64 * 1024;  // status line + header fields (+ trailers)
    std::size_t max_headers = 128;             // header fields (+ trailer fields)
};

class response_parser {
public:
    response_parser() { reset(false, {}); }
    response_parser(const response_parser&) = delete;
    response_parser& operator=(const response_parser&) = delete;

    // Prepares for the response to a new request. A response to HEAD never has a body.
    void reset(bool head_request, parser_limits limits)
    {
        llhttp_init(&parser_, HTTP_RESPONSE, &settings());
        parser_.data = this;
        head_request_ = head_request;
        limits_ = limits;
        header_bytes_ = 0;
        header_count_ = 0;
        received_bytes_ = false;
        interim_responses_ = 0;
        option_close_ = option_keep_alive_ = false;
        start_message();
        message_done_ = false;
        body_ = {};
        user_error_ = {};
    }

    // Parses up to n bytes; returns how many were consumed. Stops after the final head,
    // after each body piece, and at the end of the message. Sets ec on a protocol error.
    std::size_t feed(const char* data, std::size_t n, std::error_code& ec)
    {
        ec = {};
        if (message_done_ || !body_.empty())
            return 0;
        if (n > 0)
            received_bytes_ = true;
        else if (data == nullptr)
            data = "";  // (llhttp may not offset a null pointer, even by nothing)
        std::size_t used = 0;
        do {  // (at least once: with no bytes, llhttp still ends a message after its last piece)
            // In a head (or trailer section) llhttp gets only bytes whose lines were checked
            // first for what llhttp would let through (line_check: a folded line, which
            // llhttp joins into the value, RFC 9112 5.2 allowing to refuse it; a line not
            // ended by CRLF; ...), and in a chunked body only checked chunk framing.
            const std::size_t rest = n - used;
            std::size_t step = rest;
            if (in_head_) {
                step = line_check_.scan(data + used, rest);
                if (line_check_.refused()) {
                    ec = error::malformed_response;
                    return 0;
                }
                // The head ends within: llhttp may take what follows in the same call, as it
                // pauses wherever those bytes need checks of their own (see settings()).
                if (step < rest)
                    step = rest;
            } else if (chunked_) {
                step = chunk_check_.scan(data + used, step);
                if (chunk_check_.refused()) {
                    ec = error::invalid_chunk;
                    return 0;
                }
            }
            const auto err = llhttp_execute(&parser_, data + used, step);
            if (err == HPE_OK) {
                used += step;
                continue;
            }
            if (err != HPE_PAUSED) {
                ec = translate(err);
                return 0;
            }
            used = static_cast<std::size_t>(llhttp_get_error_pos(&parser_) - data);
            llhttp_resume(&parser_);
            if (message_done_ || !body_.empty())
                break;
            // else paused where a head, a chunked body or a trailer section starts
        } while (used < n);
        return used;
    }

    // The connection reached end of stream. Completes a close-delimited body; anything else
    // unfinished is error::unexpected_eof (or closed_before_response before any byte).
    void feed_eof(std::error_code& ec)
    {
        ec = {};
        if (message_done_)
            return;
        if (!received_bytes_) {
            ec = error::closed_before_response;
            return;
        }
        if (headers_done_ && llhttp_message_needs_eof(&parser_)) {
            const auto err = llhttp_finish(&parser_);
            if (err != HPE_OK && err != HPE_PAUSED)
                ec = translate(err);
            if (!message_done_ && !ec)
                ec = error::unexpected_eof;
            return;
        }
        ec = error::unexpected_eof;
    }

    bool received_bytes() const noexcept { return received_bytes_; }
    // Interim (1xx) responses consumed so far, e.g. a 100 Continue.
    std::size_t interim_responses() const noexcept { return interim_responses_; }
    bool headers_done() const noexcept { return headers_done_; }
    bool message_done() const noexcept { return message_done_; }

    // The pending body piece, if any; take_body() hands it out and clears it.
    bool has_body() const noexcept { return !body_.empty(); }
    std::string_view take_body() noexcept { return std::exchange(body_, {}); }
    std::size_t pending_body_size() const noexcept { return body_.size(); }

    int status() const noexcept { return status_; }
    const std::string& reason() const noexcept { return reason_; }
    int version_major() const noexcept { return parser_.http_major; }
    int version_minor() const noexcept { return parser_.http_minor; }
    headers& head_fields() noexcept { return headers_; }
    headers& trailer_fields() noexcept { return trailers_; }
    // The declared Content-Length of the final response, if it had one.
    std::optional<std::uint64_t> content_length() const noexcept { return content_length_; }
    // Whether the body ends only when the connection closes.
    bool close_delimited() const noexcept { return close_delimited_; }
    // Whether the connection may carry another request once the message is done.
    bool keep_alive() const noexcept { return keep_alive_; }

private:
    void start_message()
    {
        status_ = 0;
        reason_.clear();
        headers_.clear();
        trailers_.clear();
        field_.clear();
        value_.clear();
        headers_done_ = false;
        begin_head();
        line_check_ = line_check();
        content_length_.reset();
        chunked_ = false;
        chunk_check_ = {};
        close_delimited_ = false;
        keep_alive_ = false;
    }

    void begin_head() noexcept { in_head_ = true; }  // a head or a trailer section: lines checked

    // Whether the last transfer coding named by the Transfer-Encoding fields is chunked (RFC
    // 9112 6.3), the fields read as RFC 9110 5.6.1 lists: OWS around elements, empty elements
    // ignored, a coding's parameters after ";". (llhttp 8.1 reads some lists otherwise: for it,
    // "chunked," and "chunked<HTAB>" do not end in chunked.)
    static bool last_coding_is_chunked(const headers& fields) noexcept
    {
        std::string_view last;
        for (const auto& f : fields)
            if (iequals(f.name, "Transfer-Encoding"))
                for_each_list_element(f.value, [&](std::string_view coding) { last = coding; });
        return iequals(trim_ows(last.substr(0, last.find(';'))), "chunked");
    }

    // Notes the options of the Connection fields of the final head or the trailers while they
    // are here (the caller may take the head's before the body ends).
    void note_connection_options(const headers& fields) noexcept
    {
        for (const auto& f : fields)
            if (iequals(f.name, "Connection"))
                for_each_list_element(f.value, [this](std::string_view option) {
                    option_close_ = option_close_ || iequals(option, "close");
                    option_keep_alive_ = option_keep_alive_ || iequals(option, "keep-alive");
                });
    }

    // Whether the connection persists after the message (RFC 9112 9.3): for HTTP/1.1 unless a
    // Connection field (interim heads' too, RFC 9112 9.6) lists "close", for HTTP/1.0 only if
    // one of the final head or trailers lists "keep-alive" and none "close". (llhttp 8.1
    // misses a "close" with HTAB around it, and for HTTP/1.0 one beside "keep-alive", and takes
    // Proxy-Connection for Connection.)
    bool connection_persists(int minor) const noexcept { return !option_close_ && (minor == 1 || option_keep_alive_); }

    // Room made for a head's fields at its first: typical responses fit without regrowing.
    static constexpr std::size_t expected_fields = 16;

    static response_parser& self(llhttp_t* p) { return *static_cast<response_parser*>(p->data); }

    int count_bytes(std::size_t n)
    {
        header_bytes_ += n;
        if (header_bytes_ > limits_.max_header_bytes) {
            user_error_ = error::headers_too_large;
            return HPE_USER;
        }
        return 0;
    }

    static const llhttp_settings_t& settings()
    {
        static const llhttp_settings_t s = [] {
            llhttp_settings_t st;
            llhttp_settings_init(&st);
            st.on_status = [](llhttp_t* p, const char* at, std::size_t n) {
                auto& me = self(p);
                me.reason_.append(at, n);
                return me.count_bytes(n);
            };
            st.on_header_field = [](llhttp_t* p, const char* at, std::size_t n) {
                auto& me = self(p);
                me.field_.append(at, n);
                return me.count_bytes(n);
            };
            st.on_header_value = [](llhttp_t* p, const char* at, std::size_t n) {
                auto& me = self(p);
                me.value_.append(at, n);
                return me.count_bytes(n);
            };
            st.on_header_value_complete = [](llhttp_t* p) {
                auto& me = self(p);
                if (++me.header_count_ > me.limits_.max_headers) {
                    me.user_error_ = error::too_many_headers;
                    return static_cast<int>(HPE_USER);
                }
                // Framing fields have no place in trailers (RFC 9110 6.5.1), and llhttp would let a
                // Transfer-Encoding there change whether the connection is reusable.
                if (me.headers_done_ && (iequals(me.field_, "Content-Length") || iequals(me.field_, "Transfer-Encoding"))) {
                    me.user_error_ = error::malformed_response;
                    return static_cast<int>(HPE_USER);
                }
                auto& target = me.headers_done_ ? me.trailers_ : me.headers_;
                if (target.empty())
                    target.reserve(expected_fields);
                target.append_unchecked(me.field_, trim_ows(me.value_));
                me.field_.clear();
                me.value_.clear();
                return 0;
            };
            st.on_headers_complete = [](llhttp_t* p) {
                auto& me = self(p);
                if ((p->flags & F_CONTENT_LENGTH) && me.headers_.contains("Transfer-Encoding")) {
                    me.user_error_ = error::invalid_content_length;  // (llhttp misses an empty Transfer-Encoding)
                    return -1;
                }
                me.status_ = p->status_code;
                if (me.status_ < 100 || me.status_ > 999) {  // status-code = 3DIGIT (RFC 9112 4)
                    me.user_error_ = error::malformed_response;
                    return -1;
                }
                if (me.status_ == 101) {
                    me.user_error_ = error::upgrade_not_supported;
                    return -1;
                }
                if (me.status_ >= 100 && me.status_ < 200) {  // interim: no body; the final response follows
                    me.option_close_ = me.option_close_ || me.headers_.has_token("Connection", "close");
                    return 1;
                }
                me.headers_done_ = true;
                me.in_head_ = false;
                me.note_connection_options(me.headers_);
                if (me.status_ == 204 || me.status_ == 304)
                    return 1;  // never a body, whatever the head claims
                if (p->flags & F_CONTENT_LENGTH)
                    me.content_length_ = p->content_length;
                if (p->flags & F_TRANSFER_ENCODING) {  // the framing is leash's reading, not llhttp's
                    const bool chunked = last_coding_is_chunked(me.headers_);
                    p->flags = static_cast<std::uint16_t>(chunked ? p->flags | F_CHUNKED : p->flags & ~F_CHUNKED);
                }
                me.chunked_ = !me.head_request_ && (p->flags & F_CHUNKED);
                me.close_delimited_ = !me.head_request_ && llhttp_message_needs_eof(p);
                if (me.head_request_)
                    return 1;
                return me.chunked_ ? static_cast<int>(HPE_PAUSED) : 0;  // (chunk_check first)
            };
            st.on_chunk_header = [](llhttp_t* p) {
                if (p->content_length != 0)
                    return 0;
                auto& me = self(p);
                me.begin_head();  // the last chunk: a trailer section follows
                me.line_check_ = line_check(false);
                return static_cast<int>(HPE_PAUSED);
            };
            st.on_body = [](llhttp_t* p, const char* at, std::size_t n) {
                self(p).body_ = std::string_view(at, n);
                return static_cast<int>(HPE_PAUSED);
            };
            st.on_message_complete = [](llhttp_t* p) {
                auto& me = self(p);
                if (!me.headers_done_) {  // an interim response ended
                    // (else llhttp takes the final response for bytes after the last one)
                    p->flags = static_cast<std::uint16_t>((p->flags | F_CONNECTION_KEEP_ALIVE) & ~F_CONNECTION_CLOSE);
                    ++me.interim_responses_;
                    me.start_message();
                    return static_cast<int>(HPE_PAUSED);  // (the next head's lines are checked first)
                }
                me.note_connection_options(me.trailers_);
                me.keep_alive_ = !me.close_delimited_ && me.connection_persists(p->http_minor);
                me.message_done_ = true;
                return static_cast<int>(HPE_PAUSED);
            };
            return st;
        }();
        return s;
    }

    std::error_code translate(llhttp_errno_t err) const
    {
        if (user_error_)
            return user_error_;
        switch (err) {
        case HPE_INVALID_CONTENT_LENGTH:
        case HPE_UNEXPECTED_CONTENT_LENGTH: return error::invalid_content_length;
        case HPE_INVALID_TRANSFER_ENCODING: return error::invalid_transfer_encoding;
        case HPE_INVALID_CHUNK_SIZE: return error::invalid_chunk;
        case HPE_INVALID_EOF_STATE: return error::unexpected_eof;
        case HPE_PAUSED_UPGRADE: return error::upgrade_not_supported;
        default: return error::malformed_response;
        }
    }

    llhttp_t parser_{};
    parser_limits limits_;
    bool head_request_ = false;
    std::size_t header_bytes_ = 0;
    std::size_t header_count_ = 0;
    bool received_bytes_ = false;
    std::size_t interim_responses_ = 0;

    int status_ = 0;
    std::string reason_;
    headers headers_;
    headers trailers_;
    std::string field_;
    std::string value_;
    bool headers_done_ = false;
    bool in_head_ = true;  // parsing a head or a trailer section
    line_check line_check_;
    bool chunked_ = false;  // the final response's body is chunked
    chunk_check chunk_check_;
    bool message_done_ = false;
    std::optional<std::uint64_t> content_length_;
    bool close_delimited_ = false;
    bool option_close_ = false, option_keep_alive_ = false;  // listed by Connection fields
    bool keep_alive_ = false;
    std::string_view body_;
    std::error_code user_error_;
};

} // namespace leash::detail
