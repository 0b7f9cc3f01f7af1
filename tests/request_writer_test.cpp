#include <leash/detail/request_writer.hpp>

#include <catch2/catch.hpp>

using namespace leash;

TEST_CASE("request head: request line, Host, User-Agent and Content-Length")
{
    auto req = request::post("http://example.com:8080/v1/chat?x=1", "{}");
    std::string out;
    detail::write_request_head(out, req, url::parse(req.url), "leash-test");
    CHECK(out == "POST /v1/chat?x=1 HTTP/1.1\r\n"
                 "Host: example.com:8080\r\n"
                 "User-Agent: leash-test\r\n"
                 "Content-Type: application/json\r\n"
                 "Content-Length: 2\r\n\r\n");
}

TEST_CASE("request head: GET without body has no Content-Length; caller's Host wins")
{
    auto req = request::get("http://example.com/");
    req.headers.set("Host", "other");
    std::string out;
    detail::write_request_head(out, req, url::parse(req.url), "");
    CHECK(out == "GET / HTTP/1.1\r\nHost: other\r\n\r\n");
}

TEST_CASE("request head: through a proxy the target is in absolute form and the proxy's credentials go along")
{
    auto req = request::get("http://example.com:8080/v1/models?x=1");
    const auto proxy = proxy_server::parse("http://user:pa%40ss@proxy.internal:3128");
    std::string out;
    detail::write_request_head(out, req, url::parse(req.url), "", &proxy);
    CHECK(out == "GET http://example.com:8080/v1/models?x=1 HTTP/1.1\r\n"
                 "Proxy-Authorization: Basic dXNlcjpwYUBzcw==\r\n"
                 "Host: example.com:8080\r\n\r\n");
}

TEST_CASE("request head: through a proxy without credentials no Proxy-Authorization is sent")
{
    auto req = request::get("http://[::1]/");
    const auto proxy = proxy_server::parse("http://proxy.internal:3128");
    std::string out;
    detail::write_request_head(out, req, url::parse(req.url), "", &proxy);
    CHECK(out == "GET http://[::1]/ HTTP/1.1\r\nHost: [::1]\r\n\r\n");
}

TEST_CASE("request head: a request's own Proxy-Authorization is sent instead of the proxy URL's")
{
    auto req = request::get("http://example.com/");
    req.headers.set("Proxy-Authorization", "Bearer t");
    const auto proxy = proxy_server::parse("http://user:pass@proxy.internal:3128");
    std::string out;
    detail::write_request_head(out, req, url::parse(req.url), "", &proxy);
    CHECK(out == "GET http://example.com/ HTTP/1.1\r\nHost: example.com\r\nProxy-Authorization: Bearer t\r\n\r\n");
}

TEST_CASE("request head: Content-Length is computed, never taken from the caller")
{
    auto req = request::post("http://h/", "abc", "text/plain");
    req.headers.set("Content-Length", "999");
    req.headers.set("Transfer-Encoding", "chunked");
    std::string out;
    detail::write_request_head(out, req, url::parse(req.url), "");
    CHECK(out.find("Content-Length: 3\r\n") != std::string::npos);
    CHECK(out.find("999") == std::string::npos);
    CHECK(out.find("Transfer-Encoding") == std::string::npos);
}

TEST_CASE("request validation: bad methods and unchecked bad fields are refused")
{
    auto req = request::get("http://h/");
    req.method = "GE T";
    CHECK(detail::validate_request(req) == error::invalid_method);
    req.method = "";
    CHECK(detail::validate_request(req) == error::invalid_method);
    req.method = "GET";
    req.headers.append_unchecked("X", "a\r\nEvil: 1");
    CHECK(detail::validate_request(req) == error::invalid_header_value);
}

TEST_CASE("keep-alive hint: timeout=N is read from the Keep-Alive header")
{
    CHECK(detail::keep_alive_timeout_hint(headers{{"Keep-Alive", "timeout=5, max=100"}}) == 5);
    CHECK(detail::keep_alive_timeout_hint(headers{{"Keep-Alive", "max=100,timeout = 7"}}) == 7);
    CHECK_FALSE(detail::keep_alive_timeout_hint(headers{{"Keep-Alive", "timeout=abc"}}));
    CHECK_FALSE(detail::keep_alive_timeout_hint(headers{}));
}

TEST_CASE("keep-alive hint: the first timeout element decides")
{
    CHECK(detail::keep_alive_timeout_hint(headers{{"Keep-Alive", "timeout=3, timeout=9"}}) == 3);
    CHECK_FALSE(detail::keep_alive_timeout_hint(headers{{"Keep-Alive", "timeout=abc, timeout=5"}}));
}

TEST_CASE("request validation: methods with CR, LF, NUL, spaces or separators are refused")
{
    for (std::string method : {std::string("GET\r\n"), std::string("GE\nT"), std::string("GET\0", 4),
                               std::string("G(T"), std::string("GET/"), std::string("G\"T"), std::string("G\x7f"),
                               std::string("G\xc3\xa9T"), std::string(" GET"), std::string("GET\t")}) {
        CAPTURE(method);
        auto req = request::get("http://h/");
        req.method = method;
        CHECK(detail::validate_request(req) == error::invalid_method);
    }
    auto req = request::get("http://h/");
    req.method = "M-SEARCH";
    CHECK_FALSE(detail::validate_request(req));
}

TEST_CASE("request validation: header names appended unchecked must still be tokens")
{
    for (std::string name : {std::string("X\r\nEvil"), std::string("X Y"), std::string("X:"), std::string("X\0", 2),
                             std::string("")}) {
        CAPTURE(name);
        auto req = request::get("http://h/");
        req.headers.append_unchecked(name, "v");
        CHECK(detail::validate_request(req) == error::invalid_header_name);
    }
}
