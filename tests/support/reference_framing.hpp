// A reference decoder of HTTP/1.1 response framing (RFC 9112), written to be read rather than
// to be fast: the whole input in, a verdict out. It is the oracle the response parser is fuzzed
// against, so it shares no code with it and does everything the plain way: one line at a time,
// each rule in its own small function.
//
// What it accepts (RFC 9112 and RFC 9110, narrowed where leash is deliberately stricter; each
// narrowing is marked "leash:"):
//   response      = *( CRLF ) *( interim-response ) final-response
//                   (leash: any number of empty lines before a status line are skipped)
//   status-line   = HTTP-version SP 3DIGIT SP reason-phrase CRLF
//                   (leash: HTTP/1.0 and HTTP/1.1 only; the code is 100..999; 101 is refused,
//                   as leash does not switch protocols)
//   reason-phrase = *( HTAB / SP / VCHAR / obs-text )
//   field-line    = token ":" OWS field-value OWS CRLF, the value of HTAB, SP, VCHAR and
//                   obs-text; no whitespace before the colon; no obs-fold (RFC 9112 5.2 allows
//                   refusing it); every line ends in CRLF (leash: a bare LF is refused).
//   Content-Length = 1*DIGIT, at most 2^64 - 1 (leash: a second Content-Length field is refused
//                   even when it repeats the first, RFC 9110 8.6 would allow it; and as in llhttp
//                   8.1, the whitespace after the digits is SP only)
//   Transfer-Encoding with Content-Length is refused, in any head, whatever its value (RFC
//                   9112 6.3 allows a recipient to treat it as an error; leash does, as a
//                   smuggling shape).
//   body length   (RFC 9112 6.3): none for HEAD, 1xx, 204, 304; chunked when the last transfer
//                   coding is chunked (the Transfer-Encoding fields read as one list, RFC 9110
//                   5.6.1: empty elements ignored); Content-Length; otherwise until the
//                   connection closes.
//   chunk         = chunk-size *( ";" token [ "=" ( token / quoted-string ) ] ) CRLF data CRLF
//                   (leash, as llhttp 8.1: no whitespace around ";" and "=" (RFC 9112 7.1.1
//                   allows BWS), no quoted-pair in a quoted value, and no extension after one
//                   with a token value)
//   last-chunk    = 1*"0" [ chunk-ext ] CRLF, then trailer fields like header fields, then CRLF
//                   (leash: a Content-Length or Transfer-Encoding trailer field is refused;
//                   RFC 9110 6.5.1 says framing fields are not to be processed there)
//   limits        (leash) the status reason phrases, field names and field values (without
//                   leading whitespace) of every head and the trailers count towards
//                   max_header_bytes, their fields towards max_headers, summed over the
//                   interim responses too.
//   keep-alive    HTTP/1.1 unless a Connection field (of any head, interim ones too, or the
//                   trailers) lists "close"; HTTP/1.0 only when one of the final head or the
//                   trailers lists "keep-alive" and none "close"; never after a close-delimited
//                   body. An interim response is followed by the final one whatever its version
//                   or Connection field.
//
// Timing: a rule is applied when the line (or chunk) it concerns is complete. An input that
// ends before the message does is "unfinished": a refusal when the stream ended (eof), else an
// accepted, not yet finished message holding the body bytes so far.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace leash::test::reference {

struct limits {
    std::size_t max_header_bytes = 64 * 1024;
    std::size_t max_headers = 128;
};

struct verdict {
    bool accepted = false;      // no framing error (and, at eof, the message ended)
    bool headers_done = false;  // the final response's head is complete
    bool message_done = false;
    int status = 0;             // of the final response, once its head is complete
    std::string body;           // body bytes, as far as they go
    bool keep_alive = false;    // meaningful once message_done
};

