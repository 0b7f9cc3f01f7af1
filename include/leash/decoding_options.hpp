/// \file
/// leash/decoding_options.hpp - compressed responses: whether to ask for them, and the bounds
/// on what a body may decode to.
#pragma once

#include <cstdint>

namespace leash {

/// Compressed responses: whether to ask for them, and the bounds on what a body may decode to.
///
/// Off by default: no Accept-Encoding is sent unless asked for (LLM streams stay identity).
/// With decompress on (for the transport, or request::decompress for one request), a request
/// is sent with "Accept-Encoding" naming the codings this build decodes (gzip and deflate;
/// br and zstd when built with libbrotli and libzstd, see the README), and a response whose
/// Content-Encoding names one of them is decoded as its body is read, piece by piece (an
/// sse::reader over a gzip stream yields each event as its bytes arrive). The response then
/// loses its Content-Encoding and Content-Length fields, which describe the coded bytes on
/// the wire, and says in response::decoded_content_encoding what was decoded. A response
/// with no body (HEAD, 204, 304, an empty body) is left as it came, as is one whose coding is
/// unknown or a list of several.
///
/// A request that sets its own Accept-Encoding gets the bytes as they came, whatever this
/// says: the caller asked to handle them.
///
/// \errors
/// Errors while reading a decoded body: error::decoding_failed (invalid data),
/// error::decoding_truncated (the body ended inside the coded stream),
/// error::decompression_ratio_exceeded (a decompression bomb), error::body_too_large (over
/// max_decoded_bytes, or over async_read_all's limit, which counts decoded bytes). A body that
/// still holds its connection then closes it; one that arrived whole with its head gave the
/// connection back already (its HTTP framing was sound).
///
/// \par Memory
/// A decoded body holds its codec's state and a 16 KiB buffer while it is read: about
/// 50 KiB for gzip and deflate; for br and zstd up to the window the sender chose (zstd frames
/// needing more than 8 MiB are refused, as RFC 9659 says; brotli's window is at most 16 MiB).
struct decoding_options {
    /// Ask for compressed responses and decode them.
    bool decompress = false;
    /// Decoded bytes one body may produce, however it is read. Default 1 GiB.
    std::uint64_t max_decoded_bytes = std::uint64_t{1} << 30;
    /// A body may not decode to more than max_ratio times its coded bytes so far, once it has
    /// decoded ratio_grace_bytes. Ordinary text and JSON compress 3 to 20 times; a bomb (1 MiB
    /// of gzip that inflates to 1 GiB) is stopped after about ratio_grace_bytes.
    std::uint64_t max_ratio = 100;
    /// Decoded bytes a body may produce before max_ratio applies. Default 1 MiB.
    std::uint64_t ratio_grace_bytes = std::uint64_t{1} << 20;
};

} // namespace leash
