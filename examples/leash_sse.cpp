// leash-sse - reads a server-sent event stream and prints every event as one line of JSON.
//
//   usage: leash-sse [--insecure | --cacert FILE] [--proxy URL] [--compressed] [--event-timeout-ms MS] [--read-timeout-ms MS] [-H 'Name: value']... [-d BODY] URL
//
// Sends GET URL, or POST URL with BODY when -d is given (Content-Type: application/json unless
// a -H sets another). Accept: text/event-stream is sent unless a -H sets Accept. -H fields are
// added in order; a name given twice is sent twice.
//
// Output contract (other tools read it): standard output carries nothing but one line per
// dispatched event, in stream order, flushed as soon as the event is complete:
//   {"type":"<event type>","data":"<data>","id":"<last event id>"}
// with the keys in this order and no spaces. "type" is "message" unless an event field named
// it, "data" holds the data lines joined by "\n", "id" is the last event id in effect when the
// event was dispatched ("" if none). Strings are JSON-escaped (control characters as \n, \t,
// \u0001, ...); UTF-8 passes through unescaped, and bytes that are not valid UTF-8 become
// U+FFFD. Every event is printed, "data: [DONE]" included: nothing ends the stream early.
//
// Exit status: 0 at the end of the stream; 1 on a transport or stream error, or when the
// response status is not 2xx (then the status line and at most 64 KiB of the body go to
// standard error); 2 on a usage error. Diagnostics go to standard error only.
//
// --cacert FILE trusts the CA certificates in FILE (PEM) instead of the system store;
// --insecure accepts any certificate (never against a server you do not control).
// --proxy URL sends the request through this HTTP proxy, http://[user:pass@]host:port (https://
// targets through a CONNECT tunnel, with the target's certificate verified as without one).
// --compressed sends Accept-Encoding for the codings this build decodes and decodes the stream
// as it arrives (each event is printed as soon as its compressed bytes are in).
// --event-timeout-ms MS fails (exit status 1, the timeout named on standard error) when no event
// is dispatched for MS, from the start or from the last event: comment lines and blank
// keep-alive lines do not reset it. --read-timeout-ms MS fails when no byte at all arrives
// for MS (body_read_timeout). Without them the defaults of sse::reader_options and
// transport_options apply.
// The transport's default timeouts apply: a stream that stays silent (not even a comment line)
// for longer than body_read_timeout (120 s) fails with body_read_timeout.
#include <leash/leash.hpp>

#include <asio.hpp>
#include <asio/experimental/as_tuple.hpp>
#include <nlohmann/json.hpp>

#include <charconv>
#include <chrono>
#include <cstddef>
#include <cstdlib>
#include <exception>
#include <iostream>
#include <optional>
#include <string>
#include <string_view>
#include <system_error>
#include <utility>
#include <vector>

namespace {

constexpr std::string_view program_name = "leash-sse";
// How much of an error response's body is shown.
constexpr std::size_t max_error_body = 64 * 1024;
constexpr auto as_tuple = asio::experimental::as_tuple(asio::use_awaitable);

struct options {
    bool insecure = false;
    std::string cacert;
    std::string proxy;
    bool compressed = false;
    std::optional<std::chrono::milliseconds> event_timeout;
    std::optional<std::chrono::milliseconds> read_timeout;
    leash::headers headers;
    std::optional<std::string> data;
    std::string url;
};

[[noreturn]] void usage_error(std::string_view message)
{
    std::cerr << program_name << ": " << message << '\n'
              << "usage: " << program_name << " [--insecure | --cacert FILE] [--proxy URL] [--compressed] [--event-timeout-ms MS] [--read-timeout-ms MS] [-H 'Name: value']... [-d BODY] URL\n";
    std::exit(2);
}

// A positive number of milliseconds, the whole of `text`.
std::chrono::milliseconds milliseconds(std::string_view option, std::string_view text)
{
    long long ms = 0;
    const auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), ms);
    if (ec != std::errc() || end != text.data() + text.size() || ms <= 0 || ms > 1'000'000'000)
        usage_error(std::string(option) + " needs a positive number of milliseconds, got '" + std::string(text) + "'");
    return std::chrono::milliseconds(ms);
}

std::string_view trim(std::string_view s)
{
    while (!s.empty() && (s.front() == ' ' || s.front() == '\t'))
        s.remove_prefix(1);
    while (!s.empty() && (s.back() == ' ' || s.back() == '\t'))
        s.remove_suffix(1);
    return s;
}

