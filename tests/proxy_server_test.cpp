// Proxy URLs: what parses into a proxy_server, what is refused and with which code, the
// credentials and their Basic value, and that no message or printout shows the credentials.
#include <leash/detail/base64.hpp>
#include <leash/proxy.hpp>

#include <catch2/catch.hpp>

#include <cstdint>
#include <initializer_list>
#include <optional>
#include <string>
#include <string_view>
#include <system_error>

using leash::proxy_server;

namespace {

proxy_server parsed(std::string_view text)
{
    std::error_code ec;
    auto p = proxy_server::parse(text, ec);
    INFO("proxy URL " << text << ": " << ec.message());
    REQUIRE(p);
    CHECK_FALSE(ec);
    return *p;
}

struct address_case {
    std::string_view text;
    std::string_view host;
    std::uint16_t port;
    bool ipv6;
};

void check_addresses(std::initializer_list<address_case> cases)
{
    for (const auto& c : cases) {
        INFO("proxy URL " << c.text);
        const auto p = parsed(c.text);
        CHECK(p.host() == c.host);
        CHECK(p.port() == c.port);
        CHECK(p.is_ipv6_literal() == c.ipv6);
        CHECK_FALSE(p.has_credentials());
    }
}

// Each text fails to parse with `why`, which equals invalid_proxy and says `hint`.
void check_refused(std::initializer_list<std::string_view> texts, leash::error why, std::string_view hint)
{
    for (std::string_view text : texts) {
        INFO("proxy URL " << text);
        std::error_code ec;
        CHECK_FALSE(proxy_server::parse(text, ec));
        CHECK(ec == leash::make_error_code(why));
        CHECK(ec == leash::error::invalid_proxy);
        CHECK(ec == leash::condition::invalid_request);
        CHECK_FALSE(ec == leash::error::invalid_url);
        CHECK_THAT(ec.message(), Catch::Contains(std::string(hint)));
    }
}

struct credentials_case {
    std::string_view text;
    std::string_view user;
    std::string_view password;
};

} // namespace

TEST_CASE("proxy URL: host and port are parsed, the port 80 when absent", "[proxy][proxy_url]")
{
    check_addresses({{"http://proxy.example:3128", "proxy.example", 3128, false},
                     {"http://proxy.example", "proxy.example", 80, false},
                     {"http://proxy.example/", "proxy.example", 80, false},
                     {"http://proxy.example:65535/", "proxy.example", 65535, false},
                     {"http://p:1", "p", 1, false},
                     {"HTTP://Proxy.Example:8080/", "proxy.example", 8080, false},
                     {"hTtP://proxy.example:443", "proxy.example", 443, false},
                     {"http://10.0.0.1:8080", "10.0.0.1", 8080, false},
                     {"http://[::1]:3128", "::1", 3128, true},
                     {"http://[2001:DB8::1]", "2001:db8::1", 80, true},
                     {"http://[::ffff:10.0.0.1]:8080/", "::ffff:10.0.0.1", 8080, true}});
}

TEST_CASE("proxy URL: text without \"scheme://\" is taken as http://", "[proxy][proxy_url]")
{
    check_addresses({{"proxy.example:3128", "proxy.example", 3128, false},
                     {"proxy.example", "proxy.example", 80, false},
                     {"proxy.example/", "proxy.example", 80, false},
                     {"localhost:3128", "localhost", 3128, false},
                     {"10.0.0.1", "10.0.0.1", 80, false},
                     {"[::1]:3128", "::1", 3128, true}});
    const auto p = parsed("alice:pw@proxy.example:3128");
    CHECK(p.username() == "alice");
    CHECK(p.password() == "pw");
    CHECK(p == parsed("http://alice:pw@proxy.example:3128"));
}

TEST_CASE("proxy URL: a scheme other than http is refused with proxy_unsupported_scheme", "[proxy][proxy_url]")
{
    check_refused({"https://proxy:443", "HTTPS://proxy", "socks5://proxy:1080", "socks5h://proxy", "socks4://proxy",
                   "socks4a://proxy", "ftp://proxy", "httpx://proxy", "://proxy", "http:/proxy://x"},
                  leash::error::proxy_unsupported_scheme, "only http:// proxies are supported");
}

TEST_CASE("proxy URL: a path, query or fragment after the host is refused", "[proxy][proxy_url]")
{
    check_refused({"http://proxy:3128/path", "http://proxy//", "http://proxy/?", "http://proxy?x=1", "http://proxy#f",
                   "http://proxy:3128/#", "proxy:3128/x", "http://alice:pa/ss@proxy:3128"},
                  leash::error::proxy_path, "write http://host:port");
}

