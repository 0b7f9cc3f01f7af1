/// \file
/// leash/multipart.hpp - a multipart/form-data request body (RFC 7578): fields and files.
#pragma once

#include <leash/body_source.hpp>
#include <leash/request.hpp>

#include <asio.hpp>

#include <algorithm>
#include <cstdint>
#include <cstring>
#include <memory>
#include <optional>
#include <random>
#include <string>
#include <string_view>
#include <utility>
#include <variant>
#include <vector>

namespace leash {

/// A multipart/form-data request body (RFC 7578): fields and files.
///
/// \code
/// leash::multipart_form form;
/// form.add_field("purpose", "fine-tune");
/// form.add_file("file", "data.jsonl", std::move(jsonl), "application/jsonl");
/// auto req = leash::request::post(url, "");
/// std::move(form).attach_to(req);   // Content-Type with the boundary, and the body
/// \endcode
///
/// Names and file names are written in quotes as the HTML standard's form encoding does:
/// CR, LF and '"' become %0D, %0A and %22, so no name can end its field or its part. The
/// boundary is random (32 characters from 64, 192 bits); parts held in memory are checked
/// not to contain it, and a new one is drawn if one does. A part read from a body_source
/// cannot be checked: the boundary's randomness is what keeps it out.
///
/// The body has a known length (sent with Content-Length) when every part's length is known,
/// and can be sent again (followed through a 307, retried) when every source can rewind.
///
/// \threadsafety
/// A multipart_form is a plain value, used from one thread at a time.
///
/// \lifetime
/// to_body_source() and attach_to() consume it.
class multipart_form {
public:
    /// An empty form with a fresh random boundary.
    multipart_form() : boundary_(random_boundary()) {}

    /// A text field.
    multipart_form& add_field(std::string_view name, std::string value)
    {
        return add_part(disposition(name, std::nullopt), std::move(value));
    }
    /// A file held in memory.
    multipart_form& add_file(std::string_view name, std::string_view file_name, std::string content,
                             std::string_view content_type = "application/octet-stream")
    {
        return add_part(disposition(name, file_name) + "Content-Type: " + clean(content_type) + "\r\n",
                        std::move(content));
    }
    /// A file read from `source` while the request is sent.
    multipart_form& add_file(std::string_view name, std::string_view file_name, body_source source,
                             std::string_view content_type = "application/octet-stream")
    {
        return add_part(disposition(name, file_name) + "Content-Type: " + clean(content_type) + "\r\n",
                        std::move(source));
    }

    /// "multipart/form-data; boundary=..."
    std::string content_type() const { return "multipart/form-data; boundary=" + boundary_; }
    /// The boundary between the parts (random; see the class's description).
    const std::string& boundary() const noexcept { return boundary_; }

    /// The whole body as one string, when every part is held in memory.
    std::optional<std::string> to_string() const;
    /// The body as a source: with a length when every part's is known, rewindable when every
    /// part is.
    body_source to_body_source() &&;
    /// Sets req's Content-Type and body (a string when every part is in memory, else a source).
    void attach_to(request& req) &&;

private:
    using content = std::variant<std::string, body_source>;
    struct part {
        std::string head;  // the part's fields, each ending in CRLF
        content body;
    };

