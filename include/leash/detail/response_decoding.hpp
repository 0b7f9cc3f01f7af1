// Whether a response is decoded, without I/O: asking for compressed responses, and choosing
// the coding to decode from a response's fields (see leash/decoding_options.hpp).
#pragma once

#include <leash/decoding_options.hpp>
#include <leash/detail/content_decoder.hpp>
#include <leash/headers.hpp>
#include <leash/request.hpp>

#include <optional>
#include <string_view>

namespace leash::detail {

// Whether `req` is sent asking for a compressed response that is decoded: its own choice,
// else the transport's, and never when it set its own Accept-Encoding.
inline bool wants_decoding(const request& req, const decoding_options& o) noexcept
{
    return req.decompress.value_or(o.decompress) && !req.headers.contains("Accept-Encoding");
}

// The coding to decode a response body in, when it has one Content-Encoding field naming a
// coding this build decodes. The fields describing the coded bytes (Content-Encoding,
// Content-Length) are then removed from `h`.
inline std::optional<content_coding> take_content_coding(headers& h)
{
    const auto fields = h.get_all("Content-Encoding");
    if (fields.size() != 1)
        return std::nullopt;
    const auto coding = parse_content_coding(fields.front());
    if (coding) {
        h.erase("Content-Encoding");
        h.erase("Content-Length");
    }
    return coding;
}

inline decode_limits limits_of(const decoding_options& o) noexcept
{
    return {o.max_decoded_bytes, o.max_ratio, o.ratio_grace_bytes};
}

// The name a decoded coding is reported by (response::decoded_content_encoding).
inline std::string_view coding_name(content_coding c) noexcept
{
    switch (c) {
    case content_coding::gzip: return "gzip";
    case content_coding::deflate: return "deflate";
    case content_coding::br: return "br";
    case content_coding::zstd: return "zstd";
    }
    return "";
}

} // namespace leash::detail