TEST_CASE("proxy URL: the user name and password are percent-decoded", "[proxy][proxy_url]")
{
    for (const credentials_case c : {credentials_case{"http://user:pass@p", "user", "pass"},
                                     {"http://us%65r:p%40ss%3Aword@p:8080", "user", "p@ss:word"},
                                     {"http://u:p@ss@p", "u", "p@ss"},
                                     {"http://u:a:b@p", "u", "a:b"},
                                     {"http://u@p", "u", ""},
                                     {"http://u:@p", "u", ""},
                                     {"http://:secret@p", "", "secret"},
                                     {"http://a%2Fb:c%2fd@p", "a/b", "c/d"},
                                     {"http://u:%25%2B%20@p", "u", "%+ "},
                                     {"http://%E4%BD%A0:x@p", "\xe4\xbd\xa0", "x"},
                                     {"http://u:pw@[::1]:3128/", "u", "pw"}}) {
        INFO("proxy URL " << c.text);
        const auto p = parsed(c.text);
        CHECK(p.username() == c.user);
        CHECK(p.password() == c.password);
        CHECK(p.has_credentials());
    }
}

TEST_CASE("proxy URL: an empty user information means no credentials", "[proxy][proxy_url]")
{
    for (std::string_view text : {"http://@proxy:3128", "http://:@proxy:3128", "@proxy:3128"}) {
        INFO("proxy URL " << text);
        const auto p = parsed(text);
        CHECK(p.host() == "proxy");
        CHECK(p.port() == 3128);
        CHECK_FALSE(p.has_credentials());
        CHECK(p.basic_authorization().empty());
    }
}

TEST_CASE("proxy URL: a malformed user name or password is refused with proxy_bad_userinfo", "[proxy][proxy_url]")
{
    check_refused({"http://u:%@p", "http://u:%4@p", "http://u:%zz@p", "http://u:%4g@p", "http://u%:p@p",
                   "http://u%3Ax:p@p",  // a ':' in the user name cannot be told from the separator
                   "http://u:a%0Db@p", "http://u:a%0Ab@p", "http://u:%00@p", "http://%7F:p@p", "http://u:%09@p"},
                  leash::error::proxy_bad_userinfo, "malformed %-escape");
}

TEST_CASE("proxy URL: a missing host is refused with proxy_no_host", "[proxy][proxy_url]")
{
    check_refused({"", "http://", "http://:3128", "http://user:pw@", "http://u@:80", "@", "http:///"},
                  leash::error::proxy_no_host, "no host");
}

TEST_CASE("proxy URL: a host with a bad character or a bad IPv6 literal is refused", "[proxy][proxy_url]")
{
    check_refused({"http://pr!oxy:80", "http://a,b", "http://h]:80", "http://[::1", "http://[1.2.3.4]",
                   "http://[::1]x", "http://[::1::2]", "http://[]", "http://[fe80::1%25eth0]", "http://u:p@[zz]"},
                  leash::error::proxy_bad_host, "not an IPv6 address");
}

TEST_CASE("proxy URL: a port that is not 1 to 65535 is refused with proxy_bad_port", "[proxy][proxy_url]")
{
    check_refused({"http://p:", "http://p:0", "http://p:65536", "http://p:80a", "http://p:-1", "http://p:+80",
                   "http://p:000080", "http://[::1]:", "http://[::1]:99999", "http://p:80:90", "p:"},
                  leash::error::proxy_bad_port, "a decimal number from 1 to 65535");
}

TEST_CASE("proxy URL: a space, control character or non-ASCII byte is refused", "[proxy][proxy_url]")
{
    check_refused({"http://proxy :80", " http://proxy", "http://u:pa ss@p", "http://proxy\r\n", "\thttp://proxy",
                   "http://pr\xc3\xb6xy", "http://u:p\x7f@p", std::string_view("http://p\0:80", 12)},
                  leash::error::proxy_bad_character, "percent-encode it");
}

TEST_CASE("proxy URL: no error message, exception or printout shows the credentials", "[proxy][proxy_url]")
{
    for (std::string_view text : {"https://alice:secretpw@proxy", "http://alice:secretpw@proxy/x",
                                  "http://alice:secretpw@proxy:99999", "http://alice:secretpw%zz@proxy",
                                  "http://alice:secretpw@[::1", "http://alice:secret pw@proxy"}) {
        INFO("proxy URL " << text);
        std::error_code ec;
        CHECK_FALSE(proxy_server::parse(text, ec));
        CHECK_THAT(ec.message(), !Catch::Contains("secret") && !Catch::Contains("alice"));
        try {
            (void)proxy_server::parse(text);
            FAIL("no exception");
        } catch (const std::system_error& e) {
            CHECK(e.code() == ec);
            CHECK_THAT(e.what(), !Catch::Contains("secret") && !Catch::Contains("alice")
                                     && Catch::Contains("proxy URL"));
        }
    }
    const auto p = parsed("http://alice:secretpw@Proxy.Example:3128/");
    CHECK(p.to_string() == "http://proxy.example:3128");
    CHECK(p.authority() == "proxy.example:3128");
}

