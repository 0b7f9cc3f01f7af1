// The NO_PROXY rules: which target hosts and ports bypass the proxy, for each form of entry,
// without DNS and without any implicit exception.
#include <leash/detail/no_proxy_rules.hpp>

#include <catch2/catch.hpp>

#include <initializer_list>
#include <string>
#include <string_view>

using leash::detail::no_proxy_rules;

namespace {

// A target URL, and whether it goes directly under the list being tested.
struct target_case {
    std::string_view target;
    bool direct;
};

// Whether a request to target (an absolute URL) bypasses the proxy under list.
bool bypasses(std::string_view list, std::string_view target)
{
    const auto u = leash::url::parse(target);
    return no_proxy_rules(list).bypasses(u.host(), u.port(), u.is_ipv6_literal());
}

void check_targets(std::string_view list, std::initializer_list<target_case> cases)
{
    for (const auto& c : cases) {
        INFO("no_proxy \"" << list << "\", target " << c.target);
        CHECK(bypasses(list, c.target) == c.direct);
    }
}

// Targets that no entry of the malformed-entry test may match, whatever it was misread as.
constexpr std::string_view probe_targets[] = {
    "http://example.com/",  "http://a.example.com/",  "http://example.com:8080/", "http://10.0.0.1/",
    "http://10.0.0.1:80/",  "http://[::1]/",          "http://[fe80::1]/",        "http://[::1]:8080/",
    "http://aexample.com/", "http://example.com.evil/"};

} // namespace

TEST_CASE("no_proxy: a host name entry matches the host and its subdomains on label boundaries", "[proxy][no_proxy]")
{
    check_targets("example.com", {{"http://example.com/", true},
                                  {"http://a.example.com/", true},
                                  {"http://a.b.example.com/", true},
                                  {"https://deep.a.b.example.com:8443/x", true},
                                  {"http://badexample.com/", false},
                                  {"http://a.badexample.com/", false},
                                  {"http://xample.com/", false},
                                  {"http://example.com.evil.net/", false},
                                  {"http://example.org/", false},
                                  {"http://com/", false}});
}

TEST_CASE("no_proxy: a leading dot or \"*.\" on a name entry changes nothing", "[proxy][no_proxy]")
{
    for (std::string_view list : {"example.com", ".example.com", "*.example.com"})
        check_targets(list, {{"http://example.com/", true},
                             {"http://a.example.com/", true},
                             {"http://badexample.com/", false},
                             {"http://example.net/", false}});
}

TEST_CASE("no_proxy: host names match without regard to case", "[proxy][no_proxy]")
{
    check_targets("Example.COM", {{"http://EXAMPLE.com/", true}, {"http://WWW.example.Com/", true}});
    const no_proxy_rules rules("api.EXAMPLE.com");
    CHECK(rules.bypasses("API.example.COM", 80, false));
    CHECK(rules.bypasses("v1.Api.Example.Com", 80, false));
    CHECK_FALSE(rules.bypasses("EXAMPLE.COM", 80, false));
}

TEST_CASE("no_proxy: one trailing dot on the entry or the host is ignored", "[proxy][no_proxy]")
{
    check_targets("example.com.", {{"http://example.com/", true}, {"http://a.example.com/", true}});
    check_targets("example.com", {{"http://example.com./", true},
                                  {"http://a.example.com./", true},
                                  {"http://example.com../", false},
                                  {"http://badexample.com./", false}});
    check_targets(".example.com.", {{"http://example.com./", true}});
}

TEST_CASE("no_proxy: an entry without a port matches every port", "[proxy][no_proxy]")
{
    check_targets("example.com, 10.0.0.1, ::1, 192.168.0.0/16",
                  {{"http://example.com/", true},
                   {"https://example.com/", true},
                   {"http://example.com:1/", true},
                   {"http://example.com:65535/", true},
                   {"https://10.0.0.1:8443/", true},
                   {"http://[::1]:3000/", true},
                   {"http://192.168.7.7:81/", true}});
}

TEST_CASE("no_proxy: an entry with a port matches that port only", "[proxy][no_proxy]")
{
    check_targets("example.com:8080", {{"http://example.com:8080/", true},
                                       {"https://a.example.com:8080/", true},
                                       {"http://example.com/", false},
                                       {"http://example.com:8081/", false},
                                       {"http://badexample.com:8080/", false}});
    // A URL without a port has its scheme's default port.
    check_targets("example.com:80", {{"http://example.com/", true}, {"https://example.com/", false}});
    check_targets("10.0.0.1:443", {{"https://10.0.0.1/", true}, {"http://10.0.0.1/", false}});
    check_targets("[::1]:8080", {{"http://[::1]:8080/", true}, {"http://[::1]/", false}});
    check_targets("10.0.0.0/8:443", {{"https://10.9.9.9/", true}, {"http://10.9.9.9/", false}});
    for (std::string_view list : {"fd00::/8:443", "[fd00::]/8:443"})
        check_targets(list, {{"https://[fd00::1]/", true}, {"http://[fd00::1]/", false}});
    check_targets("*.example.com:8443", {{"https://a.example.com:8443/", true}, {"https://a.example.com/", false}});
}

