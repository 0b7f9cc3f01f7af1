#include <leash/url.hpp>

#include <catch2/catch.hpp>

#include <string>
#include <string_view>
#include <system_error>

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

TEST_CASE("url: the target splits into its path and its query")
{
    const auto u = url::parse("http://h/a/b%20c?x=1&y=%2F#frag");
    CHECK(u.path() == "/a/b%20c");
    CHECK(u.query() == "x=1&y=%2F");
    CHECK(url::parse("http://h").path() == "/");
    CHECK(url::parse("http://h").query().empty());
    CHECK(url::parse("http://h?q").path() == "/");
    CHECK(url::parse("http://h?q").query() == "q");
    CHECK(url::parse("http://h/p?").query().empty());
    CHECK(url::parse("http://h/p?a?b").query() == "a?b");
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

namespace {

// The error of parsing text, which must fail.
std::error_code parse_error(std::string_view text)
{
    std::error_code ec;
    CAPTURE(text);
    CHECK_FALSE(url::parse(text, ec));
    return ec;
}

// ec says the URL is invalid for the reason `why`, and its message contains `hint`.
void check_reason(std::string_view text, leash::error why, std::string_view hint)
{
    CAPTURE(text);
    const auto ec = parse_error(text);
    CHECK(ec == leash::make_error_code(why));
    CHECK(ec == leash::error::invalid_url);
    CHECK(ec == leash::condition::invalid_request);
    CHECK_THAT(ec.message(), Catch::Contains(std::string(hint)));
}

} // namespace

TEST_CASE("url: a relative URL is refused with a pointer to leash::client's base URL")
{
    for (const char* text : {"/v1/items", "v1/items?x=1", "example.com/a", "http//h/", "://h"})
        check_reason(text, leash::error::url_relative, "use leash::client with a base URL");
}

TEST_CASE("url: a space, control byte or non-ASCII byte is refused with a hint to percent-encode it")
{
    for (const char* text : {"http://h/a b", "http://h/a\tb", "http://h/\x7f", "http://ex\xc3\xa9.com/"})
        check_reason(text, leash::error::url_bad_character, "percent-encode it");
    check_reason(std::string_view("http://h/a\0b", 12), leash::error::url_bad_character, "percent-encode it");
}

TEST_CASE("url: user information is refused with a hint to send credentials in a header")
{
    for (const char* text : {"http://user@h/", "https://user:secret@h:8443/x"})
        check_reason(text, leash::error::url_userinfo, "send credentials in a header");
}

TEST_CASE("url: a missing host is named as the reason")
{
    for (const char* text : {"http://", "http:///path", "http://:8080/", "https://?q"})
        check_reason(text, leash::error::url_no_host, "no host");
}

TEST_CASE("url: a character a host name cannot have is named as the reason")
{
    for (const char* text : {"http://a!b/", "http://a,b/", "http://h]/"})
        check_reason(text, leash::error::url_bad_host, "the host has a character");
}

TEST_CASE("url: a bad port is refused with the range a port must be in")
{
    for (const char* text : {"http://h:/", "http://h:0/", "http://h:65536/", "http://h:12a/", "http://h:-1/",
                             "http://h:+80/", "http://h:000080/", "http://[::1]:/", "http://[::1]:99999/"})
        check_reason(text, leash::error::url_bad_port, "a decimal number from 1 to 65535");
}

TEST_CASE("url: a bracketed host that is not an IPv6 address is refused with how to write one")
{
    for (const char* text : {"http://[::1/", "http://[]/", "http://[::1::2]/", "http://[1.2.3.4]/",
                             "http://[fe80::1%25eth0]/", "http://[::1]x/", "http://[:C.]:39/"})
        check_reason(text, leash::error::url_bad_ipv6, "not an IPv6 address");
}

TEST_CASE("url: the throwing overload's message says why the URL is invalid")
{
    try {
        (void)url::parse("/v1/items");
        FAIL("no exception");
    } catch (const std::system_error& e) {
        CHECK(e.code() == leash::error::url_relative);
        CHECK_THAT(e.what(), Catch::Contains("/v1/items") && Catch::Contains("base URL"));
    }
}

TEST_CASE("url: a reason for an invalid URL equals no other leash error")
{
    const std::error_code bad_port = leash::error::url_bad_port;
    CHECK(bad_port != leash::error::url_bad_host);
    CHECK(bad_port != leash::error::invalid_header_value);
    CHECK(bad_port != leash::error::unsupported_scheme);
    CHECK(bad_port != leash::condition::timeout);
    const std::error_code invalid_url = leash::error::invalid_url;
    CHECK(invalid_url != leash::error::url_bad_port);  // the reason is more than "invalid URL"
    CHECK(std::make_error_code(std::errc::invalid_argument) != leash::error::invalid_url);
}
