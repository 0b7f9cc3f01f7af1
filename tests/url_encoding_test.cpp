// Building URLs and credentials without hand-written encoding: percent-encoding of query
// components and path segments (RFC 3986 sections 2 and 3.3), the query builder, and Basic
// credentials (RFC 7617).
#include <leash/basic_auth.hpp>
#include <leash/url.hpp>
#include <leash/url_encoding.hpp>

#include <catch2/catch.hpp>

#include <stdexcept>
#include <string>

using leash::percent_encode;
using leash::percent_encode_path_segment;
using leash::query_builder;

TEST_CASE("url encoding: unreserved characters are kept as they are", "[url_encoding]")
{
    const std::string unreserved = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-._~";
    CHECK(percent_encode(unreserved) == unreserved);
    CHECK(percent_encode_path_segment(unreserved) == unreserved);
}

TEST_CASE("url encoding: a query component encodes every other byte as %XX in upper-case hex", "[url_encoding]")
{
    CHECK(percent_encode("a b") == "a%20b");
    CHECK(percent_encode("1+1=2") == "1%2B1%3D2");
    CHECK(percent_encode("a&b#c?d/e") == "a%26b%23c%3Fd%2Fe");
    CHECK(percent_encode("100%") == "100%25");
    CHECK(percent_encode("!$'()*,;:@[]") == "%21%24%27%28%29%2A%2C%3B%3A%40%5B%5D");
    CHECK(percent_encode(std::string("\0\x1f\x7f", 3)) == "%00%1F%7F");
    CHECK(percent_encode("") == "");
}

TEST_CASE("url encoding: UTF-8 text is encoded byte by byte (RFC 3986 section 2.5)", "[url_encoding]")
{
    CHECK(percent_encode("café") == "caf%C3%A9");
    CHECK(percent_encode("你好") == "%E4%BD%A0%E5%A5%BD");
    CHECK(percent_encode("\xff") == "%FF");
}

TEST_CASE("url encoding: a path segment keeps pchar and encodes what would end or split it", "[url_encoding]")
{
    CHECK(percent_encode_path_segment("a:b@c!$&'()*+,;=") == "a:b@c!$&'()*+,;=");
    CHECK(percent_encode_path_segment("a/b") == "a%2Fb");
    CHECK(percent_encode_path_segment("a?b#c") == "a%3Fb%23c");
    CHECK(percent_encode_path_segment("50% off") == "50%25%20off");
    CHECK(percent_encode_path_segment("résumé.pdf") == "r%C3%A9sum%C3%A9.pdf");
}

TEST_CASE("url encoding: a path segment of one or two dots is encoded, not left as a dot segment", "[url_encoding]")
{
    CHECK(percent_encode_path_segment(".") == "%2E");
    CHECK(percent_encode_path_segment("..") == "%2E%2E");
    CHECK(percent_encode_path_segment("...") == "...");
    CHECK(percent_encode_path_segment(".hidden") == ".hidden");
}

TEST_CASE("url encoding: an encoded segment or query parses back as a URL", "[url_encoding]")
{
    const std::string every_byte = [] {
        std::string s;
        for (int c = 0; c < 256; ++c)
            s += static_cast<char>(c);
        return s;
    }();
    const auto u = leash::url::parse("https://h/" + percent_encode_path_segment(every_byte)
                                     + query_builder().add(every_byte, every_byte).append_to(""));
    CHECK(u.path().find('/', 1) == std::string_view::npos);
    CHECK(u.query().find('&') == std::string_view::npos);
}

TEST_CASE("url encoding: the query builder joins encoded pairs with & in the order added", "[url_encoding]")
{
    query_builder q;
    CHECK(q.empty());
    q.add("a", "1").add("b", "x y").add("a", "2").add("empty", "").add("k=v", "&");
    CHECK(q.str() == "a=1&b=x%20y&a=2&empty=&k%3Dv=%26");
    CHECK_FALSE(q.empty());
}

TEST_CASE("url encoding: append_to starts a query, extends one, and keeps a fragment last", "[url_encoding]")
{
    const auto q = query_builder().add("a", "1").add("b", "x y");
    CHECK(q.append_to("https://h/p") == "https://h/p?a=1&b=x%20y");
    CHECK(q.append_to("https://h/p?z=0") == "https://h/p?z=0&a=1&b=x%20y");
    CHECK(q.append_to("https://h/p?") == "https://h/p?a=1&b=x%20y");
    CHECK(q.append_to("https://h/p?z=0&") == "https://h/p?z=0&a=1&b=x%20y");
    CHECK(q.append_to("https://h/p#top") == "https://h/p?a=1&b=x%20y#top");
    CHECK(q.append_to("https://h/p?z#top?x") == "https://h/p?z&a=1&b=x%20y#top?x");
    CHECK(q.append_to("/relative") == "/relative?a=1&b=x%20y");
}

TEST_CASE("url encoding: an empty query builder leaves the URL unchanged", "[url_encoding]")
{
    CHECK(query_builder().append_to("https://h/p#f") == "https://h/p#f");
    CHECK(query_builder().str().empty());
}

TEST_CASE("basic auth: the examples of RFC 7617", "[basic_auth]")
{
    CHECK(leash::basic_auth("Aladdin", "open sesame") == "Basic QWxhZGRpbjpvcGVuIHNlc2FtZQ==");
    CHECK(leash::basic_auth("test", "123\xc2\xa3") == "Basic dGVzdDoxMjPCow==");  // "123£" in UTF-8
}

TEST_CASE("basic auth: an empty user name or password is allowed, a ':' in the password too", "[basic_auth]")
{
    CHECK(leash::basic_auth("", "") == "Basic Og==");
    CHECK(leash::basic_auth("u", "") == "Basic dTo=");
    CHECK(leash::basic_auth("u", "a:b") == "Basic dTphOmI=");
}

TEST_CASE("basic auth: a ':' in the user name or a control character is refused", "[basic_auth]")
{
    CHECK_THROWS_AS(leash::basic_auth("a:b", "p"), std::invalid_argument);
    CHECK_THROWS_AS(leash::basic_auth("u\r\n", "p"), std::invalid_argument);
    CHECK_THROWS_AS(leash::basic_auth("u", "p\n"), std::invalid_argument);
    CHECK_THROWS_AS(leash::basic_auth("u", std::string("p\0", 2)), std::invalid_argument);
    CHECK_THROWS_AS(leash::basic_auth("u", "p\x7f"), std::invalid_argument);
    CHECK_THROWS_AS(leash::basic_auth("u", "p\tq"), std::invalid_argument);  // HTAB is one too (RFC 5234 CTL)
}
