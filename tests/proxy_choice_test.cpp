// Which proxy, if any, a target URL goes through: the proxy of its scheme unless NO_PROXY lists
// it; and how invalid proxy options are reported.
#include <leash/detail/proxy_choice.hpp>

#include <catch2/catch.hpp>

#include <initializer_list>
#include <optional>
#include <string>
#include <string_view>
#include <system_error>

using leash::proxy_options;
using leash::detail::proxy_choice;

namespace {

proxy_choice chosen(const proxy_options& options)
{
    std::error_code ec;
    auto choice = proxy_choice::parse(options, ec);
    INFO(ec.message());
    REQUIRE(choice);
    CHECK_FALSE(ec);
    return *choice;
}

// A target URL and the proxy it goes through ("" = directly), as proxy_server::to_string().
struct route_case {
    std::string_view target;
    std::string_view proxy;
};

std::string route(const proxy_choice& choice, std::string_view target)
{
    const auto* proxy = choice.for_target(leash::url::parse(target));
    return proxy ? proxy->to_string() : std::string();
}

void check_routes(const proxy_options& options, std::initializer_list<route_case> cases)
{
    const auto choice = chosen(options);
    for (const auto& c : cases) {
        INFO("target " << c.target);
        CHECK(route(choice, c.target) == c.proxy);
    }
}

} // namespace

TEST_CASE("proxy choice: http:// targets use the http proxy and https:// targets the https proxy",
          "[proxy][proxy_choice]")
{
    check_routes({.http = "http://web-proxy:3128", .https = "tls-proxy:8080"},
                 {{"http://example.com/", "http://web-proxy:3128"},
                  {"http://example.com:8443/x", "http://web-proxy:3128"},
                  {"https://example.com/", "http://tls-proxy:8080"},
                  {"https://[2001:db8::1]:8443/", "http://tls-proxy:8080"}});
}

TEST_CASE("proxy choice: a scheme whose proxy is empty goes directly", "[proxy][proxy_choice]")
{
    check_routes({.http = "web-proxy:3128"},
                 {{"http://example.com/", "http://web-proxy:3128"}, {"https://example.com/", ""}});
    check_routes({.https = "tls-proxy:3128"},
                 {{"http://example.com/", ""}, {"https://example.com/", "http://tls-proxy:3128"}});
    check_routes({}, {{"http://example.com/", ""}, {"https://example.com/", ""}});
    check_routes({.no_proxy = "other.example"}, {{"http://example.com/", ""}});
    CHECK(proxy_choice().for_target(leash::url::parse("http://example.com/")) == nullptr);
}

TEST_CASE("proxy choice: one proxy serves both schemes when both name it", "[proxy][proxy_choice]")
{
    const std::string proxy = "http://proxy.internal:3128";
    check_routes({.http = proxy, .https = proxy}, {{"http://example.com/", "http://proxy.internal:3128"},
                                                   {"https://example.com/", "http://proxy.internal:3128"}});
}

TEST_CASE("proxy choice: targets that no_proxy lists go directly, others through the proxy", "[proxy][proxy_choice]")
{
    const proxy_options options{.http = "proxy:3128", .https = "proxy:3128",
                                .no_proxy = "internal.example, 10.0.0.0/8, [fd00::1]:8443"};
    check_routes(options,
                 {{"http://internal.example/", ""},
                  {"https://api.internal.example/", ""},
                  {"http://external.example/", "http://proxy:3128"},
                  {"http://notinternal.example/", "http://proxy:3128"},
                  {"http://10.1.2.3:8080/", ""},
                  {"http://11.1.2.3/", "http://proxy:3128"},
                  {"https://[fd00::1]:8443/", ""},
                  {"https://[fd00::1]/", "http://proxy:3128"}});
}

TEST_CASE("proxy choice: localhost and loopback targets use the proxy unless no_proxy lists them",
          "[proxy][proxy_choice]")
{
    check_routes({.http = "proxy:3128"}, {{"http://localhost/", "http://proxy:3128"},
                                          {"http://127.0.0.1:8080/", "http://proxy:3128"},
                                          {"http://[::1]/", "http://proxy:3128"}});
    check_routes({.http = "proxy:3128", .no_proxy = "localhost,127.0.0.1,::1"},
                 {{"http://localhost/", ""}, {"http://127.0.0.1:8080/", ""}, {"http://[::1]/", ""}});
}

TEST_CASE("proxy choice: the proxy returned carries the parsed credentials", "[proxy][proxy_choice]")
{
    const auto choice = chosen({.https = "http://alice:open%20sesame@proxy:3128"});
    const auto* proxy = choice.for_target(leash::url::parse("https://example.com/"));
    REQUIRE(proxy != nullptr);
    CHECK(proxy->password() == "open sesame");
    CHECK(proxy->basic_authorization() == "Basic YWxpY2U6b3BlbiBzZXNhbWU=");
    CHECK(proxy == choice.for_target(leash::url::parse("https://other.example/")));  // the same object
}

TEST_CASE("proxy choice: an invalid proxy URL fails parsing with its code", "[proxy][proxy_choice]")
{
    struct bad_case {
        proxy_options options;
        leash::error why;
        std::string_view field;
    };
    for (const bad_case& c : {bad_case{{.http = "socks5://alice:secretpw@proxy:1080"},
                                       leash::error::proxy_unsupported_scheme, "proxy_options::http"},
                              bad_case{{.http = "proxy:3128", .https = "http://alice:secretpw@proxy:0"},
                                       leash::error::proxy_bad_port, "proxy_options::https"},
                              bad_case{{.http = "http://alice:secretpw@proxy/x", .https = "proxy:3128"},
                                       leash::error::proxy_path, "proxy_options::http"}}) {
        INFO(c.field);
        std::error_code ec;
        CHECK_FALSE(proxy_choice::parse(c.options, ec));
        CHECK(ec == leash::make_error_code(c.why));
        CHECK(ec == leash::error::invalid_proxy);
        try {
            (void)proxy_choice::parse(c.options);
            FAIL("no exception");
        } catch (const std::system_error& e) {
            CHECK(e.code() == ec);
            CHECK_THAT(e.what(), Catch::Contains(std::string(c.field)) && !Catch::Contains("secretpw")
                                     && !Catch::Contains("alice"));
        }
    }
}

TEST_CASE("proxy choice: malformed no_proxy entries do not fail parsing", "[proxy][proxy_choice]")
{
    check_routes({.http = "proxy:3128", .no_proxy = "exa mple.com, 10.0.0.0/99, [::1, good.example"},
                 {{"http://good.example/", ""}, {"http://example.com/", "http://proxy:3128"},
                  {"http://10.0.0.1/", "http://proxy:3128"}, {"http://[::1]/", "http://proxy:3128"}});
}

TEST_CASE("proxy choice: a successful parse clears an earlier error code", "[proxy][proxy_choice]")
{
    std::error_code ec = leash::error::proxy_bad_port;
    CHECK(proxy_choice::parse({.http = "proxy:3128"}, ec));
    CHECK_FALSE(ec);
    ec = leash::error::proxy_bad_port;
    CHECK(proxy_choice::parse({}, ec));
    CHECK_FALSE(ec);
}