TEST_CASE("no_proxy: an IPv4 entry matches only a host written as that address", "[proxy][no_proxy]")
{
    check_targets("192.168.1.10", {{"http://192.168.1.10/", true},
                                   {"http://192.168.1.11/", false},
                                   {"http://192.168.1.100/", false},
                                   {"http://2.192.168.1.10/", false},
                                   {"http://[::ffff:192.168.1.10]/", false}});
    // No IPv4-mapped equivalence the other way either.
    check_targets("::ffff:192.168.1.10", {{"http://192.168.1.10/", false}, {"http://[::ffff:192.168.1.10]/", true}});
}

TEST_CASE("no_proxy: a name entry never matches a host written as an address", "[proxy][no_proxy]")
{
    check_targets("1.10, 0.0.1, localhost", {{"http://192.168.1.10/", false},
                                             {"http://10.0.0.1/", false},
                                             {"http://127.0.0.1/", false},
                                             {"http://a.1.10/", true}});
}

TEST_CASE("no_proxy: an IPv6 entry matches with or without brackets, in any spelling of the address",
          "[proxy][no_proxy]")
{
    for (std::string_view list : {"::1", "[::1]", "0:0:0:0:0:0:0:1", "[0000::0001]"})
        check_targets(list, {{"http://[::1]/", true},
                             {"http://[0::1]:8080/", true},
                             {"http://[::2]/", false},
                             {"http://[1::]/", false},
                             {"http://127.0.0.1/", false}});
    check_targets("2001:DB8::A", {{"http://[2001:db8::a]/", true}, {"http://[2001:db8:0:0:0:0:0:a]/", true}});
}

TEST_CASE("no_proxy: an IPv4 CIDR entry matches the addresses in its range", "[proxy][no_proxy]")
{
    check_targets("10.0.0.0/8", {{"http://10.0.0.1/", true},
                                 {"http://10.255.255.255/", true},
                                 {"http://11.0.0.1/", false},
                                 {"http://9.255.255.255/", false},
                                 {"http://[::ffff:10.0.0.1]/", false}});
    check_targets("172.16.0.0/12", {{"http://172.31.255.255/", true},
                                    {"http://172.16.0.0/", true},
                                    {"http://172.32.0.0/", false},
                                    {"http://172.15.255.255/", false}});
    check_targets("192.168.1.0/24", {{"http://192.168.1.77/", true}, {"http://192.168.2.1/", false}});
    check_targets("192.168.1.128/25", {{"http://192.168.1.200/", true}, {"http://192.168.1.127/", false}});
    // The host bits of the entry's address do not matter.
    check_targets("10.1.2.3/8", {{"http://10.200.0.1/", true}, {"http://11.1.2.3/", false}});
}

TEST_CASE("no_proxy: /32 is one IPv4 address and /0 every IPv4 address", "[proxy][no_proxy]")
{
    check_targets("10.0.0.1/32",
                  {{"http://10.0.0.1/", true}, {"http://10.0.0.2/", false}, {"http://10.0.0.0/", false}});
    check_targets("0.0.0.0/0", {{"http://1.2.3.4/", true},
                                {"http://255.255.255.255/", true},
                                {"http://0.0.0.0/", true},
                                {"http://[::1]/", false},
                                {"http://example.com/", false}});
    check_targets("203.0.113.9/0", {{"http://8.8.8.8/", true}});
}

TEST_CASE("no_proxy: an IPv6 CIDR entry matches the addresses in its range", "[proxy][no_proxy]")
{
    check_targets("fd00::/8", {{"http://[fd12:3456::1]/", true}, {"http://[fe00::1]/", false}});
    check_targets("[2001:db8::]/32", {{"http://[2001:db8:ffff::1]/", true}, {"http://[2001:db9::1]/", false}});
    check_targets("fe80::/10",
                  {{"http://[fe80::1]/", true}, {"http://[febf::1]/", true}, {"http://[fec0::1]/", false}});
    check_targets("2001:db8::/127", {{"http://[2001:db8::1]/", true}, {"http://[2001:db8::2]/", false}});
    check_targets("::1/128", {{"http://[::1]/", true}, {"http://[::2]/", false}});
    check_targets("::/0", {{"http://[::1]/", true},
                           {"http://[2001:db8::1]/", true},
                           {"http://[ffff::]/", true},
                           {"http://10.0.0.1/", false},
                           {"http://example.com/", false}});
}

