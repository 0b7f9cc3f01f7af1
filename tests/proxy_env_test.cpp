// Proxy settings from environment variables: which variable wins, the CGI rule, the ALL_PROXY
// fallback and empty values. The environment is a table handed to the lookup overload; the
// process environment is neither read nor changed.
#include <leash/proxy.hpp>

#include <catch2/catch.hpp>

#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

using leash::proxy_options;

namespace {

using environment = std::map<std::string, std::string>;

proxy_options from(const environment& env)
{
    return leash::proxy_options_from_environment([&env](const char* name) -> std::optional<std::string> {
        const auto it = env.find(name);
        if (it == env.end())
            return std::nullopt;
        return it->second;
    });
}

// An environment and the proxy options it gives.
struct env_case {
    environment env;
    std::string_view http;
    std::string_view https;
    std::string_view no_proxy;
};

std::string describe(const environment& env)
{
    std::string out;
    for (const auto& entry : env)
        out += entry.first + "=\"" + entry.second + "\" ";
    return out;
}

void check_cases(const std::vector<env_case>& cases)
{
    for (const auto& c : cases) {
        INFO("environment: " << describe(c.env));
        const auto options = from(c.env);
        CHECK(options.http == c.http);
        CHECK(options.https == c.https);
        CHECK(options.no_proxy == c.no_proxy);
    }
}

} // namespace

TEST_CASE("proxy env: an empty environment gives no proxy", "[proxy][proxy_env]")
{
    check_cases({{{}, "", "", ""}, {{{"PATH", "/usr/bin"}, {"HOME", "/root"}}, "", "", ""}});
}

TEST_CASE("proxy env: each scheme reads its own variable, lower case before upper case", "[proxy][proxy_env]")
{
    check_cases({
        {{{"http_proxy", "h-lower"}}, "h-lower", "", ""},
        {{{"HTTP_PROXY", "h-upper"}}, "h-upper", "", ""},
        {{{"http_proxy", "h-lower"}, {"HTTP_PROXY", "h-upper"}}, "h-lower", "", ""},
        {{{"https_proxy", "s-lower"}}, "", "s-lower", ""},
        {{{"HTTPS_PROXY", "s-upper"}}, "", "s-upper", ""},
        {{{"https_proxy", "s-lower"}, {"HTTPS_PROXY", "s-upper"}}, "", "s-lower", ""},
        {{{"no_proxy", "n-lower"}}, "", "", "n-lower"},
        {{{"NO_PROXY", "n-upper"}}, "", "", "n-upper"},
        {{{"no_proxy", "n-lower"}, {"NO_PROXY", "n-upper"}}, "", "", "n-lower"},
        {{{"http_proxy", "h"}, {"https_proxy", "s"}, {"no_proxy", "n"}}, "h", "s", "n"},
    });
}

TEST_CASE("proxy env: https targets never fall back to the http proxy, nor the reverse", "[proxy][proxy_env]")
{
    check_cases({{{{"http_proxy", "h"}, {"HTTP_PROXY", "H"}}, "h", "", ""},
                 {{{"https_proxy", "s"}, {"HTTPS_PROXY", "S"}}, "", "s", ""}});
}

TEST_CASE("proxy env: ALL_PROXY is the fallback for a scheme without its own variable", "[proxy][proxy_env]")
{
    check_cases({
        {{{"all_proxy", "a-lower"}}, "a-lower", "a-lower", ""},
        {{{"ALL_PROXY", "a-upper"}}, "a-upper", "a-upper", ""},
        {{{"all_proxy", "a-lower"}, {"ALL_PROXY", "a-upper"}}, "a-lower", "a-lower", ""},
        {{{"all_proxy", "a"}, {"http_proxy", "h"}}, "h", "a", ""},
        {{{"ALL_PROXY", "A"}, {"HTTPS_PROXY", "S"}}, "A", "S", ""},
        {{{"all_proxy", "a"}, {"HTTP_PROXY", "H"}, {"https_proxy", "s"}}, "H", "s", ""},
    });
}