namespace detail {

struct refused {};     // the input breaks a rule
struct unfinished {};  // the input ends before the rule can be checked

inline bool is_digit(char c) { return c >= '0' && c <= '9'; }
inline bool is_hex(char c) { return is_digit(c) || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F'); }
inline int hex_value(char c) { return is_digit(c) ? c - '0' : (c | 0x20) - 'a' + 10; }
inline bool is_vchar(char c) { return c >= 0x21 && c <= 0x7e; }
inline bool is_obs_text(char c) { return static_cast<unsigned char>(c) >= 0x80; }
inline bool is_ws(char c) { return c == ' ' || c == '\t'; }

// tchar (RFC 9110 5.6.2)
inline bool is_tchar(char c)
{
    return is_digit(c) || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z')
           || std::string_view("!#$%&'*+-.^_`|~").find(c) != std::string_view::npos;
}

inline bool is_token(std::string_view s)
{
    if (s.empty())
        return false;
    for (char c : s)
        if (!is_tchar(c))
            return false;
    return true;
}

inline std::string lower(std::string_view s)
{
    std::string out(s);
    for (auto& c : out)
        if (c >= 'A' && c <= 'Z')
            c = static_cast<char>(c - 'A' + 'a');
    return out;
}

inline std::string_view trim_ws(std::string_view s)
{
    while (!s.empty() && is_ws(s.front()))
        s.remove_prefix(1);
    while (!s.empty() && is_ws(s.back()))
        s.remove_suffix(1);
    return s;
}

// The elements of a comma-separated list (RFC 9110 5.6.1), empty ones left out, lowercased.
inline std::vector<std::string> list_elements(std::string_view value)
{
    std::vector<std::string> out;
    while (true) {
        const auto comma = value.find(',');
        const auto element = trim_ws(value.substr(0, comma));
        if (!element.empty())
            out.push_back(lower(element));
        if (comma == std::string_view::npos)
            return out;
        value.remove_prefix(comma + 1);
    }
}

struct field {
    std::string name;  // lowercased
    std::string value; // without surrounding whitespace
    std::string rest;  // what follows the value (whitespace)
};

struct head {
    int major = 0;
    int minor = 0;
    int status = 0;
    std::vector<field> fields;
};

class decoder {
public:
    decoder(std::string_view input, bool head_request, bool eof, limits lim)
        : in_(input), head_request_(head_request), eof_(eof), limits_(lim)
    {
    }

    verdict run()
    {
        try {
            decode_response();
            out_.accepted = true;
        } catch (const refused&) {
            out_.accepted = false;
        } catch (const unfinished&) {
            out_.accepted = !eof_;
            if (eof_ && close_delimited_) {  // the stream end ends the body
                out_.accepted = true;
                out_.message_done = true;
                out_.keep_alive = false;
            }
        }
        return out_;
    }

private:
    // --- the input, a line or a count of bytes at a time ---

    // The next line without its CRLF. A CR anywhere but right before the LF, or an LF
    // without a CR before it, is refused.
    std::string_view next_line()
    {
        const auto rest = in_.substr(pos_);
        const auto lf = rest.find('\n');
        const auto cr = rest.find('\r');
        if (cr != std::string_view::npos && cr < lf && cr + 1 < rest.size() && cr + 1 != lf)
            throw refused{};  // a CR not followed by LF
        if (lf == std::string_view::npos)
            throw unfinished{};
        if (lf == 0 || rest[lf - 1] != '\r')
            throw refused{};  // a bare LF
        pos_ += lf + 1;
        return rest.substr(0, lf - 1);
    }

    // --- heads ---

    void decode_response()
    {
        while (true) {
            skip_empty_lines();
            head h = read_head();
            if (h.status == 101)
                throw refused{};
            if (h.status >= 200) {
                decode_final(h);
                return;
            }
            // interim (1xx): no body; the final response follows, whatever the interim's
            // version or Connection field, but a "close" there still counts (RFC 9112 9.6)
            for (const auto& token : list_of(h, "connection"))
                interim_close_ = interim_close_ || token == "close";
        }
    }

    void skip_empty_lines()
    {
        while (true) {
            const auto rest = in_.substr(pos_);
            if (rest.empty())
                throw unfinished{};
            if (rest[0] != '\r')
                return;
            if (!next_line().empty())
                throw refused{};  // unreachable: a line starting with CR is empty or refused
        }
    }

    head read_head()
    {
        head h;
        read_status_line(next_line(), h);
        while (true) {
            const auto line = next_line();
            if (line.empty())
                break;
            h.fields.push_back(read_field_line(line));
        }
        check_framing_fields(h);
        return h;
    }

    void read_status_line(std::string_view line, head& h)
    {
        // HTTP-version SP 3DIGIT SP reason-phrase
        if (line.size() < 13 || line.substr(0, 5) != "HTTP/" || !is_digit(line[5]) || line[6] != '.'
            || !is_digit(line[7]) || line[8] != ' ' || !is_digit(line[9]) || !is_digit(line[10])
            || !is_digit(line[11]) || line[12] != ' ')
            throw refused{};
        h.major = line[5] - '0';
        h.minor = line[7] - '0';
        if (h.major != 1 || h.minor > 1)
            throw refused{};
        h.status = (line[9] - '0') * 100 + (line[10] - '0') * 10 + (line[11] - '0');
        if (h.status < 100)
            throw refused{};
        const auto reason = line.substr(13);
        for (char c : reason)
            if (!is_ws(c) && !is_vchar(c) && !is_obs_text(c))
                throw refused{};
        count_bytes(reason.size());
    }

    field read_field_line(std::string_view line)
    {
        if (is_ws(line.front()))
            throw refused{};  // obs-fold
        const auto colon = line.find(':');
        if (colon == std::string_view::npos)
            throw refused{};
        const auto name = line.substr(0, colon);
        if (!is_token(name))
            throw refused{};
        auto value = line.substr(colon + 1);
        for (char c : value)
            if (!is_ws(c) && !is_vchar(c) && !is_obs_text(c))
                throw refused{};
        while (!value.empty() && is_ws(value.front()))
            value.remove_prefix(1);
        count_bytes(name.size() + value.size());
        if (++field_count_ > limits_.max_headers)
            throw refused{};
        const auto trimmed = trim_ws(value);
        return {lower(name), std::string(trimmed), std::string(value.substr(trimmed.size()))};
    }

    void count_bytes(std::size_t n)
    {
        header_bytes_ += n;
        if (header_bytes_ > limits_.max_header_bytes)
            throw refused{};
    }

    // Content-Length and Transfer-Encoding, checked in every head (interim ones too).
    static void check_framing_fields(const head& h)
    {
        std::size_t lengths = 0;
        bool transfer_encoding = false;
        for (const auto& f : h.fields) {
            if (f.name == "content-length") {
                ++lengths;
                parse_length(f.value);
                if (f.rest.find('\t') != std::string::npos)
                    throw refused{};  // leash (llhttp 8.1): only SP after the digits
            }
            transfer_encoding = transfer_encoding || f.name == "transfer-encoding";
        }
        if (lengths > 1 || (lengths == 1 && transfer_encoding))
            throw refused{};
    }

    static std::uint64_t parse_length(std::string_view value)
    {
        if (value.empty())
            throw refused{};
        std::uint64_t n = 0;
        for (char c : value) {
            if (!is_digit(c))
                throw refused{};
            const auto digit = static_cast<std::uint64_t>(c - '0');
            if (n > (UINT64_MAX - digit) / 10)
                throw refused{};
            n = n * 10 + digit;
        }
        return n;
    }

    // A transfer-coding without its parameters.
    static std::string_view coding_name(std::string_view coding) { return trim_ws(coding.substr(0, coding.find(';'))); }

    static std::vector<std::string> list_of(const head& h, std::string_view name)
    {
        std::vector<std::string> out;
        for (const auto& f : h.fields)
            if (f.name == name)
                for (auto& e : list_elements(f.value))
                    out.push_back(std::move(e));
        return out;
    }

    // --- the final response ---

    void decode_final(const head& h)
    {
        out_.headers_done = true;
        out_.status = h.status;
        const auto codings = list_of(h, "transfer-encoding");
        std::optional<std::uint64_t> length;
        for (const auto& f : h.fields)
            if (f.name == "content-length")
                length = parse_length(f.value);
        const bool no_body = head_request_ || h.status == 204 || h.status == 304;
        if (no_body) {
            // (nothing)
        } else if (!codings.empty() && coding_name(codings.back()) == "chunked") {
            read_chunked_body();
        } else if (!codings.empty() || !length) {
            close_delimited_ = true;
            out_.body.append(in_.substr(pos_));
            throw unfinished{};  // only the end of the stream ends it
        } else {
            read_exactly(*length);
        }
        out_.message_done = true;
        out_.keep_alive = keep_alive(h);
    }

    bool keep_alive(const head& h) const
    {
        bool close = interim_close_;
        bool keep = false;
        for (const head* part : {&h, &trailers_})
            for (const auto& token : list_of(*part, "connection")) {
                close = close || token == "close";
                keep = keep || token == "keep-alive";
            }
        return h.minor == 1 ? !close : keep && !close;
    }

    void read_exactly(std::uint64_t n)
    {
        const auto available = in_.size() - pos_;
        if (available < n) {
            out_.body.append(in_.substr(pos_));
            pos_ = in_.size();
            throw unfinished{};
        }
        out_.body.append(in_.substr(pos_, static_cast<std::size_t>(n)));
        pos_ += static_cast<std::size_t>(n);
    }

    // --- chunked ---

    void read_chunked_body()
    {
        while (true) {
            const auto size = read_chunk_size_line();
            if (size == 0)
                break;
            read_exactly(size);
            if (in_.size() - pos_ < 2) {
                if (in_.size() - pos_ == 1 && in_[pos_] != '\r')
                    throw refused{};
                throw unfinished{};
            }
            if (in_.substr(pos_, 2) != "\r\n")
                throw refused{};
            pos_ += 2;
        }
        while (true) {  // the trailer section
            const auto line = next_line();
            if (line.empty())
                return;
            trailers_.fields.push_back(read_field_line(line));
            const auto& name = trailers_.fields.back().name;
            if (name == "content-length" || name == "transfer-encoding")
                throw refused{};  // leash: framing fields in trailers (RFC 9110 6.5.1)
        }
    }

    // chunk-size [ chunk-ext ] CRLF; returns the size.
    std::uint64_t read_chunk_size_line()
    {
        const auto line = next_line();
        std::size_t i = 0;
        std::uint64_t size = 0;
        while (i < line.size() && is_hex(line[i])) {
            if (size > (UINT64_MAX >> 4))
                throw refused{};
            size = size * 16 + static_cast<std::uint64_t>(hex_value(line[i]));
            ++i;
        }
        if (i == 0)
            throw refused{};
        check_chunk_extensions(line.substr(i));
        return size;
    }

    static void check_chunk_extensions(std::string_view ext)
    {
        while (!ext.empty()) {
            if (ext.front() != ';')
                throw refused{};
            ext.remove_prefix(1);
            ext.remove_prefix(token_length(ext, true));
            if (!ext.empty() && ext.front() == '=') {
                ext.remove_prefix(1);
                if (!ext.empty() && ext.front() == '"') {
                    ext.remove_prefix(quoted_string_length(ext));
                } else {
                    ext.remove_prefix(token_length(ext, true));
                    if (!ext.empty())
                        throw refused{};  // leash: a token value ends the line
                }
            }
        }
    }

    // The length of the token at the start of s (refused if there is none and one is required).
    static std::size_t token_length(std::string_view s, bool required)
    {
        std::size_t n = 0;
        while (n < s.size() && is_tchar(s[n]))
            ++n;
        if (n == 0 && required)
            throw refused{};
        return n;
    }

    // The length of the quoted-string at the start of s, quotes included.
    static std::size_t quoted_string_length(std::string_view s)
    {
        for (std::size_t n = 1; n < s.size(); ++n) {
            const char c = s[n];
            if (c == '"')
                return n + 1;
            if (c == '\\')
                throw refused{};  // leash: no quoted-pair
            if (!is_ws(c) && c != 0x21 && !(c >= 0x23 && c <= 0x7e) && !is_obs_text(c))
                throw refused{};
        }
        throw refused{};  // no closing quote on the line
    }

    std::string_view in_;
    std::size_t pos_ = 0;
    bool head_request_;
    bool eof_;
    limits limits_;
    std::size_t header_bytes_ = 0;
    std::size_t field_count_ = 0;
    bool close_delimited_ = false;
    bool interim_close_ = false;  // an interim response listed "close"
    head trailers_;
    verdict out_;
};

} // namespace detail

// Decodes one response from `input`: the response to a HEAD request when `head_request`;
// `eof` when the connection closed after the input.
inline verdict decode(std::string_view input, bool head_request, bool eof, limits lim = {})
{
    return detail::decoder(input, head_request, eof, lim).run();
}

} // namespace leash::test::reference
