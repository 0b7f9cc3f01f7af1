// Redirects followed by leash::client against the in-process servers: the method and body per
// status, Location forms, the errors that stop a chain, credentials across origins, https to
// http, the 3xx bodies, and the policy's hook. (The decision itself: redirect_rules_test.cpp.)
#include <leash/client.hpp>
#include <support/harness.hpp>

using namespace leash::test;

namespace {

// What a client call delivered: the error, the response's facts, and its body.
struct delivered {
    std::error_code ec;
    int status = 0;
    std::string url;
    std::size_t redirects = 0;
    std::string body;
};

asio::awaitable<delivered> call(leash::client& c, leash::request req)
{
    auto [ec, res] = co_await c.async_send(std::move(req), as_tuple);
    delivered d{ec, res.status, res.url, res.redirects, {}};
    if (!ec) {
        auto [read_ec, text] = co_await res.body.async_read_all(1 << 20, as_tuple);
        d.ec = read_ec;
        d.body = std::move(text);
    }
    co_return d;
}

reply redirect_to(int status, std::string location, std::string body = "")
{
    return reply::status(status, std::move(body), {{"Location", std::move(location)}});
}

// Redirects /from (any method) to /to with `status`; answers everything else with 200 and
// "<method> <body>".
test_server::handler one_hop(int status)
{
    return [status](const received_request& r) {
        if (r.target == "/from")
            return redirect_to(status, "/to");
        return reply::ok(r.method + " " + r.body);
    };
}

struct rig {
    explicit rig(test_server::handler h, leash::client_options o = {}, leash::transport_options t = {})
        : server(std::move(h)), fds_at_start(warm_up_and_count_fds(ioc)), client(ioc, std::move(o), std::move(t))
    {
    }
    delivered send(leash::request req) { return run(ioc, call(client, std::move(req))); }
    void require_clean_end(std::initializer_list<test_server*> others = {})
    {
        std::vector<test_server*> all{&server};
        all.insert(all.end(), others.begin(), others.end());
        for (auto* s : all)
            leash::test::require_clean_end(ioc, client, *s, fds_at_start);
    }

    test_server server;
    asio::io_context ioc;
    const std::size_t fds_at_start;
    leash::client client;
};

leash::request with_method(std::string method, std::string url, std::string body)
{
    leash::request r;
    r.method = std::move(method);
    r.url = std::move(url);
    r.body = std::move(body);
    if (!r.body.empty())
        r.headers.set("Content-Type", "text/plain");
    return r;
}

} // namespace

TEST_CASE("redirects: each status with each method gives the next request's method and body")
{
    struct row {
        int status;
        const char* method;
        const char* then;  // the method of the next request
        bool keeps_body;
    };
    const row r = GENERATE(values<row>({
        {301, "GET", "GET", true},    {301, "POST", "GET", false},  {301, "PUT", "PUT", true},
        {302, "GET", "GET", true},    {302, "POST", "GET", false},  {302, "DELETE", "DELETE", true},
        {303, "GET", "GET", true},    {303, "POST", "GET", false},  {303, "PUT", "GET", false},
        {303, "HEAD", "HEAD", true},  {307, "GET", "GET", true},    {307, "POST", "POST", true},
        {307, "PUT", "PUT", true},    {308, "POST", "POST", true},  {308, "PATCH", "PATCH", true},
    }));
    CAPTURE(r.status, r.method);
    rig t(one_hop(r.status));
    const bool head = std::string_view(r.method) == "HEAD";
    const auto got = t.send(with_method(r.method, t.server.url("/from"), head ? "" : "payload"));
    REQUIRE_FALSE(got.ec);
    CHECK(got.status == 200);
    CHECK(got.redirects == 1);
    const auto sent = t.server.requests().at(1);
    CHECK(sent.target == "/to");
    CHECK(sent.method == r.then);
    CHECK(sent.body == (r.keeps_body && !head ? "payload" : ""));
    CHECK(sent.has_header("Content-Type") == (r.keeps_body && !head));
    t.require_clean_end();
}

