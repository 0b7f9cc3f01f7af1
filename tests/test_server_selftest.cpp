// Self-tests for the in-process test server, driven by a raw TCP client.
#include "support/test_server.hpp"

#include <catch2/catch.hpp>

#include <array>
#include <cctype>
#include <chrono>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>

using namespace std::chrono_literals;
using leash::test::reply;
using leash::test::test_server;

namespace {

constexpr auto wait_limit = std::chrono::milliseconds(2000);

// A blocking-style TCP client whose every operation has a timeout: each call
// runs one asynchronous operation on a private io_context for a bounded time.
class raw_client {
public:
    struct read_result {
        std::string data;
        asio::error_code error;
        bool timed_out = false;
    };

    explicit raw_client(unsigned short port) {
        bool done = false;
        asio::error_code error;
        socket_.async_connect({asio::ip::make_address_v4("127.0.0.1"), port},
                              [&](const asio::error_code& ec) {
                                  error = ec;
                                  done = true;
                              });
        connected_ = run_until(done, wait_limit) && !error;
    }

    bool connected() const { return connected_; }

    bool send(std::string_view bytes) {
        bool done = false;
        asio::error_code error;
        asio::async_write(socket_, asio::buffer(bytes), [&](const asio::error_code& ec, std::size_t) {
            error = ec;
            done = true;
        });
        return run_until(done, wait_limit) && !error;
    }

    // One read of whatever arrives first (previously buffered bytes included).
    read_result read_some(std::chrono::milliseconds timeout) {
        if (!buffered_.empty()) return {std::exchange(buffered_, {}), {}, false};
        return read_from_socket(timeout);
    }

    // Reads one response framed by Content-Length (or none), leaving any
    // further bytes buffered. Returns "" on timeout, EOF or error.
    std::string read_response(std::chrono::milliseconds timeout = wait_limit) {
        const auto deadline = std::chrono::steady_clock::now() + timeout;
        for (;;) {
            if (auto size = complete_response_size()) {
                std::string response = buffered_.substr(0, *size);
                buffered_.erase(0, *size);
                return response;
            }
            const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
                deadline - std::chrono::steady_clock::now());
            if (left <= 0ms) return {};
            auto r = read_from_socket(left);
            if (r.error || r.timed_out) return {};
            buffered_ += r.data;
        }
    }

    // Reads until EOF or error; `timed_out` is set if neither came in time.
    read_result read_until_closed(std::chrono::milliseconds timeout = wait_limit) {
        read_result all{std::exchange(buffered_, {}), {}, false};
        const auto deadline = std::chrono::steady_clock::now() + timeout;
        for (;;) {
            const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
                deadline - std::chrono::steady_clock::now());
            if (left <= 0ms) {
                all.timed_out = true;
                return all;
            }
            auto r = read_from_socket(left);
            all.data += r.data;
            if (r.error || r.timed_out) {
                all.error = r.error;
                all.timed_out = r.timed_out;
                return all;
            }
        }
    }

    void close() {
        asio::error_code ignored;
        socket_.close(ignored);
    }

private:
    read_result read_from_socket(std::chrono::milliseconds timeout) {
        read_result result;
        bool done = false;
        std::array<char, 4096> buffer{};
        socket_.async_read_some(asio::buffer(buffer), [&](const asio::error_code& ec, std::size_t n) {
            result.error = ec;
            result.data.assign(buffer.data(), n);
            done = true;
        });
        result.timed_out = !run_until(done, timeout);
        return result;
    }

    // Runs the pending operation until `done` or the timeout; on timeout the
    // operation is cancelled and drained. Returns whether it finished in time.
    bool run_until(const bool& done, std::chrono::milliseconds timeout) {
        io_.restart();
        io_.run_for(timeout);
        if (done) return true;
        asio::error_code ignored;
        socket_.cancel(ignored);
        io_.restart();
        io_.run();
        return false;
    }

    // Size of the first complete response in buffered_, if there is one.
    std::optional<std::size_t> complete_response_size() const {
        const auto head_end = buffered_.find("\r\n\r\n");
        if (head_end == std::string::npos) return std::nullopt;
        std::size_t body_size = 0;
        std::string head = buffered_.substr(0, head_end);
        for (auto& c : head) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
        if (const auto at = head.find("content-length:"); at != std::string::npos) {
            body_size = std::stoul(head.substr(at + 15));
        }
        const auto total = head_end + 4 + body_size;
        if (buffered_.size() < total) return std::nullopt;
        return total;
    }

    asio::io_context io_;
    asio::ip::tcp::socket socket_{io_};
    bool connected_ = false;
    std::string buffered_;
};