TEST_CASE("no_proxy: \"*\" as an entry sends every host directly", "[proxy][no_proxy]")
{
    for (std::string_view list : {"*", " * ", "example.org, *", "*,10.0.0.0/8"}) {
        check_targets(list, {{"http://example.com/", true},
                             {"https://a.b.c:8443/", true},
                             {"http://10.0.0.1/", true},
                             {"http://[::1]/", true}});
        CHECK(no_proxy_rules(list).bypasses_all());
    }
    CHECK_FALSE(no_proxy_rules("example.com").bypasses_all());
}

TEST_CASE("no_proxy: white space around entries and empty entries are ignored", "[proxy][no_proxy]")
{
    check_targets(" example.com ,\t10.0.0.1\t, ,,\n [::1] \r\n,", {{"http://example.com/", true},
                                                                     {"http://10.0.0.1/", true},
                                                                     {"http://[::1]/", true},
                                                                     {"http://example.org/", false}});
    for (std::string_view list : {"", ",", " , ,, ", "\t"}) {
        INFO("no_proxy \"" << list << '"');
        CHECK(no_proxy_rules(list).empty());
    }
}

TEST_CASE("no_proxy: white space inside an entry makes it malformed", "[proxy][no_proxy]")
{
    check_targets("example.com 10.0.0.1", {{"http://example.com/", false}, {"http://10.0.0.1/", false}});
    CHECK(no_proxy_rules("example.com 10.0.0.1").empty());
}

TEST_CASE("no_proxy: malformed entries are ignored and do not disturb the others", "[proxy][no_proxy]")
{
    for (std::string_view bad : {"example.com:",     "example.com:0",   "example.com:65536", "example.com:http",
                                 "example.com:-80",  "10.0.0.0/33",     "10.0.0.0/",         "10.0.0.0/8x",
                                 "10.0.0.0/-1",      "10.0.0.0/+8",     "10.0.0.0/99999999999999999999",
                                 "10.0.0.0/65568",   "::/65664",
                                 "::/129",           "[::1",            "[::1]x",            "[::1]:",
                                 "[10.0.0.1]",       "[example.com]",   "[]",                "example.com/8",
                                 "exa$mple.com",     "http://example.com", "..example.com",  "example..com",
                                 ".",                "*.",              "**.example.com",    "*example.com",
                                 "fe80::1%eth0",     "[fe80::1%25eth0]", "a:b:c",            "*:80",
                                 "example.com..",    "10.0.0.1:80:80",  "[::1]:80:80",       "ex\xc3\xa4mple.com"}) {
        const std::string list = std::string(bad) + ",good.example";
        INFO("no_proxy \"" << list << '"');
        const no_proxy_rules rules(list);
        CHECK(rules.bypasses("good.example", 80, false));
        for (std::string_view target : probe_targets) {
            INFO("target " << target);
            const auto u = leash::url::parse(target);
            CHECK_FALSE(rules.bypasses(u.host(), u.port(), u.is_ipv6_literal()));
        }
        CHECK_FALSE(no_proxy_rules(bad).bypasses_all());
        CHECK(no_proxy_rules(bad).empty());
    }
}

TEST_CASE("no_proxy: nothing bypasses the proxy unless listed, not even localhost or loopback", "[proxy][no_proxy]")
{
    for (std::string_view list : {"", "example.com", "10.0.0.0/8"})
        check_targets(list, {{"http://localhost/", false},
                             {"http://localhost:8080/", false},
                             {"http://127.0.0.1/", false},
                             {"http://127.1.2.3/", false},
                             {"http://[::1]/", false},
                             {"http://localhost.localdomain/", false}});
    check_targets("localhost, 127.0.0.0/8, ::1", {{"http://localhost/", true},
                                                  {"http://127.1.2.3/", true},
                                                  {"http://[::1]/", true},
                                                  {"http://[::ffff:127.0.0.1]/", false}});
}

TEST_CASE("no_proxy: a host that is not a valid address is never matched as one", "[proxy][no_proxy]")
{
    const no_proxy_rules rules("::/0, 0.0.0.0/0");
    CHECK_FALSE(rules.bypasses("example.com", 80, true));     // said to be IPv6, is not
    CHECK_FALSE(rules.bypasses("fe80::1%eth0", 80, true));     // a zone is not part of a target host
    CHECK_FALSE(rules.bypasses("10.0.0.1", 80, true));        // an IPv4 address is not an IPv6 literal
    CHECK_FALSE(rules.bypasses("010.0.0.1", 80, false));      // not dotted-decimal: a name
    CHECK_FALSE(rules.bypasses("1.2.3", 80, false));
    CHECK(rules.bypasses("::1", 80, true));
    CHECK(rules.bypasses("10.0.0.1", 80, false));
}