TEST_CASE("redirects: relative and absolute Locations resolve against the request's URL")
{
    test_server other([](const received_request& r) { return reply::ok("other " + r.target); });
    rig t([&](const received_request& r) {
        if (r.target == "/a/b?q=1")
            return redirect_to(302, "c?d=2");
        if (r.target == "/a/c?d=2")
            return redirect_to(301, "../up");
        if (r.target == "/up")
            return redirect_to(307, other.url("/abs"));
        return reply::status(404);
    });
    const auto got = t.send(leash::request::get(t.server.url("/a/b?q=1")));
    REQUIRE_FALSE(got.ec);
    CHECK(got.body == "other /abs");
    CHECK(got.redirects == 3);
    CHECK(got.url == other.url("/abs"));
    t.require_clean_end({&other});
}

TEST_CASE("redirects: the final URL keeps the request's fragment unless the Location has one")
{
    rig t([](const received_request& r) {
        if (r.target == "/a")
            return redirect_to(302, "/end");
        if (r.target == "/b")
            return redirect_to(302, "/end#there");
        return reply::ok();
    });
    CHECK(t.send(leash::request::get(t.server.url("/a") + "#here")).url == t.server.url("/end") + "#here");
    CHECK(t.send(leash::request::get(t.server.url("/b") + "#here")).url == t.server.url("/end") + "#there");
    t.require_clean_end();
}

TEST_CASE("redirects: a response that is not followed has its own URL and no hops")
{
    rig t([](const received_request&) { return reply::ok("plain"); });
    const auto got = t.send(leash::request::get(t.server.url("/x")));
    CHECK(got.url == t.server.url("/x"));
    CHECK(got.redirects == 0);
    t.require_clean_end();
}

TEST_CASE("redirects: a loop fails with redirect_loop, with the last 3xx")
{
    rig t([](const received_request& r) { return redirect_to(302, r.target == "/a" ? "/b" : "/a"); });
    const auto got = t.send(leash::request::get(t.server.url("/a")));
    CHECK(got.ec == leash::error::redirect_loop);
    CHECK(got.status == 302);
    CHECK(t.server.request_count() == 2);
    t.require_clean_end();
}

TEST_CASE("redirects: a hop beyond max_redirects fails with too_many_redirects")
{
    leash::client_options o;
    o.redirect.max_redirects = 3;
    rig t([](const received_request& r) { return redirect_to(302, r.target + "x"); }, o);
    const auto got = t.send(leash::request::get(t.server.url("/")));
    CHECK(got.ec == leash::error::too_many_redirects);
    CHECK(got.redirects == 3);
    CHECK(t.server.request_count() == 4);
    t.require_clean_end();
}

TEST_CASE("redirects: max_redirects 0 delivers the 3xx with its body")
{
    leash::client_options o;
    o.redirect.max_redirects = 0;
    rig t(one_hop(302), o);
    const auto got = t.send(leash::request::get(t.server.url("/from")));
    CHECK_FALSE(got.ec);
    CHECK(got.status == 302);
    CHECK(t.server.request_count() == 1);
    t.require_clean_end();
}

TEST_CASE("redirects: a Location that is not an http URL fails with invalid_redirect_location")
{
    rig t([](const received_request&) { return redirect_to(302, "ftp://files.example/x"); });
    CHECK(t.send(leash::request::get(t.server.url("/"))).ec == leash::error::invalid_redirect_location);
    t.require_clean_end();
}