std::string get_request(std::string_view target, std::string_view extra_headers = "") {
    return "GET " + std::string(target) + " HTTP/1.1\r\nHost: test\r\n" + std::string(extra_headers) +
           "\r\n";
}

std::string body_of(const std::string& response) {
    const auto head_end = response.find("\r\n\r\n");
    return head_end == std::string::npos ? std::string() : response.substr(head_end + 4);
}

bool is_eof(const raw_client::read_result& r) {
    return !r.timed_out && r.error == asio::error::eof;
}

}  // namespace

TEST_CASE("test_server: default reply is 200 ok with Content-Length", "[test_server]") {
    test_server server;
    raw_client client(server.port());
    REQUIRE(client.connected());
    REQUIRE(client.send(get_request("/hello", "X-Dup: 1\r\nx-dup: 2\r\n")));

    const auto response = client.read_response();
    CHECK(response.rfind("HTTP/1.1 200 OK\r\n", 0) == 0);
    CHECK(response.find("Content-Length: 2\r\n") != std::string::npos);
    CHECK(body_of(response) == "ok");

    REQUIRE(server.wait_for_requests(1, wait_limit));
    const auto requests = server.requests();
    REQUIRE(requests.size() == 1);
    CHECK(requests[0].method == "GET");
    CHECK(requests[0].target == "/hello");
    CHECK(requests[0].version == "HTTP/1.1");
    CHECK(requests[0].header("HOST") == "test");
    CHECK(requests[0].header("absent").empty());
    CHECK(requests[0].count_header("X-Dup") == 2);
    CHECK(requests[0].body.empty());
    CHECK(server.url("/a") == "http://127.0.0.1:" + std::to_string(server.port()) + "/a");
    CHECK(server.url("a") == server.url("/a"));
}

TEST_CASE("test_server: keep-alive serves several requests on one connection", "[test_server]") {
    test_server server([](const leash::test::received_request& req) { return reply::ok(req.target); });
    raw_client client(server.port());
    REQUIRE(client.connected());

    REQUIRE(client.send(get_request("/one")));
    CHECK(body_of(client.read_response()) == "/one");
    REQUIRE(client.send(get_request("/two")));
    CHECK(body_of(client.read_response()) == "/two");

    SECTION("pipelined requests are answered in order") {
        REQUIRE(client.send(get_request("/three") + get_request("/four")));
        CHECK(body_of(client.read_response()) == "/three");
        CHECK(body_of(client.read_response()) == "/four");
        REQUIRE(server.wait_for_requests(4, wait_limit));
        CHECK(server.requests()[3].index_on_connection == 3);
    }

    REQUIRE(server.wait_for_requests(2, wait_limit));
    const auto requests = server.requests();
    CHECK(requests[0].index_on_connection == 0);
    CHECK(requests[1].index_on_connection == 1);
    CHECK(requests[0].connection_id == requests[1].connection_id);
    CHECK(server.accepted() == 1);
}

