#include <leash/url.hpp>

#include <catch2/catch.hpp>

using leash::url;

TEST_CASE("url: parses scheme, host, port and target")
{
    auto u = url::parse("http://Example.COM:8080/a/b?x=1#frag");
    CHECK(u.scheme() == "http");
    CHECK(u.host() == "example.com");
    CHECK(u.port() == 8080);
    CHECK(u.target() == "/a/b?x=1");
    CHECK(u.authority() == "example.com:8080");
}

TEST_CASE("url: fills in the default port and the root target")
{
    CHECK(url::parse("http://h").port() == 80);
    CHECK(url::parse("HTTPS://h").port() == 443);
    CHECK(url::parse("http://h").target() == "/");
    CHECK(url::parse("http://h?q").target() == "/?q");
    CHECK(url::parse("http://h:80/").authority() == "h");
}

TEST_CASE("url: accepts bracketed IPv6 literals")
{
    auto u = url::parse("http://[::1]:9000/x");
    CHECK(u.host() == "::1");
    CHECK(u.is_ipv6_literal());
    CHECK(u.port() == 9000);
    CHECK(u.authority() == "[::1]:9000");
}

TEST_CASE("url: an IPv6 literal must be an address, and its hex digits are lower-cased")
{
    CHECK(url::parse("http://[2001:DB8::A]/").host() == "2001:db8::a");
    for (const char* text : {"http://[:C.]:39/", "http://[::1::2]/", "http://[12345::]/", "http://[1.2.3.4]/"}) {
        std::error_code ec;
        CAPTURE(text);
        CHECK_FALSE(url::parse(text, ec));
        CHECK(ec == leash::error::invalid_url);
    }
}

TEST_CASE("url: rejects malformed input with invalid_url")
{
    for (const char* text : {"", "http://", "http:///path", "http//h/", "://h", "http://h:/", "http://h:0/",
                             "http://h:65536/", "http://h:12a/", "http://user@h/", "http://h /",
                             "http://h/a b", "http://h/\r\nX: y", "http://[::1/", "http://h\x01/",
                             "http://ex\xc3\xa9.com/", "http://h/a\tb", "http://h/\x7f", "http://h/a\nb"}) {
        std::error_code ec;
        CAPTURE(text);
        CHECK_FALSE(url::parse(text, ec));
        CHECK(ec == leash::error::invalid_url);
    }
}

TEST_CASE("url: rejects schemes other than http and https")
{
    std::error_code ec;
    CHECK_FALSE(url::parse("ftp://h/", ec));
    CHECK(ec == leash::error::unsupported_scheme);
    CHECK(ec == leash::condition::invalid_request);
}

TEST_CASE("url: the throwing overload reports the error code")
{
    try {
        (void)url::parse("nope");
        FAIL("no exception");
    } catch (const std::system_error& e) {
        CHECK(e.code() == leash::error::invalid_url);
    }
}

TEST_CASE("url: a NUL anywhere is refused")
{
    for (std::string text : {std::string("http://h/a\0b", 12), std::string("http://h\0/", 10)}) {
        std::error_code ec;
        CHECK_FALSE(url::parse(text, ec));
        CHECK(ec == leash::error::invalid_url);
    }
}