TEST_CASE("redirects: credentials are dropped when the chain leaves the origin, and stay dropped")
{
    test_server other([](const received_request&) { return reply::ok("other"); });
    rig t([&](const received_request& r) {
        if (r.target == "/start")
            return redirect_to(302, "/same");
        if (r.target == "/same")
            return redirect_to(302, other.url("/away"));
        return reply::status(404);
    });
    auto req = leash::request::get(t.server.url("/start"));
    req.headers.set("Authorization", "Bearer secret");
    req.headers.set("Cookie", "s=1");
    req.headers.set("Proxy-Authorization", "Basic eDp5");
    req.headers.set("X-Trace", "kept");
    const auto got = t.send(std::move(req));
    REQUIRE_FALSE(got.ec);
    const auto same = t.server.requests().at(1);
    CHECK(same.header("Authorization") == "Bearer secret");
    CHECK(same.header("Cookie") == "s=1");
    const auto away = other.requests().at(0);
    CHECK_FALSE(away.has_header("Authorization"));
    CHECK_FALSE(away.has_header("Cookie"));
    CHECK_FALSE(away.has_header("Proxy-Authorization"));
    CHECK(away.header("X-Trace") == "kept");
    t.require_clean_end({&other});
}

TEST_CASE("redirects: the client's default Authorization is not sent to another origin")
{
    test_server other([](const received_request&) { return reply::ok("other"); });
    leash::client_options o;
    o.default_headers.set("Authorization", "Bearer key");
    rig t([&](const received_request&) { return redirect_to(307, other.url("/x")); }, o);
    REQUIRE_FALSE(t.send(leash::request::get(t.server.url("/"))).ec);
    CHECK(t.server.requests().at(0).header("Authorization") == "Bearer key");
    CHECK_FALSE(other.requests().at(0).has_header("Authorization"));
    t.require_clean_end({&other});
}

TEST_CASE("redirects: https to http is refused unless the policy allows it")
{
    test_server plain([](const received_request&) { return reply::ok("in clear"); });
    test_server secure_origin([&](const received_request&) { return redirect_to(302, plain.url("/clear")); });
    tls_front front(secure_origin.port(), shared_test_pki().valid());
    leash::transport_options t;
    t.tls.ca_file = shared_test_pki().ca_cert().string();
    const bool allowed = GENERATE(false, true);
    CAPTURE(allowed);
    leash::client_options o;
    o.redirect.allow_https_to_http = allowed;
    asio::io_context ioc;
    const auto fds_at_start = warm_up_and_count_fds(ioc);
    leash::client c(ioc, o, t);
    const auto got = run(ioc, call(c, leash::request::get(front.url("/"))));
    if (allowed) {
        CHECK_FALSE(got.ec);
        CHECK(got.body == "in clear");
    } else {
        CHECK(got.ec == leash::error::insecure_redirect);
        CHECK(got.status == 302);
        CHECK(plain.request_count() == 0);
    }
    require_clean_end(ioc, c, {&plain, &secure_origin}, fds_at_start);
    CHECK(front.wait_for_open_connections(0, 5s));
}

TEST_CASE("redirects: a short 3xx body is drained and its connection reused")
{
    rig t([](const received_request& r) {
        return r.target == "/from" ? redirect_to(302, "/to", std::string(1000, 'x')) : reply::ok("there");
    });
    const auto got = t.send(leash::request::get(t.server.url("/from")));
    CHECK(got.body == "there");
    CHECK(t.server.accepted() == 1);
    t.require_clean_end();
}

TEST_CASE("redirects: a 3xx body over max_discarded_body closes its connection and the chain goes on")
{
    leash::client_options o;
    o.max_discarded_body = 1024;
    rig t([](const received_request& r) {
        return r.target == "/from" ? redirect_to(302, "/to", std::string(256 * 1024, 'x')) : reply::ok("there");
    }, o);
    const auto got = t.send(leash::request::get(t.server.url("/from")));
    CHECK(got.body == "there");
    CHECK(t.server.accepted() == 2);
    t.require_clean_end();
}