TEST_CASE("test_server: request bodies are decoded", "[test_server]") {
    test_server server;
    raw_client client(server.port());
    REQUIRE(client.connected());

    SECTION("chunked, delivered in fragments, with extensions and trailers") {
        REQUIRE(client.send("POST /up HTTP/1.1\r\nHost: test\r\nTransfer-Encoding: chunked\r\n\r\n4\r\nWi"));
        REQUIRE(client.send("ki\r\n5;ext=1\r\npedia\r\n"));
        REQUIRE(client.send("0\r\nX-Trailer: yes\r\n\r\n"));
        CHECK(body_of(client.read_response()) == "ok");
        REQUIRE(server.wait_for_requests(1, wait_limit));
        const auto req = server.requests().at(0);
        CHECK(req.method == "POST");
        CHECK(req.body == "Wikipedia");
        REQUIRE(req.trailers.size() == 1);
        CHECK(req.trailers[0].first == "X-Trailer");
        CHECK(req.trailers[0].second == "yes");
    }

    SECTION("Content-Length") {
        REQUIRE(client.send("PUT /up HTTP/1.1\r\nContent-Length: 11\r\n\r\nhello"));
        REQUIRE(client.send(" world"));
        CHECK(body_of(client.read_response()) == "ok");
        REQUIRE(server.wait_for_requests(1, wait_limit));
        CHECK(server.requests().at(0).body == "hello world");
    }

    SECTION("a malformed request gets 400 and a close") {
        REQUIRE(client.send("NONSENSE\r\n\r\n"));
        const auto r = client.read_until_closed();
        CHECK(r.data.rfind("HTTP/1.1 400 ", 0) == 0);
        CHECK(is_eof(r));
        CHECK(server.request_count() == 0);
    }
}

TEST_CASE("test_server: then_close sends the reply and closes", "[test_server]") {
    test_server server([](const auto&) { return reply::ok("bye").then_close(); });
    raw_client client(server.port());
    REQUIRE(client.connected());
    REQUIRE(client.send(get_request("/")));

    const auto r = client.read_until_closed();
    CHECK(is_eof(r));
    CHECK(body_of(r.data) == "bye");
    CHECK(server.wait_for_open_connections(0, wait_limit));
    CHECK(server.closed_by_client() == 0);
}

TEST_CASE("test_server: a request with Connection: close is answered, then closed", "[test_server]") {
    test_server server;
    raw_client client(server.port());
    REQUIRE(client.connected());
    REQUIRE(client.send(get_request("/", "Connection: close\r\n")));

    const auto r = client.read_until_closed();
    CHECK(is_eof(r));
    CHECK(body_of(r.data) == "ok");
}

TEST_CASE("test_server: then_reset makes the client see a reset", "[test_server]") {
    test_server server([](const auto&) { return reply::ok().then_reset(); });
    raw_client client(server.port());
    REQUIRE(client.connected());
    REQUIRE(client.send(get_request("/")));

    const auto r = client.read_until_closed();
    CHECK_FALSE(r.timed_out);
    CHECK(r.error == asio::error::connection_reset);
}

TEST_CASE("test_server: close_without_reply closes without sending anything", "[test_server]") {
    test_server server([](const auto&) { return reply::close_without_reply(); });
    raw_client client(server.port());
    REQUIRE(client.connected());
    REQUIRE(client.send(get_request("/")));

    const auto r = client.read_until_closed();
    CHECK(is_eof(r));
    CHECK(r.data.empty());
    CHECK(server.request_count() == 1);
}

TEST_CASE("test_server: never() reads the request and stays silent", "[test_server]") {
    test_server server([](const auto&) { return reply::never(); });
    raw_client client(server.port());
    REQUIRE(client.connected());
    REQUIRE(client.send(get_request("/")));

    REQUIRE(server.wait_for_requests(1, wait_limit));
    const auto r = client.read_some(200ms);
    CHECK(r.timed_out);
    CHECK(r.data.empty());
    CHECK(server.open_connections() == 1);

    // The client giving up is still noticed.
    client.close();
    CHECK(server.wait_for_closed_by_client(1, wait_limit));
    CHECK(server.wait_for_open_connections(0, wait_limit));
}