TEST_CASE("proxy URL: authority and to_string always write the port and bracket IPv6", "[proxy][proxy_url]")
{
    CHECK(parsed("proxy").authority() == "proxy:80");
    CHECK(parsed("proxy").to_string() == "http://proxy:80");
    CHECK(parsed("http://[2001:db8::1]:3128").authority() == "[2001:db8::1]:3128");
    CHECK(parsed("[::1]").to_string() == "http://[::1]:80");
}

TEST_CASE("proxy URL: basic_authorization is \"Basic \" and base64 of user:password", "[proxy][proxy_url]")
{
    // The first value is RFC 7617's example; the others were encoded by hand.
    CHECK(parsed("http://Aladdin:open%20sesame@p").basic_authorization() == "Basic QWxhZGRpbjpvcGVuIHNlc2FtZQ==");
    CHECK(parsed("http://user:pass@p").basic_authorization() == "Basic dXNlcjpwYXNz");
    CHECK(parsed("http://u@p").basic_authorization() == "Basic dTo=");
    CHECK(parsed("http://:p@p").basic_authorization() == "Basic OnA=");
    CHECK(parsed("http://p").basic_authorization().empty());
}

TEST_CASE("proxy URL: base64 encodes RFC 4648's test vectors and bytes above 0x7f", "[proxy][proxy_url]")
{
    using leash::detail::base64_encode;
    CHECK(base64_encode("") == "");
    CHECK(base64_encode("f") == "Zg==");
    CHECK(base64_encode("fo") == "Zm8=");
    CHECK(base64_encode("foo") == "Zm9v");
    CHECK(base64_encode("foob") == "Zm9vYg==");
    CHECK(base64_encode("fooba") == "Zm9vYmE=");
    CHECK(base64_encode("foobar") == "Zm9vYmFy");
    CHECK(base64_encode("\xff\xfe\xfd") == "//79");
    CHECK(base64_encode(std::string_view("\0", 1)) == "AA==");
    CHECK(base64_encode("\xfb\xef\xbe") == "++++");
}

TEST_CASE("proxy URL: each reason equals invalid_proxy and no other code, with a name and a message",
          "[proxy][proxy_url]")
{
    using leash::error;
    for (const error e : {error::invalid_proxy, error::proxy_unsupported_scheme, error::proxy_bad_character,
                          error::proxy_no_host, error::proxy_bad_host, error::proxy_bad_port, error::proxy_path,
                          error::proxy_bad_userinfo}) {
        const std::error_code ec = e;
        INFO(leash::error_name(e));
        CHECK(ec == error::invalid_proxy);
        CHECK(ec == leash::condition::invalid_request);
        CHECK_FALSE(ec == leash::condition::timeout);
        CHECK_FALSE(ec == error::invalid_url);
        CHECK_FALSE(ec == error::unsupported_scheme);
        CHECK_THAT(ec.message(), Catch::StartsWith("invalid proxy URL"));
        CHECK_THAT(leash::error_name(e), Catch::Contains("proxy"));
    }
    CHECK_FALSE(std::error_code(error::proxy_bad_port) == error::proxy_bad_host);
    CHECK_FALSE(std::error_code(error::invalid_proxy) == error::proxy_bad_port);  // the reason is more
    CHECK_FALSE(std::error_code(error::url_bad_port) == error::invalid_proxy);
    CHECK_FALSE(std::error_code(error::internal_error) == error::invalid_proxy);
}

TEST_CASE("proxy URL: the same proxy written two ways parses to equal values", "[proxy][proxy_url]")
{
    CHECK(parsed("HTTP://Proxy:80/") == parsed("proxy"));
    CHECK(parsed("http://u:p@proxy") == parsed("u:p@proxy:80"));
    CHECK_FALSE(parsed("http://u:p@proxy") == parsed("http://u:q@proxy"));
    CHECK_FALSE(parsed("http://proxy:80") == parsed("http://proxy:8080"));
    CHECK(parsed("http://proxy") == parsed("http://@proxy:80/"));
}