TEST_CASE("redirects: 307 resends a rewindable body source; a one-shot source gets the 307 delivered")
{
    const bool rewindable = GENERATE(true, false);
    CAPTURE(rewindable);
    rig t(one_hop(307));
    auto req = with_method("POST", t.server.url("/from"), "");
    req.source = leash::body_source::from_string("streamed");
    if (!rewindable)
        req.source->rewind = nullptr;
    const auto got = t.send(std::move(req));
    REQUIRE_FALSE(got.ec);
    if (rewindable) {
        CHECK(got.body == "POST streamed");
        CHECK(t.server.requests().at(1).body == "streamed");
    } else {
        CHECK(got.status == 307);
        CHECK(t.server.request_count() == 1);
    }
    t.require_clean_end();
}

TEST_CASE("redirects: the hook sees each hop and may deliver the 3xx or refuse it")
{
    const auto verdict = GENERATE(leash::redirect_verdict::follow, leash::redirect_verdict::deliver,
                                  leash::redirect_verdict::refuse);
    CAPTURE(static_cast<int>(verdict));
    std::vector<std::string> hops;
    leash::client_options o;
    o.redirect.on_redirect = [&](const leash::redirect_hop& hop) {
        hops.push_back(std::to_string(hop.number) + " " + std::to_string(hop.status) + " " + std::string(hop.method)
                       + " " + std::string(hop.to) + (hop.cross_origin ? " cross" : ""));
        return hop.number == 2 ? verdict : leash::redirect_verdict::follow;
    };
    rig t([](const received_request& r) {
        if (r.target == "/1")
            return redirect_to(301, "/2");
        if (r.target == "/2")
            return redirect_to(303, "/3", "see other");
        return reply::ok("end");
    }, o);
    const auto got = t.send(leash::request::post(t.server.url("/1"), "{}"));
    REQUIRE(hops.size() == 2);
    CHECK(hops[0] == "1 301 GET " + t.server.url("/2"));
    CHECK(hops[1] == "2 303 GET " + t.server.url("/3"));
    switch (verdict) {
    case leash::redirect_verdict::follow:
        CHECK(got.body == "end");
        CHECK(got.redirects == 2);
        break;
    case leash::redirect_verdict::deliver:
        CHECK_FALSE(got.ec);
        CHECK(got.status == 303);
        CHECK(got.body == "see other");
        CHECK(got.redirects == 1);
        break;
    case leash::redirect_verdict::refuse:
        CHECK(got.ec == leash::error::redirect_vetoed);
        CHECK(got.status == 303);
        break;
    }
    t.require_clean_end();
}

TEST_CASE("redirects: credentials dropped on leaving the origin are not sent back to it")
{
    test_server other([&](const received_request&) { return reply::ok(); });
    rig t([&](const received_request& r) {
        if (r.target == "/start")
            return redirect_to(302, other.url("/away"));
        return reply::ok("back");
    });
    other.set_handler([&](const received_request&) { return redirect_to(302, t.server.url("/back")); });
    auto req = leash::request::get(t.server.url("/start"));
    req.headers.set("Authorization", "Bearer secret");
    const auto got = t.send(std::move(req));
    REQUIRE_FALSE(got.ec);
    CHECK(got.body == "back");
    CHECK(t.server.requests().at(0).header("Authorization") == "Bearer secret");
    CHECK_FALSE(other.requests().at(0).has_header("Authorization"));
    CHECK_FALSE(t.server.requests().at(1).has_header("Authorization"));
    t.require_clean_end({&other});
}

TEST_CASE("redirects: a 307 whose body source fails to rewind is delivered as the response")
{
    rig t(one_hop(307));
    auto req = with_method("POST", t.server.url("/from"), "");
    req.source = leash::body_source::from_string("streamed");
    req.source->rewind = [] { return false; };
    const auto got = t.send(std::move(req));
    REQUIRE_FALSE(got.ec);
    CHECK(got.status == 307);
    CHECK(t.server.request_count() == 1);
    t.require_clean_end();
}
