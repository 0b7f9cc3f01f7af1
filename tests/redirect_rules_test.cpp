// The redirect decision (detail/redirect_rules.hpp), without sockets: which statuses are
// followed, how each changes the method and body, how Location resolves, and when a chain
// stops with an error or drops its credentials.
#include <leash/detail/redirect_request.hpp>
#include <leash/detail/redirect_rules.hpp>

#include <catch2/catch.hpp>

#include <optional>
#include <string>
#include <string_view>
#include <vector>

using leash::url;
using leash::detail::decide_redirect;
using leash::detail::redirect_decision;
using leash::detail::redirect_limits;
using leash::detail::redirected_request;
using outcome = redirect_decision::outcome;

namespace {

constexpr redirect_limits follow_10{10, false};

struct sent {
    std::string method = "GET";
    std::string target = "https://api.example.com/v1/a/b";
    bool has_body = false;
    bool rewindable = false;
};

redirect_decision decide(int status, std::optional<std::string_view> location, const sent& s = {},
                         redirect_limits limits = follow_10, std::size_t hops = 0,
                         const std::vector<std::string>& visited = {})
{
    const auto target = url::parse(s.target);
    std::vector<std::string> chain = visited;
    if (chain.empty())
        chain.push_back(leash::detail::redirect_visit_key(s.method, target));
    return decide_redirect(status, location, redirected_request{s.method, target, s.has_body, s.rewindable}, hops,
                           chain, limits);
}

} // namespace

TEST_CASE("redirect rules: 301, 302, 303, 307 and 308 with a Location are followed", "[redirect]")
{
    for (int status : {301, 302, 303, 307, 308}) {
        CAPTURE(status);
        const auto d = decide(status, "/next");
        REQUIRE(d.what == outcome::follow);
        CHECK(d.next->to_string() == "https://api.example.com/next");
        CHECK(d.method == "GET");
    }
}

TEST_CASE("redirect rules: other statuses, a missing Location, or max_redirects 0 deliver the response", "[redirect]")
{
    for (int status : {200, 204, 300, 304, 305, 306, 399, 400, 404, 500}) {
        CAPTURE(status);
        CHECK(decide(status, "/next").what == outcome::deliver);
    }
    CHECK(decide(302, std::nullopt).what == outcome::deliver);
    CHECK(decide(302, "/next", {}, redirect_limits{0, false}).what == outcome::deliver);
}

TEST_CASE("redirect rules: the method and body after each status, for each method", "[redirect]")
{
    struct row {
        int status;
        std::string_view method;
        std::string_view next_method;
        bool drop_body;
    };
    const row table[] = {
        {301, "GET", "GET", false},     {301, "HEAD", "HEAD", false},  {301, "POST", "GET", true},
        {301, "PUT", "PUT", false},     {301, "DELETE", "DELETE", false},
        {302, "GET", "GET", false},     {302, "HEAD", "HEAD", false},  {302, "POST", "GET", true},
        {302, "PUT", "PUT", false},     {302, "PATCH", "PATCH", false},
        {303, "GET", "GET", false},     {303, "HEAD", "HEAD", false},  {303, "POST", "GET", true},
        {303, "PUT", "GET", true},      {303, "DELETE", "GET", true},  {303, "PATCH", "GET", true},
        {307, "GET", "GET", false},     {307, "HEAD", "HEAD", false},  {307, "POST", "POST", false},
        {307, "PUT", "PUT", false},     {307, "DELETE", "DELETE", false},
        {308, "GET", "GET", false},     {308, "HEAD", "HEAD", false},  {308, "POST", "POST", false},
        {308, "PUT", "PUT", false},     {308, "PATCH", "PATCH", false},
    };
    for (const auto& r : table) {
        CAPTURE(r.status, r.method);
        const auto d = decide(r.status, "/next", sent{std::string(r.method), "https://h/a", true, true});
        REQUIRE(d.what == outcome::follow);
        CHECK(d.method == r.next_method);
        CHECK(d.drop_body == r.drop_body);
    }
}

TEST_CASE("redirect rules: a body that cannot be sent again delivers a redirect that would resend it", "[redirect]")
{
    const sent one_shot{"POST", "https://h/a", true, false};
    CHECK(decide(307, "/next", one_shot).what == outcome::deliver);
    CHECK(decide(308, "/next", one_shot).what == outcome::deliver);
    CHECK(decide(302, "/next", sent{"PUT", "https://h/a", true, false}).what == outcome::deliver);
    // a redirect that drops the body does not need it again
    CHECK(decide(303, "/next", one_shot).what == outcome::follow);
    CHECK(decide(301, "/next", one_shot).what == outcome::follow);
    // nor does a request without a body
    CHECK(decide(307, "/next", sent{"POST", "https://h/a", false, false}).what == outcome::follow);
}

TEST_CASE("redirect rules: Location resolves against the request's URL, relative or absolute", "[redirect]")
{
    struct row {
        std::string_view location;
        std::string_view next;
    };
    const row table[] = {
        {"c", "https://api.example.com/v1/a/c"},
        {"../x?y=1", "https://api.example.com/v1/x?y=1"},
        {"/root", "https://api.example.com/root"},
        {"?page=2", "https://api.example.com/v1/a/b?page=2"},
        {"//cdn.example.com/f", "https://cdn.example.com/f"},
        {"https://other.example:8443/p", "https://other.example:8443/p"},
        {"HTTPS://API.example.com/z#frag", "https://api.example.com/z"},
        {"/a b/é", "https://api.example.com/a%20b/%C3%A9"},
    };
    for (const auto& r : table) {
        CAPTURE(r.location);
        const auto d = decide(302, r.location);
        REQUIRE(d.what == outcome::follow);
        CHECK(d.next->to_string() == r.next);
    }
}