TEST_CASE("test_server: the destructor closes held connections", "[test_server]") {
    std::optional<raw_client> client;
    {
        test_server server([](const auto&) { return reply::never(); });
        client.emplace(server.port());
        REQUIRE(client->connected());
        REQUIRE(client->send(get_request("/")));
        REQUIRE(server.wait_for_requests(1, wait_limit));
    }
    const auto r = client->read_until_closed();
    CHECK_FALSE(r.timed_out);
    CHECK(r.error);
}

TEST_CASE("test_server: close_idle_after closes an unused keep-alive connection", "[test_server]") {
    test_server server([](const auto&) { return reply::ok().close_idle_after(100ms); });
    raw_client client(server.port());
    REQUIRE(client.connected());

    SECTION("idle client: the server closes") {
        REQUIRE(client.send(get_request("/")));
        CHECK(body_of(client.read_response()) == "ok");
        CHECK(is_eof(client.read_until_closed()));
        CHECK(server.wait_for_open_connections(0, wait_limit));
        CHECK(server.closed_by_client() == 0);
    }

    SECTION("a request in time keeps the connection") {
        REQUIRE(client.send(get_request("/1")));
        CHECK(body_of(client.read_response()) == "ok");
        REQUIRE(client.send(get_request("/2")));
        CHECK(body_of(client.read_response()) == "ok");
        REQUIRE(server.wait_for_requests(2, wait_limit));
        CHECK(server.requests()[1].index_on_connection == 1);
    }
}

TEST_CASE("test_server: close_idle_connections closes only idle connections", "[test_server]") {
    test_server server([](const leash::test::received_request& req) {
        return req.target == "/slow" ? reply::never() : reply::ok();
    });
    raw_client idle(server.port());
    raw_client busy(server.port());
    REQUIRE(idle.connected());
    REQUIRE(busy.connected());
    REQUIRE(idle.send(get_request("/")));
    CHECK(body_of(idle.read_response()) == "ok");
    REQUIRE(busy.send(get_request("/slow")));
    REQUIRE(server.wait_for_requests(2, wait_limit));

    CHECK(server.close_idle_connections() == 1);
    CHECK(is_eof(idle.read_until_closed()));
    CHECK(server.open_connections() == 1);
}

TEST_CASE("test_server: connection counters", "[test_server]") {
    test_server server;
    std::optional<raw_client> first(std::in_place, server.port());
    std::optional<raw_client> second(std::in_place, server.port());
    REQUIRE(first->connected());
    REQUIRE(second->connected());

    REQUIRE(server.wait_for_accepted(2, wait_limit));
    REQUIRE(server.wait_for_open_connections(2, wait_limit));
    CHECK(server.peak_open_connections() == 2);

    first.reset();
    CHECK(server.wait_for_closed_by_client(1, wait_limit));
    CHECK(server.wait_for_open_connections(1, wait_limit));

    second->close();
    CHECK(server.wait_for_closed_by_client(2, wait_limit));
    CHECK(server.wait_for_open_connections(0, wait_limit));

    const auto stats = server.stats();
    CHECK(stats.accepted == 2);
    CHECK(stats.peak_open_connections == 2);
    CHECK(stats.requests == 0);
    CHECK(server.wait_for([](const auto& s) { return s.closed_by_client == 2; }, wait_limit));

    SECTION("waits time out instead of hanging") {
        const auto start = std::chrono::steady_clock::now();
        CHECK_FALSE(server.wait_for_requests(1, 50ms));
        CHECK_FALSE(server.wait_for_accepted(3, 50ms));
        CHECK(std::chrono::steady_clock::now() - start < wait_limit);
    }
}

TEST_CASE("test_server: delayed pieces are written in order", "[test_server]") {
    test_server server([](const auto&) {
        return reply::raw("HTTP/1.1 200 OK\r\nContent-Length: 6\r\n\r\nabc")
            .piece(150ms, "def")
            .delay(50ms);
    });
    raw_client client(server.port());
    REQUIRE(client.connected());

    const auto start = std::chrono::steady_clock::now();
    REQUIRE(client.send(get_request("/")));
    CHECK(body_of(client.read_response()) == "abcdef");
    CHECK(std::chrono::steady_clock::now() - start >= 200ms);
}

