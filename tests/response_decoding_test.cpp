// Whether a response is decoded (detail/response_decoding.hpp), without sockets: asking for
// compressed responses, and the fields of a response that is decoded.
#include <leash/detail/response_decoding.hpp>

#include <catch2/catch.hpp>

using leash::detail::content_coding;
using leash::detail::take_content_coding;
using leash::detail::wants_decoding;

TEST_CASE("response decoding: the request's choice wins over the transport's", "[decoding]")
{
    leash::decoding_options on;
    on.decompress = true;
    const leash::decoding_options off;
    auto req = leash::request::get("http://h/");
    CHECK_FALSE(wants_decoding(req, off));
    CHECK(wants_decoding(req, on));
    req.decompress = false;
    CHECK_FALSE(wants_decoding(req, on));
    req.decompress = true;
    CHECK(wants_decoding(req, off));
}

TEST_CASE("response decoding: a request with its own Accept-Encoding is never decoded", "[decoding]")
{
    leash::decoding_options on;
    on.decompress = true;
    auto req = leash::request::get("http://h/");
    req.headers.set("accept-encoding", "gzip");
    req.decompress = true;
    CHECK_FALSE(wants_decoding(req, on));
}

TEST_CASE("response decoding: a decoded response loses Content-Encoding and Content-Length", "[decoding]")
{
    leash::headers h{{"Content-Encoding", "gzip"}, {"Content-Length", "120"}, {"Content-Type", "text/plain"}};
    CHECK(take_content_coding(h) == content_coding::gzip);
    CHECK_FALSE(h.contains("Content-Encoding"));
    CHECK_FALSE(h.contains("Content-Length"));
    CHECK(h.get("Content-Type") == "text/plain");
}

TEST_CASE("response decoding: unknown codings, lists and repeated fields are left as they came", "[decoding]")
{
    for (const auto* value : {"compress", "gzip, deflate", "identity", ""}) {
        CAPTURE(value);
        leash::headers h{{"Content-Encoding", value}, {"Content-Length", "7"}};
        CHECK_FALSE(take_content_coding(h));
        CHECK(h.get("Content-Encoding") == value);
        CHECK(h.get("Content-Length") == "7");
    }
    leash::headers twice{{"Content-Encoding", "gzip"}, {"Content-Encoding", "gzip"}};
    CHECK_FALSE(take_content_coding(twice));
    leash::headers none{{"Content-Length", "7"}};
    CHECK_FALSE(take_content_coding(none));
}