TEST_CASE("redirect rules: a Location that is not an http or https URL is invalid_location", "[redirect]")
{
    for (std::string_view location : {"ftp://example.com/f", "mailto:a@example.com", "https://", "http://h:99999/",
                                      "https://user@h/"}) {
        CAPTURE(location);
        CHECK(decide(302, location).what == outcome::invalid_location);
    }
}

TEST_CASE("redirect rules: https to http is refused unless allowed; http to https is followed", "[redirect]")
{
    CHECK(decide(302, "http://api.example.com/plain").what == outcome::insecure);
    CHECK(decide(302, "http://api.example.com/plain", {}, redirect_limits{10, true}).what == outcome::follow);
    CHECK(decide(302, "https://h/secure", sent{"GET", "http://h/a"}).what == outcome::follow);
}

TEST_CASE("redirect rules: a hop beyond max_redirects is too_many", "[redirect]")
{
    CHECK(decide(302, "/n", {}, redirect_limits{3, false}, 2).what == outcome::follow);
    CHECK(decide(302, "/n", {}, redirect_limits{3, false}, 3).what == outcome::too_many);
}

TEST_CASE("redirect rules: a request already sent in the chain is a loop", "[redirect]")
{
    CHECK(decide(302, "").what == outcome::loop);  // to itself
    CHECK(decide(302, "/v1/a/b").what == outcome::loop);
    const std::vector<std::string> chain{"GET https://api.example.com/start", "GET https://api.example.com/v1/a/b"};
    CHECK(decide(302, "/start", {}, follow_10, 1, chain).what == outcome::loop);
    CHECK(decide(302, "/elsewhere", {}, follow_10, 1, chain).what == outcome::follow);
    // the same URL with another method is another request
    CHECK(decide(303, "", sent{"POST", "https://api.example.com/v1/a/b", true, true}).what == outcome::follow);
}

TEST_CASE("redirect rules: leaving the origin (scheme, host or port) marks the hop cross-origin", "[redirect]")
{
    CHECK_FALSE(decide(302, "/same").cross_origin);
    CHECK_FALSE(decide(302, "https://API.example.com:443/same").cross_origin);
    CHECK(decide(302, "https://other.example.com/").cross_origin);
    CHECK(decide(302, "https://api.example.com:8443/").cross_origin);
    CHECK(decide(302, "https://h/", sent{"GET", "http://h/"}).cross_origin);  // http to https
}

TEST_CASE("redirect rules: a Location without a fragment keeps the request's; one with a fragment wins", "[redirect]")
{
    const auto target = url::parse("https://h/a");
    const std::vector<std::string> chain{leash::detail::redirect_visit_key("GET", target)};
    const redirected_request sent_with_fragment{"GET", target, false, false, "#sec"};
    CHECK(decide_redirect(302, "/b", sent_with_fragment, 0, chain, follow_10).fragment == "#sec");
    CHECK(decide_redirect(302, "/b#new", sent_with_fragment, 0, chain, follow_10).fragment == "#new");
    CHECK(decide(302, "/b").fragment.empty());
}

TEST_CASE("redirect request: a hop that drops the body drops the fields describing it", "[redirect]")
{
    auto req = leash::request::post("https://api.example.com/v1/a", "{}");
    req.headers.set("Content-Language", "en");
    req.headers.set("Expect", "100-continue");
    req.headers.set("X-Kept", "1");
    const auto d = decide(303, "/next", sent{"POST", req.url, true, true});
    leash::detail::redirect_request(req, d);
    CHECK(req.method == "GET");
    CHECK(req.url == "https://api.example.com/next");
    CHECK(req.body.empty());
    CHECK_FALSE(req.headers.contains("Content-Type"));
    CHECK_FALSE(req.headers.contains("Content-Language"));
    CHECK_FALSE(req.headers.contains("Expect"));
    CHECK(req.headers.get("X-Kept") == "1");
}

TEST_CASE("redirect request: a hop that keeps the body keeps its fields", "[redirect]")
{
    auto req = leash::request::post("https://api.example.com/v1/a", "{}");
    const auto d = decide(307, "/next", sent{"POST", req.url, true, true});
    leash::detail::redirect_request(req, d);
    CHECK(req.method == "POST");
    CHECK(req.body == "{}");
    CHECK(req.headers.get("Content-Type") == "application/json");
}

TEST_CASE("redirect request: a cross-origin hop drops the credentials and a Host the caller set", "[redirect]")
{
    auto req = leash::request::get("https://api.example.com/v1/a");
    for (const auto name : leash::detail::credential_fields)
        req.headers.set(name, "secret");
    req.headers.set("Host", "api.example.com");
    req.headers.set("Accept", "*/*");
    leash::detail::redirect_request(req, decide(302, "https://cdn.example.com/x"));
    for (const auto name : leash::detail::credential_fields)
        CHECK_FALSE(req.headers.contains(name));
    CHECK_FALSE(req.headers.contains("Host"));
    CHECK(req.headers.get("Accept") == "*/*");
    CHECK(req.url == "https://cdn.example.com/x");
}

TEST_CASE("redirect request: a same-origin hop keeps the credentials", "[redirect]")
{
    auto req = leash::request::get("https://api.example.com/v1/a");
    req.headers.set("Authorization", "Bearer k");
    leash::detail::redirect_request(req, decide(302, "/v2/a"));
    CHECK(req.headers.get("Authorization") == "Bearer k");
}