options parse_options(int argc, char* argv[])
{
    options opts;
    bool have_url = false;
    for (int i = 1; i < argc; ++i) {
        const std::string_view arg = argv[i];
        auto value = [&]() -> std::string_view {
            if (++i == argc)
                usage_error(std::string(arg) + " needs a value");
            return argv[i];
        };
        if (arg == "-h" || arg == "--help") {
            std::cout << "usage: " << program_name
                      << " [--insecure | --cacert FILE] [--proxy URL] [--compressed] [--event-timeout-ms MS] [--read-timeout-ms MS] [-H 'Name: value']... [-d BODY] URL\n";
            std::exit(0);
        } else if (arg == "--event-timeout-ms") {
            opts.event_timeout = milliseconds(arg, value());
        } else if (arg == "--read-timeout-ms") {
            opts.read_timeout = milliseconds(arg, value());
        } else if (arg == "--compressed") {
            opts.compressed = true;
        } else if (arg == "--insecure") {
            opts.insecure = true;
        } else if (arg == "--cacert") {
            opts.cacert = value();
        } else if (arg == "--proxy") {
            opts.proxy = value();
            std::error_code ec;
            if (!leash::proxy_server::parse(opts.proxy, ec))
                usage_error("--proxy: " + ec.message());
        } else if (arg == "-H") {
            const std::string_view field = value();
            const auto colon = field.find(':');
            if (colon == std::string_view::npos)
                usage_error("-H needs 'Name: value', got '" + std::string(field) + "'");
            std::error_code ec;
            opts.headers.add(trim(field.substr(0, colon)), trim(field.substr(colon + 1)), ec);
            if (ec)
                usage_error("-H '" + std::string(field) + "': " + ec.message());
        } else if (arg == "-d") {
            if (opts.data)
                usage_error("-d may be given once");
            opts.data = std::string(value());
        } else if (arg.size() > 1 && arg.front() == '-') {
            usage_error("unknown option " + std::string(arg));
        } else if (have_url) {
            usage_error("more than one URL");
        } else {
            opts.url = arg;
            have_url = true;
        }
    }
    if (!have_url)
        usage_error("no URL given");
    if (opts.insecure && !opts.cacert.empty())
        usage_error("--insecure and --cacert exclude each other");
    return opts;
}

// The message for an error code; leash's own codes also carry their stable name.
std::string describe(std::error_code ec)
{
    std::string text = ec.message();
    if (ec.category() == leash::error_category())
        text += std::string(" (") + leash::error_name(static_cast<leash::error>(ec.value())) + ')';
    else if (ec == leash::error::proxy_connect_refused)  // (its value is the proxy's status)
        text += std::string(" (") + leash::error_name(leash::error::proxy_connect_refused) + ')';
    return text;
}

void print_event(const leash::sse::event& event)
{
    // ordered_json keeps the keys in the order of the contract.
    nlohmann::ordered_json line;
    line["type"] = event.type;
    line["data"] = event.data;
    line["id"] = event.id;
    std::cout << line.dump(-1, ' ', false, nlohmann::ordered_json::error_handler_t::replace) << '\n' << std::flush;
}

// Shows a non-2xx response: its status line and the start of its body.
asio::awaitable<void> report_status(leash::response& res)
{
    std::string body;
    std::vector<char> buffer(16 * 1024);
    while (body.size() < max_error_body) {
        const std::size_t want = std::min(buffer.size(), max_error_body - body.size());
        auto [ec, n] = co_await res.body.async_read_some(asio::buffer(buffer.data(), want), as_tuple);
        body.append(buffer.data(), n);
        if (ec)
            break;  // the end of the body, or an error: what arrived is shown either way
    }
    res.body.close();
    std::cerr << program_name << ": HTTP " << res.status << ' ' << res.reason << '\n';
    if (!body.empty()) {
        std::cerr << body;
        if (body.back() != '\n')
            std::cerr << '\n';
    }
}

asio::awaitable<int> run(leash::transport& transport, options opts)
{
    leash::request req;
    req.url = opts.url;
    req.headers = std::move(opts.headers);
    if (opts.data) {
        req.method = "POST";
        req.body = std::move(*opts.data);
        if (!req.headers.contains("Content-Type"))
            req.headers.set("Content-Type", "application/json");
    }
    if (!req.headers.contains("Accept"))
        req.headers.set("Accept", "text/event-stream");

    auto [send_ec, res] = co_await transport.async_send(std::move(req), as_tuple);
    if (send_ec) {
        std::cerr << program_name << ": " << opts.url << ": " << describe(send_ec) << '\n';
        co_return 1;
    }
    if (res.status < 200 || res.status > 299) {
        co_await report_status(res);
        co_return 1;
    }

    leash::sse::reader_options reader_options;
    reader_options.stop_at_done = false;
    if (opts.event_timeout) {  // from the start too: no separate bound on the first event
        reader_options.first_event_timeout = std::chrono::milliseconds(0);
        reader_options.event_timeout = *opts.event_timeout;
    }
    leash::sse::reader reader(std::move(res.body), reader_options);
    for (;;) {
        auto [ec, event] = co_await reader.async_next(as_tuple);
        if (ec == asio::error::eof)
            co_return 0;
        if (ec) {
            std::cerr << program_name << ": " << opts.url << ": the stream failed: " << describe(ec) << '\n';
            co_return 1;
        }
        print_event(event);
    }
}

} // namespace

int main(int argc, char* argv[])
{
    options opts = parse_options(argc, argv);

    leash::transport_options topts;
    topts.tls.insecure_skip_verify = opts.insecure;
    topts.tls.ca_file = opts.cacert;
    topts.proxy.http = topts.proxy.https = opts.proxy;
    topts.decoding.decompress = opts.compressed;
    if (opts.read_timeout)
        topts.body_read_timeout = *opts.read_timeout;

    asio::io_context io;
    int exit_code = 1;
    try {
        leash::transport transport(io, std::move(topts));
        asio::co_spawn(io, run(transport, std::move(opts)), [&](std::exception_ptr failure, int code) {
            // No more requests: closing the pooled connection leaves io.run() nothing to wait for.
            transport.shutdown();
            exit_code = code;
            if (!failure)
                return;
            exit_code = 1;
            try {
                std::rethrow_exception(failure);
            } catch (const std::exception& e) {
                std::cerr << program_name << ": " << e.what() << '\n';
            }
        });
        io.run();
    } catch (const std::system_error& e) {  // e.g. an unreadable --cacert file
        std::cerr << program_name << ": " << e.what() << '\n';
        return 1;
    }
    return exit_code;
}
