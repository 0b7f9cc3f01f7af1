// Resolving a URI reference against a base URI (RFC 3986 section 5): the RFC's own examples,
// then the cases a redirect's Location meets.
#include <leash/detail/url_reference.hpp>

#include <catch2/catch.hpp>

#include <string>
#include <string_view>

using leash::detail::resolve_reference;

namespace {

struct resolution {
    std::string_view reference;
    std::string_view target;
};

void check_all(std::string_view base, std::initializer_list<resolution> cases)
{
    for (const auto& c : cases) {
        CAPTURE(base, c.reference);
        const auto resolved = resolve_reference(base, c.reference);
        REQUIRE(resolved);
        CHECK(*resolved == c.target);
    }
}

constexpr std::string_view rfc_base = "http://a/b/c/d;p?q";

} // namespace

TEST_CASE("url reference: the normal examples of RFC 3986 section 5.4.1", "[url_reference]")
{
    check_all(rfc_base, {
        {"g:h", "g:h"},
        {"g", "http://a/b/c/g"},
        {"./g", "http://a/b/c/g"},
        {"g/", "http://a/b/c/g/"},
        {"/g", "http://a/g"},
        {"//g", "http://g"},
        {"?y", "http://a/b/c/d;p?y"},
        {"g?y", "http://a/b/c/g?y"},
        {"#s", "http://a/b/c/d;p?q#s"},
        {"g#s", "http://a/b/c/g#s"},
        {"g?y#s", "http://a/b/c/g?y#s"},
        {";x", "http://a/b/c/;x"},
        {"g;x", "http://a/b/c/g;x"},
        {"g;x?y#s", "http://a/b/c/g;x?y#s"},
        {"", "http://a/b/c/d;p?q"},
        {".", "http://a/b/c/"},
        {"./", "http://a/b/c/"},
        {"..", "http://a/b/"},
        {"../", "http://a/b/"},
        {"../g", "http://a/b/g"},
        {"../..", "http://a/"},
        {"../../", "http://a/"},
        {"../../g", "http://a/g"},
    });
}

TEST_CASE("url reference: the abnormal examples of RFC 3986 section 5.4.2 (strict parser)", "[url_reference]")
{
    check_all(rfc_base, {
        {"../../../g", "http://a/g"},
        {"../../../../g", "http://a/g"},
        {"/./g", "http://a/g"},
        {"/../g", "http://a/g"},
        {"g.", "http://a/b/c/g."},
        {".g", "http://a/b/c/.g"},
        {"g..", "http://a/b/c/g.."},
        {"..g", "http://a/b/c/..g"},
        {"./../g", "http://a/b/g"},
        {"./g/.", "http://a/b/c/g/"},
        {"g/./h", "http://a/b/c/g/h"},
        {"g/../h", "http://a/b/c/h"},
        {"g;x=1/./y", "http://a/b/c/g;x=1/y"},
        {"g;x=1/../y", "http://a/b/c/y"},
        {"g?y/./x", "http://a/b/c/g?y/./x"},
        {"g?y/../x", "http://a/b/c/g?y/../x"},
        {"g#s/./x", "http://a/b/c/g#s/./x"},
        {"g#s/../x", "http://a/b/c/g#s/../x"},
        {"http:g", "http:g"},
    });
}

TEST_CASE("url reference: a relative path against a base with an authority and no path starts at the root",
          "[url_reference]")
{
    check_all("https://api.example.com", {
        {"v1/chat", "https://api.example.com/v1/chat"},
        {"?page=2", "https://api.example.com?page=2"},
    });
}

TEST_CASE("url reference: an absolute reference replaces the base, with its dot segments removed",
          "[url_reference]")
{
    check_all("https://a.example/x/y", {
        {"http://b.example:8080/p/../q?r#f", "http://b.example:8080/q?r#f"},
        {"https://a.example", "https://a.example"},
    });
}

TEST_CASE("url reference: a network-path reference keeps the base's scheme only", "[url_reference]")
{
    check_all("https://a.example/x?q", {
        {"//b.example/p", "https://b.example/p"},
        {"//b.example", "https://b.example"},
        {"//b.example?z", "https://b.example?z"},
    });
}

TEST_CASE("url reference: an empty query or fragment is kept, not dropped", "[url_reference]")
{
    check_all("http://a/b?q", {
        {"c?", "http://a/c?"},
        {"c#", "http://a/c#"},
        {"?", "http://a/b?"},
    });
}

TEST_CASE("url reference: a base without a scheme resolves nothing", "[url_reference]")
{
    CHECK_FALSE(resolve_reference("/relative/base", "g"));
    CHECK_FALSE(resolve_reference("//host/base", "g"));
    CHECK_FALSE(resolve_reference("", "http://a/"));
}
