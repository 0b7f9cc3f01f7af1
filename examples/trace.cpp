// trace - watches requests to an OpenAI-compatible chat endpoint through leash's trace hooks,
// shows the leak diagnostic catching a forgotten streaming body, and prints the transport's
// statistics in the Prometheus text format.
//
//   usage: trace URL [API_KEY]     URL: ".../chat/completions"; API_KEY default "mock-key"
//                                  (ARK_MODEL sets the model, default doubao-seed-1-6-250615)
//
// Two short requests show a new connection (connect, TLS for https) and then its reuse; a
// streaming request whose body is never read is reported once it has held its connection for
// 200 ms, naming the request.
#include <leash/leash.hpp>

#include <asio.hpp>

#include <chrono>
#include <cstdlib>
#include <exception>
#include <iostream>
#include <memory>
#include <string>

namespace {

using clock_type = std::chrono::steady_clock;
const clock_type::time_point started = clock_type::now();
bool unread_body_reported = false;  // (one thread runs everything here)

// One line per event: milliseconds since the start, the event, its details.
std::ostream& at()
{
    const std::chrono::duration<double, std::milli> t = clock_type::now() - started;
    std::cout.setf(std::ios::fixed);
    std::cout.precision(3);
    return std::cout << "+" << t.count() << " ms  ";
}

template <class Duration>
double ms(Duration d)
{
    return std::chrono::duration<double, std::milli>(d).count();
}

std::shared_ptr<const leash::trace_hooks> printing_hooks()
{
    auto h = std::make_shared<leash::trace_hooks>();
    h->get_conn = [](const leash::get_conn_event& e) {
        at() << "get_conn " << e.request.method << ' ' << e.request.host << e.request.target
             << (e.queued ? " (queued: every connection is busy)" : "") << '\n';
    };
    h->dns_start = [](const leash::dns_start_event& e) { at() << "dns_start " << e.name << '\n'; };
    h->dns_done = [](const leash::dns_done_event& e) {
        at() << "dns_done";
        for (const auto& a : e.addresses)
            std::cout << ' ' << a.to_string();
        std::cout << (e.error ? " error: " + e.error.message() : std::string()) << '\n';
    };
    h->connect_start = [](const leash::connect_start_event& e) { at() << "connect_start " << e.endpoint << '\n'; };
    h->connect_done = [](const leash::connect_done_event& e) {
        at() << "connect_done " << e.endpoint << (e.error ? " error: " + e.error.message() : std::string()) << '\n';
    };
    h->tls_handshake_start = [](const leash::tls_handshake_start_event&) { at() << "tls_handshake_start\n"; };
    h->tls_handshake_done = [](const leash::tls_handshake_done_event& e) {
        at() << "tls_handshake_done " << e.version << (e.resumed ? " resumed" : "")
             << (e.error ? " error: " + e.error.message() : std::string()) << '\n';
    };
    h->got_conn = [](const leash::got_conn_event& e) {
        at() << "got_conn #" << e.connection_id;
        if (e.reused)
            std::cout << " reused, idle " << ms(e.idle_time) << " ms,";
        else
            std::cout << " new,";
        std::cout << " after " << ms(e.wait_time) << " ms\n";
    };
    h->wrote_headers = [](const leash::request_event& e) { at() << "wrote_headers #" << e.connection_id << '\n'; };
    h->wrote_request = [](const leash::wrote_request_event& e) {
        at() << "wrote_request #" << e.connection_id << (e.error ? " error: " + e.error.message() : std::string())
             << '\n';
    };
    h->first_response_byte = [](const leash::request_event& e) {
        at() << "first_response_byte #" << e.connection_id << '\n';
    };
    h->put_idle = [](const leash::put_idle_event& e) {
        at() << "put_idle #" << e.connection_id << " (closed if unused for " << ms(e.idle_timeout) << " ms)\n";
    };
    h->connection_closed = [](const leash::connection_closed_event& e) {
        at() << "connection_closed #" << e.connection_id << ' ' << leash::to_string(e.reason) << " after "
             << e.requests << " request(s)\n";
    };
    // The leak diagnostic: in a service, send this to the log with a stack of your own.
    h->unread_body = [](const leash::unread_body_event& e) {
        unread_body_reported = true;
        at() << "unread_body: the response body of " << e.request.method << ' ' << e.request.host
             << e.request.target << " has held connection #" << e.connection_id << " for " << ms(e.held_for)
             << " ms without being read" << (e.read_before ? " (partly read)" : "") << '\n';
    };
    return h;
}

asio::awaitable<void> run(leash::transport& transport, std::string url, std::string key)
{
    const char* model_env = std::getenv("ARK_MODEL");
    const std::string model = model_env ? model_env : "doubao-seed-1-6-250615";
    auto chat = [&](bool stream) {
        auto req = leash::request::post(url, R"({"model":")" + model
                                                 + R"(","messages":[{"role":"user","content":"Hi"}],"stream":)"
                                                 + (stream ? "true}" : "false}"));
        req.headers.set("Authorization", "Bearer " + key);
        return req;
    };

    for (int i = 0; i < 2; ++i) {
        std::cout << "--- request " << i + 1 << '\n';
        auto res = co_await transport.async_send(chat(false), asio::use_awaitable);
        auto text = co_await res.body.async_read_all(1 << 20, asio::use_awaitable);
        at() << "status " << res.status << ", " << text.size() << " body bytes read\n";
    }

    std::cout << "--- a streaming response whose body is forgotten\n";
    auto forgotten = co_await transport.async_send(chat(true), asio::use_awaitable);
    // Give the diagnostic time to notice (200 ms, see main), at most 10 s.
    asio::steady_timer wait(co_await asio::this_coro::executor);
    for (int i = 0; i < 200 && !unread_body_reported; ++i) {
        wait.expires_after(std::chrono::milliseconds(50));
        co_await wait.async_wait(asio::use_awaitable);
    }
    forgotten = leash::response();  // dropping it closes the connection (it was never read)
}

} // namespace

int main(int argc, char* argv[])
{
    if (argc < 2 || argc > 3) {
        std::cerr << "usage: trace URL [API_KEY]\n";
        return 2;
    }
    asio::io_context io;
    leash::transport_options options;
    options.trace = printing_hooks();
    options.report_unread_body_after = std::chrono::milliseconds(200);
    leash::transport transport(io, options);
    int exit_code = 0;

    asio::co_spawn(io, run(transport, argv[1], argc > 2 ? argv[2] : "mock-key"), [&](std::exception_ptr failure) {
        transport.shutdown();
        if (!failure)
            return;
        exit_code = 1;
        try {
            std::rethrow_exception(failure);
        } catch (const std::exception& e) {
            std::cerr << "trace: " << e.what() << '\n';
        }
    });
    io.run();

    std::cout << "--- transport_stats, as Prometheus text\n" << leash::to_prometheus_text(transport.stats());
    return exit_code;
}
