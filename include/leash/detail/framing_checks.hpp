// The checks of response framing that llhttp 8.1 leaves out, without I/O: the lines of a head
// or trailer section (line_check) and the framing of a chunked body (chunk_check). Each scans
// the bytes before llhttp sees them and tells how many it may take. Used by response_parser.
#pragma once

#include <leash/headers.hpp>

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <string_view>

namespace leash::detail {

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

    // Scans up to n bytes; returns how many belong to the head as far as can be told: all n,
    // or up to and including the LF of the empty line that ends it (empty lines before a
    // status line do not). Stops at a refused byte.
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
                if (!check_text(from, cr ? cr : end, cr != nullptr) || (cr && !line_complete()))
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
                    if (status_line_)
                        break;  // an empty line before a status line, which llhttp skips
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
    // at_cr: `to` points to the CR that ends the line.
    bool check_text(const char* from, const char* to, bool at_cr) noexcept
    {
        if (status_line_) {
            if (column_ == 0 && to - from >= static_cast<std::ptrdiff_t>(reason_column) && is_status_start(from)) {
                from += reason_column;  // (the common case at once)
                column_ = reason_column;
            }
            for (; from != to; ++from, ++column_)
                if (!status_line_char(static_cast<unsigned char>(*from), column_))
                    return false;
            return true;
        }
        if (column_ == name_done)
            return true;
        const char* const name_end = token_end(from, to, at_cr);
        column_ += static_cast<std::size_t>(name_end - from);
        if (name_end == to)
            return true;  // the name goes on in the next piece, or the line has no colon
        if (*name_end != ':' || column_ == 0)  // not a token, or an empty field name
            return false;
        column_ = name_done;
        return true;
    }

    // The end of the token bytes that start [from, to). at_cr: *to is a CR, which is not a
    // token byte, so the loop needs no bound (the names of a head are most of what is scanned).
    static const char* token_end(const char* from, const char* to, bool at_cr) noexcept
    {
        const auto token_byte = [](const char* p) { return is_token_char(static_cast<unsigned char>(*p)); };
        if (at_cr) {
            while (token_byte(from))
                ++from;
            return from;
        }
        while (from != to && token_byte(from))
            ++from;
        return from;
    }

    // Whether a line ending here is whole: a status line up to its reason, a field line's colon.
    bool line_complete() const noexcept { return status_line_ ? column_ >= reason_column : column_ == name_done; }

    static bool status_line_char(unsigned char c, std::size_t column) noexcept
    {
        if (column >= reason_column)
            return c == '\t' || (c >= 0x20 && c != 0x7f);  // reason-phrase: HTAB, SP, VCHAR, obs-text
        switch (status_start[column]) {
        case '?': return c == '0' || c == '1';
        case '#': return c >= '0' && c <= '9';
        default: return c == static_cast<unsigned char>(status_start[column]);
        }
    }

    // Whether the reason_column bytes at `p` are a status line up to its reason.
    static bool is_status_start(const char* p) noexcept
    {
        const auto digit = [](char c) { return c >= '0' && c <= '9'; };
        return std::memcmp(p, status_start.data(), 7) == 0 && (p[7] == '0' || p[7] == '1') && p[8] == ' '
            && digit(p[9]) && digit(p[10]) && digit(p[11]) && p[12] == ' ';
    }

    // A status line up to its reason: "HTTP/1.", a minor version ('?': 0 or 1), SP, three
    // digits ('#'), SP.
    static constexpr std::string_view status_start = "HTTP/1.? ### ";
    static constexpr std::size_t reason_column = status_start.size();
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

} // namespace leash::detail