TEST_CASE("proxy env: HTTP_PROXY is ignored when REQUEST_METHOD is set (CGI, httpoxy)", "[proxy][proxy_env]")
{
    check_cases({
        {{{"REQUEST_METHOD", "GET"}, {"HTTP_PROXY", "evil"}}, "", "", ""},
        {{{"REQUEST_METHOD", "POST"}, {"HTTP_PROXY", "evil"}, {"http_proxy", "h"}}, "h", "", ""},
        {{{"REQUEST_METHOD", "GET"}, {"HTTP_PROXY", "evil"}, {"ALL_PROXY", "A"}}, "A", "A", ""},
        {{{"REQUEST_METHOD", "GET"}, {"HTTP_PROXY", "evil"}, {"all_proxy", "a"}}, "a", "a", ""},
        {{{"REQUEST_METHOD", "GET"}, {"HTTPS_PROXY", "S"}, {"NO_PROXY", "N"}}, "", "S", "N"},
        // Without REQUEST_METHOD, or with it empty, HTTP_PROXY is read.
        {{{"HTTP_PROXY", "H"}}, "H", "", ""},
        {{{"REQUEST_METHOD", ""}, {"HTTP_PROXY", "H"}}, "H", "", ""},
        // request_method in lower case is not the CGI variable.
        {{{"request_method", "GET"}, {"HTTP_PROXY", "H"}}, "H", "", ""},
    });
}

TEST_CASE("proxy env: a variable set to the empty string counts as unset", "[proxy][proxy_env]")
{
    check_cases({
        {{{"http_proxy", ""}, {"HTTP_PROXY", "H"}}, "H", "", ""},
        {{{"https_proxy", ""}, {"HTTPS_PROXY", "S"}}, "", "S", ""},
        {{{"no_proxy", ""}, {"NO_PROXY", "N"}}, "", "", "N"},
        {{{"http_proxy", ""}, {"HTTP_PROXY", ""}, {"all_proxy", "a"}}, "a", "a", ""},
        {{{"https_proxy", ""}, {"HTTPS_PROXY", ""}, {"all_proxy", ""}, {"ALL_PROXY", "A"}}, "A", "A", ""},
        {{{"http_proxy", ""}, {"HTTP_PROXY", ""}, {"https_proxy", ""}, {"HTTPS_PROXY", ""}, {"all_proxy", ""},
          {"ALL_PROXY", ""}, {"no_proxy", ""}, {"NO_PROXY", ""}},
         "", "", ""},
    });
}

TEST_CASE("proxy env: values are copied as they are, unchecked", "[proxy][proxy_env]")
{
    check_cases({{{{"http_proxy", " http://p:1 "}, {"https_proxy", "socks5://p:1080"}, {"no_proxy", " a, ,b "}},
                  " http://p:1 ", "socks5://p:1080", " a, ,b "}});
}

TEST_CASE("proxy env: only the documented variables are looked up, each at most once", "[proxy][proxy_env]")
{
    const auto lookups = [](const environment& env) {
        std::map<std::string, int> asked;
        (void)leash::proxy_options_from_environment([&](const char* name) -> std::optional<std::string> {
            ++asked[name];
            const auto it = env.find(name);
            return it == env.end() ? std::nullopt : std::optional<std::string>(it->second);
        });
        return asked;
    };
    using counts = std::map<std::string, int>;
    CHECK(lookups({}) == counts{{"REQUEST_METHOD", 1}, {"http_proxy", 1}, {"HTTP_PROXY", 1}, {"https_proxy", 1},
                                {"HTTPS_PROXY", 1}, {"all_proxy", 1}, {"ALL_PROXY", 1}, {"no_proxy", 1},
                                {"NO_PROXY", 1}});
    // Under CGI, HTTP_PROXY is not even read; a variable found ends the search.
    CHECK(lookups({{"REQUEST_METHOD", "GET"}, {"http_proxy", "h"}, {"https_proxy", "s"}, {"no_proxy", "n"}})
          == counts{{"REQUEST_METHOD", 1}, {"http_proxy", 1}, {"https_proxy", 1}, {"no_proxy", 1}});
}