TEST_CASE("test_server: raw, interim and chunked replies", "[test_server]") {
    SECTION("100 Continue followed by a final response") {
        test_server server([](const auto&) {
            return reply::raw("HTTP/1.1 100 Continue\r\n\r\n").piece(20ms, "HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n");
        });
        raw_client client(server.port());
        REQUIRE(client.connected());
        REQUIRE(client.send(get_request("/")));
        CHECK(client.read_response() == "HTTP/1.1 100 Continue\r\n\r\n");
        CHECK(client.read_response() == "HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n");
    }

    SECTION("chunked with trailers") {
        test_server server([](const auto&) {
            return reply::chunked({"Wiki", "pedia"}, {{"X-Sum", "1"}}).then_close();
        });
        raw_client client(server.port());
        REQUIRE(client.connected());
        REQUIRE(client.send(get_request("/")));
        const auto r = client.read_until_closed();
        CHECK(is_eof(r));
        CHECK(r.data ==
              "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"
              "4\r\nWiki\r\n5\r\npedia\r\n0\r\nX-Sum: 1\r\n\r\n");
    }

    SECTION("a status reply with Connection: close closes") {
        test_server server([](const auto&) { return reply::status(404, "nope", {{"Connection", "close"}}); });
        raw_client client(server.port());
        REQUIRE(client.connected());
        REQUIRE(client.send(get_request("/")));
        const auto r = client.read_until_closed();
        CHECK(is_eof(r));
        CHECK(r.data.rfind("HTTP/1.1 404 Not Found\r\n", 0) == 0);
        CHECK(body_of(r.data) == "nope");
    }
}

TEST_CASE("test_server: an endless body stops when the client closes", "[test_server]") {
    test_server server([](const auto&) { return reply::endless_chunked(std::string(512, 'x'), 5ms); });
    raw_client client(server.port());
    REQUIRE(client.connected());
    REQUIRE(client.send(get_request("/")));

    std::string received;
    for (int i = 0; i < 50 && received.size() < 4096; ++i) {
        auto r = client.read_some(wait_limit);
        REQUIRE_FALSE(r.timed_out);
        REQUIRE_FALSE(r.error);
        received += r.data;
    }
    CHECK(received.size() >= 4096);

    client.close();
    CHECK(server.wait_for_closed_by_client(1, wait_limit));
    CHECK(server.wait_for_open_connections(0, wait_limit));
}

TEST_CASE("test_server: a throwing handler yields 500 and a close", "[test_server]") {
    test_server server([](const auto&) -> reply { throw std::runtime_error("boom"); });
    raw_client client(server.port());
    REQUIRE(client.connected());
    REQUIRE(client.send(get_request("/")));

    const auto r = client.read_until_closed();
    CHECK(is_eof(r));
    CHECK(r.data.rfind("HTTP/1.1 500 ", 0) == 0);
}

TEST_CASE("test_server: set_handler changes later replies", "[test_server]") {
    test_server server;
    raw_client client(server.port());
    REQUIRE(client.connected());
    REQUIRE(client.send(get_request("/")));
    CHECK(body_of(client.read_response()) == "ok");

    server.set_handler([](const auto&) { return reply::ok("changed"); });
    REQUIRE(client.send(get_request("/")));
    CHECK(body_of(client.read_response()) == "changed");
}

TEST_CASE("test_server: does not leak file descriptors", "[test_server]") {
    const auto before = leash::test::open_fd_count();
    CHECK(before > 0);
    {
        test_server server;
        raw_client client(server.port());
        REQUIRE(client.connected());
        REQUIRE(client.send(get_request("/")));
        CHECK(body_of(client.read_response()) == "ok");
    }
    CHECK(leash::test::open_fd_count() == before);
}
