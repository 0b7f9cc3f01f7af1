#include <leash/detail/proxy_tunnel.hpp>

#include <catch2/catch.hpp>

#include <string>

using namespace leash;

TEST_CASE("proxy tunnel: CONNECT names the origin in authority form, the port always written", "[proxy]")
{
    const auto proxy = proxy_server::parse("http://proxy.internal:3128");
    std::string out = "left over";
    detail::write_connect_request(out, url::parse("https://api.example.com/v1/chat"), proxy, "");
    CHECK(out == "CONNECT api.example.com:443 HTTP/1.1\r\nHost: api.example.com:443\r\n\r\n");
    detail::write_connect_request(out, url::parse("https://[2001:db8::1]:8443/"), proxy, "");
    CHECK(out == "CONNECT [2001:db8::1]:8443 HTTP/1.1\r\nHost: [2001:db8::1]:8443\r\n\r\n");
}

TEST_CASE("proxy tunnel: CONNECT carries the proxy's credentials and the user agent, nothing of the origin request", "[proxy]")
{
    // RFC 7617's example credentials.
    const auto proxy = proxy_server::parse("http://Aladdin:open%20sesame@proxy.internal:3128");
    std::string out;
    detail::write_connect_request(out, url::parse("https://api.example.com/v1/chat?key=origin-secret"), proxy, "leash/0.1");
    CHECK(out == "CONNECT api.example.com:443 HTTP/1.1\r\n"
                 "Host: api.example.com:443\r\n"
                 "Proxy-Authorization: Basic QWxhZGRpbjpvcGVuIHNlc2FtZQ==\r\n"
                 "User-Agent: leash/0.1\r\n\r\n");
}

TEST_CASE("proxy tunnel: a 2xx answer opens the tunnel", "[proxy]")
{
    for (const int status : {200, 201, 204, 299})
        CHECK_FALSE(detail::tunnel_verdict(status));
}

TEST_CASE("proxy tunnel: 407 asks for credentials", "[proxy]")
{
    CHECK(detail::tunnel_verdict(407) == error::proxy_auth_required);
    CHECK_FALSE(detail::tunnel_verdict(407) == error::proxy_connect_refused);
}

TEST_CASE("proxy tunnel: any other answer is a refusal that carries the status", "[proxy]")
{
    for (const int status : {300, 302, 400, 403, 404, 500, 502, 503, 504, 199}) {
        const auto ec = detail::tunnel_verdict(status);
        CAPTURE(status);
        CHECK(ec == error::proxy_connect_refused);
        CHECK(ec.value() == status);
        CHECK(ec.category() == proxy_status_category());
        CHECK(ec.message().find(std::to_string(status)) != std::string::npos);
        CHECK_FALSE(ec == error::proxy_auth_required);
        CHECK_FALSE(ec == condition::timeout);
    }
}

TEST_CASE("proxy tunnel: a CONNECT answered too late is a timeout", "[proxy]")
{
    CHECK(std::error_code(error::proxy_connect_timeout) == condition::timeout);
    CHECK(std::string(error_name(error::proxy_connect_timeout)) == "proxy_connect_timeout");
}