    static std::string random_boundary()
    {
        static constexpr char alphabet[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
        std::random_device device;
        std::string b = "leash-";
        for (int i = 0; i < 32; ++i)
            b += alphabet[device() % 64];
        return b;
    }

    // The HTML standard's escaping of a name in quotes; other bytes are kept (UTF-8 names pass).
    static std::string quoted(std::string_view text)
    {
        std::string out = "\"";
        for (const char c : text) {
            if (c == '\r')
                out += "%0D";
            else if (c == '\n')
                out += "%0A";
            else if (c == '"')
                out += "%22";
            else
                out += c;
        }
        return out + '"';
    }

    // A content type with CR and LF removed, so it stays one field.
    static std::string clean(std::string_view text)
    {
        std::string out;
        for (const char c : text)
            if (c != '\r' && c != '\n')
                out += c;
        return out;
    }

    static std::string disposition(std::string_view name, std::optional<std::string_view> file_name)
    {
        std::string d = "Content-Disposition: form-data; name=" + quoted(name);
        if (file_name)
            d += "; filename=" + quoted(*file_name);
        return d + "\r\n";
    }

    multipart_form& add_part(std::string head, content body)
    {
        parts_.push_back(part{std::move(head), std::move(body)});
        while (boundary_in_parts())
            boundary_ = random_boundary();
        return *this;
    }

    // Whether the boundary occurs in a part's fields or in a content held in memory.
    bool boundary_in_parts() const
    {
        for (const auto& p : parts_) {
            const auto* text = std::get_if<std::string>(&p.body);
            if (p.head.find(boundary_) != std::string::npos || (text && text->find(boundary_) != std::string::npos))
                return true;
        }
        return false;
    }

    // The delimiter and fields that come before part i's content, or the close after the last.
    std::string framing_before(std::size_t i) const
    {
        std::string out = i == 0 ? "--" : "\r\n--";
        out += boundary_;
        if (i == parts_.size())
            return out + "--\r\n";
        return out + "\r\n" + parts_[i].head + "\r\n";
    }

    struct stream_state;
    static asio::awaitable<body_source::read_result> read_next(std::shared_ptr<stream_state> state,
                                                               asio::mutable_buffer out);

    std::string boundary_;
    std::vector<part> parts_;
};

/// \cond LEASH_INTERNAL
// The body as a sequence of pieces: framing strings and part contents.
struct multipart_form::stream_state {
    std::vector<content> pieces;
    std::size_t index = 0;   // the piece being read
    std::size_t offset = 0;  // within a string piece
};
/// \endcond

inline std::optional<std::string> multipart_form::to_string() const
{
    std::string out;
    for (std::size_t i = 0; i < parts_.size(); ++i) {
        const auto* text = std::get_if<std::string>(&parts_[i].body);
        if (!text)
            return std::nullopt;
        out += framing_before(i);
        out += *text;
    }
    return out + framing_before(parts_.size());
}

inline asio::awaitable<body_source::read_result> multipart_form::read_next(std::shared_ptr<stream_state> state,
                                                                          asio::mutable_buffer out)
{
    while (state->index < state->pieces.size()) {
        auto& piece = state->pieces[state->index];
        if (auto* text = std::get_if<std::string>(&piece)) {
            const auto n = std::min(out.size(), text->size() - state->offset);
            std::memcpy(out.data(), text->data() + state->offset, n);
            state->offset += n;
            if (state->offset == text->size()) {
                ++state->index;
                state->offset = 0;
            }
            if (n > 0 || out.size() == 0)
                co_return body_source::read_result{std::error_code{}, n};
            continue;
        }
        auto [ec, n] = co_await std::get<body_source>(piece).read(out);
        if (ec || n > 0)
            co_return body_source::read_result{ec, n};
        ++state->index;  // this source ended
    }
    co_return body_source::read_result{std::error_code{}, 0};
}

inline body_source multipart_form::to_body_source() &&
{
    auto state = std::make_shared<stream_state>();
    std::optional<std::uint64_t> length = 0;
    bool rewindable = true;
    for (std::size_t i = 0; i < parts_.size(); ++i) {
        std::string framing = framing_before(i);
        if (length)
            *length += framing.size();
        state->pieces.emplace_back(std::move(framing));
        if (auto* text = std::get_if<std::string>(&parts_[i].body)) {
            if (length)
                *length += text->size();
            state->pieces.emplace_back(std::move(*text));
            continue;
        }
        auto& source = std::get<body_source>(parts_[i].body);
        if (!source.length)
            length.reset();
        else if (length)
            *length += *source.length;
        rewindable = rewindable && static_cast<bool>(source.rewind);
        state->pieces.emplace_back(std::move(source));
    }
    std::string close = framing_before(parts_.size());
    if (length)
        *length += close.size();
    state->pieces.emplace_back(std::move(close));

    body_source s;
    s.length = length;
    s.read = [state](asio::mutable_buffer out) { return read_next(state, out); };
    if (rewindable)
        s.rewind = [state] {
            for (auto& piece : state->pieces)
                if (auto* source = std::get_if<body_source>(&piece); source && !source->rewind())
                    return false;
            state->index = 0;
            state->offset = 0;
            return true;
        };
    return s;
}

inline void multipart_form::attach_to(request& req) &&
{
    req.headers.set("Content-Type", content_type());
    if (auto text = to_string())
        req.body = std::move(*text);
    else
        req.source = std::move(*this).to_body_source();
}

} // namespace leash
