// Response framing, without I/O: an llhttp response parser (strict, no lenient flags, and
// refusing what llhttp 8.1 lets through: folded header lines, line endings other than CRLF,
// status lines other than "HTTP/1.x 3DIGIT SP reason", field names that are not tokens, and
// chunk framing other than RFC 9112 7.1's) that collects the status line and headers, hands
// out body bytes incrementally and reports the end of the message. The reference decoder in
// tests/support/reference_framing.hpp states every rule, and is the fuzzing oracle.
//
// feed() stops early at three points so the caller never has to buffer a whole body: when the
// head of the final response is complete, after each piece of body (take_body()), and at the
// end of the message. Interim 1xx responses (100 Continue, 103, ...) are consumed silently.
// Body views point into the caller's input and stay valid until the caller reuses it.
#pragma once

#include <leash/error.hpp>
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
            // In a head (or trailer section) llhttp gets the bytes only up to where the head
            // may end, each line checked first for what llhttp would let through: a line
            // folded onto the previous one (obs-fold, which llhttp joins into the value; RFC
            // 9112 5.2 allows refusing it) and a line not ended by CRLF.
            std::size_t step = n - used;
            if (in_head_) {
                step = line_check_.scan(data + used, step);
                if (line_check_.refused()) {
                    ec = error::malformed_response;
                    return 0;
                }
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
            // else paused where a trailer section starts
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
        for (const auto& f : fields) {
            if (!iequals(f.name, "Transfer-Encoding"))
                continue;
            for (std::string_view rest = f.value;;) {
                const auto comma = rest.find(',');
                if (const auto element = trim_ows(rest.substr(0, comma)); !element.empty())
                    last = element;
                if (comma == std::string_view::npos)
                    break;
                rest.remove_prefix(comma + 1);
            }
        }
        return iequals(trim_ows(last.substr(0, last.find(';'))), "chunked");
    }

    // Notes the options of the Connection fields of the final head or the trailers while they
    // are here (the caller may take the head's before the body ends).
    void note_connection_options(const headers& fields) noexcept
    {
        option_close_ = option_close_ || fields.has_token("Connection", "close");
        option_keep_alive_ = option_keep_alive_ || fields.has_token("Connection", "keep-alive");
    }

    // Whether the connection persists after the message (RFC 9112 9.3): for HTTP/1.1 unless a
    // Connection field (interim heads' too, RFC 9112 9.6) lists "close", for HTTP/1.0 only if
    // one of the final head or trailers lists "keep-alive" and none "close". (llhttp 8.1 misses a "close" with HTAB around it, and for HTTP/1.0 one beside
    // "keep-alive", and takes Proxy-Connection for Connection.)
    bool connection_persists(int minor) const noexcept { return !option_close_ && (minor == 1 || option_keep_alive_); }

    // Checks the lines of a head given piece by piece, where llhttp 8.1 is lax: every line
    // must end in CRLF (llhttp takes any byte after the CR that ends the status line or the
    // head, and a bare LF as the empty line); no line may start with SP or HTAB (a folded
    // line, which llhttp joins into the value); a status line is "HTTP/1.0" or "HTTP/1.1", SP,
    // three digits, SP and a reason phrase without controls (llhttp takes other versions, any
    // number of digits, no SP, and any byte in the reason); a field name is a token (llhttp
    // takes SP and more). Also finds where the head may end (after an empty line), so that
    // bytes past it are not taken for head bytes: the body that follows may hold anything.
    // Field values are llhttp's to check: it refuses controls there.
    class line_check {
    public:
        // A head starts with a status line (after any empty lines); a trailer section does not.
        explicit line_check(bool status_line = true) noexcept : status_line_(status_line) {}

        // Scans up to n bytes; returns how many belong to the head as far as can be told:
        // all n, or up to and including the LF of the first empty line. Stops at a refused byte.
        std::size_t scan(const char* data, std::size_t n) noexcept
        {
            for (std::size_t i = 0; i < n; ++i) {
                const char c = data[i];
                switch (state_) {
                case state::line_start:
                    if (c == ' ' || c == '\t' || c == '\n')
                        return refuse(i);
                    column_ = 0;
                    empty_line_ = c == '\r';
                    if (empty_line_) {
                        state_ = state::after_cr;
                        break;
                    }
                    state_ = state::in_line;
                    [[fallthrough]];  // (the byte is the line's first)
                case state::in_line: {
                    // The rest of the line at once: its LF, and a CR that must come right before it.
                    const char* const from = data + i;
                    const auto* lf = static_cast<const char*>(std::memchr(from, '\n', n - i));
                    const char* const end = lf ? lf : data + n;
                    const auto* cr = static_cast<const char*>(std::memchr(from, '\r', static_cast<std::size_t>(end - from)));
                    if (cr && cr + 1 != end)
                        return refuse(static_cast<std::size_t>(cr + 1 - data));  // a CR before something else
                    if (!cr && lf)
                        return refuse(static_cast<std::size_t>(lf - data));  // a bare LF
                    if (!check_text(from, cr ? cr : end) || (cr && !line_complete()))
                        return refuse(i);
                    if (!lf) {
                        if (cr)
                            state_ = state::after_cr;  // the piece ends between CR and LF
                        return n;
                    }
                    i = static_cast<std::size_t>(lf - data);
                    state_ = state::line_start;
                    status_line_ = false;
                    break;
                }
                case state::after_cr:
                    if (c != '\n')
                        return refuse(i);
                    state_ = state::line_start;
                    if (empty_line_) {
                        status_line_ = true;  // a head that follows starts with one
                        return i + 1;
                    }
                    status_line_ = false;
                    break;
                }
            }
            return n;
        }
        bool refused() const noexcept { return refused_; }

    private:
        std::size_t refuse(std::size_t at) noexcept
        {
            refused_ = true;
            return at;
        }

        // Checks line text (no CR or LF): all of a status line, a field line up to its colon.
        bool check_text(const char* from, const char* to) noexcept
        {
            for (; from != to && (status_line_ || column_ != name_done); ++from, ++column_) {
                const auto c = static_cast<unsigned char>(*from);
                if (status_line_ ? !status_line_char(c, column_) : !field_name_char(c))
                    return false;
            }
            return true;
        }

        // Whether a line ending here is whole: a status line up to its reason, a field line's colon.
        bool line_complete() const noexcept { return status_line_ ? column_ >= reason_column : column_ == name_done; }

        // Updates column_ to name_done at the colon ending a non-empty field name.
        bool field_name_char(unsigned char c) noexcept
        {
            if (c == ':' && column_ > 0) {
                column_ = name_done - 1;  // (the loop's ++column_ makes it name_done)
                return true;
            }
            return is_token_char(c);
        }

        static bool status_line_char(unsigned char c, std::size_t column) noexcept
        {
            static constexpr std::string_view version = "HTTP/1.";
            if (column < version.size())
                return c == static_cast<unsigned char>(version[column]);
            if (column == 7 || column == 8 || column == 12)
                return column == 7 ? c == '0' || c == '1' : c == ' ';
            if (column < reason_column)
                return c >= '0' && c <= '9';
            return c == '\t' || (c >= 0x20 && c != 0x7f);  // reason-phrase: HTAB, SP, VCHAR, obs-text
        }

        static constexpr std::size_t reason_column = 13;  // "HTTP/1.1 200 " is before it
        static constexpr std::size_t name_done = static_cast<std::size_t>(-1);

        enum class state : unsigned char { line_start, in_line, after_cr };
        state state_ = state::line_start;
        bool status_line_;       // the line is (or a line to come would be) a status line
        bool empty_line_ = false;
        bool refused_ = false;
        std::size_t column_ = 0;  // bytes of the line checked, or name_done once its colon is seen
    };

    // Checks a chunked body given piece by piece, where llhttp 8.1 is lax: a chunk-size line
    // (RFC 9112 7.1: hex digits, then extensions ";" token [ "=" ( token / quoted-string ) ],
    // no whitespace and no quoted-pair, as in llhttp) must end in CRLF, and so must chunk data
    // (llhttp takes any byte after the CR of a chunk-size line and any two bytes after chunk
    // data). Returns where llhttp pauses, so that what it takes has been checked: after each
    // chunk's data and after the last chunk's line (a trailer section follows, for line_check).
    class chunk_check {
    public:
        // Scans up to n bytes; returns how many may be given to llhttp: all n, or up to the end
        // of a chunk's data or of the last chunk's line. Stops at a refused byte.
        std::size_t scan(const char* data, std::size_t n) noexcept
        {
            std::size_t i = 0;
            while (i < n) {
                if (state_ == state::data) {  // the data at once
                    const auto k = static_cast<std::size_t>(std::min<std::uint64_t>(remaining_, n - i));
                    i += k;
                    remaining_ -= k;
                    if (remaining_ == 0)
                        state_ = state::data_cr;
                    return i;  // (n, unless the data ends before)
                }
                const auto next = step(static_cast<unsigned char>(data[i]));
                if (next == state::refused)
                    return refuse(i);
                state_ = next;
                ++i;
                if (state_ == state::data && remaining_ == 0)
                    return i;  // the last chunk: its trailer section is not chunk framing
            }
            return n;
        }
        bool refused() const noexcept { return state_ == state::refused; }

    private:
        enum class state : unsigned char {
            size, ext_name_start, ext_name, ext_value_start, ext_token, ext_quoted, ext_quoted_done,
            line_lf, data, data_cr, data_lf, refused
        };

        std::size_t refuse(std::size_t at) noexcept
        {
            state_ = state::refused;
            return at;
        }

        // The state after byte c of a chunk-size line or of the CRLF after chunk data.
        state step(unsigned char c) noexcept
        {
            switch (state_) {
            case state::size: return size_digit(c);
            case state::ext_name_start: return is_token_char(c) ? state::ext_name : state::refused;
            case state::ext_name:
                return c == '=' ? state::ext_value_start : is_token_char(c) ? state::ext_name : ext_end(c);
            case state::ext_value_start:
                return c == '"' ? state::ext_quoted : is_token_char(c) ? state::ext_token : state::refused;
            case state::ext_token: return is_token_char(c) ? state::ext_token : ext_end(c);
            case state::ext_quoted:
                return c == '"' ? state::ext_quoted_done : is_qdtext(c) ? state::ext_quoted : state::refused;
            case state::ext_quoted_done: return ext_end(c);
            case state::line_lf:
                remaining_ = size_;
                return c == '\n' ? state::data : state::refused;
            case state::data_cr: return c == '\r' ? state::data_lf : state::refused;
            case state::data_lf:
                size_ = 0;
                digits_ = false;
                return c == '\n' ? state::size : state::refused;
            default: return state::refused;
            }
        }

        state size_digit(unsigned char c) noexcept
        {
            const int digit = c >= '0' && c <= '9' ? c - '0' : (c | 0x20) >= 'a' && (c | 0x20) <= 'f' ? (c | 0x20) - 'a' + 10 : -1;
            if (digit < 0)
                return digits_ ? ext_end(c) : state::refused;
            if (size_ > (UINT64_MAX >> 4))
                return state::refused;  // (llhttp refuses it too)
            size_ = size_ * 16 + static_cast<std::uint64_t>(digit);
            digits_ = true;
            return state::size;
        }

        // After a size, an extension name or value: another extension or the end of the line.
        static state ext_end(unsigned char c) noexcept
        {
            return c == ';' ? state::ext_name_start : c == '\r' ? state::line_lf : state::refused;
        }

        // qdtext: HTAB, SP, VCHAR but '"' and '\' (no quoted-pair), obs-text.
        static bool is_qdtext(unsigned char c) noexcept
        {
            return c == '\t' || (c >= 0x20 && c != 0x7f && c != '"' && c != '\\');
        }

        state state_ = state::size;
        std::uint64_t size_ = 0;
        std::uint64_t remaining_ = 0;
        bool digits_ = false;
    };

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
                return me.head_request_ ? 1 : 0;
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
                    return 0;
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
