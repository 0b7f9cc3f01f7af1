/// \file
/// leash/response.hpp - what came back: the final status, the head's fields, and the body.
#pragma once

#include <leash/body.hpp>
#include <leash/headers.hpp>

#include <cstddef>
#include <string>

namespace leash {

/// What came back: the final status, the head's fields, and the body.
///
/// Interim 1xx responses are consumed by the transport and never appear here.
///
/// \lifetime
/// The body owns the connection until it is read to its end, closed or destroyed (see
/// leash::body); a response is move-only because its body is.
struct response {
    /// The final status code, e.g. 200.
    int status = 0;
    /// The reason phrase of the status line, as the server sent it (may be empty).
    std::string reason;
    /// The major HTTP version of the status line (1).
    int version_major = 1;
    /// The minor HTTP version of the status line (0 or 1).
    int version_minor = 1;
    /// The fields of the response head.
    leash::headers headers;
    /// The body, which owns the connection (see leash::body).
    leash::body body;
    /// The URL of the request this response answers: the request's own, or with leash::client
    /// following redirects, the last hop's (with the fragment RFC 9110 section 10.2.2 gives it).
    std::string url;
    /// The Content-Encoding decoded while the body is read (e.g. "gzip"), whose field and
    /// Content-Length were removed from `headers`; empty when the body is as it came (see
    /// leash/decoding_options.hpp).
    std::string decoded_content_encoding;
    /// Redirects followed to get this response (leash::client; 0 from a transport).
    std::size_t redirects = 0;
};

} // namespace leash
