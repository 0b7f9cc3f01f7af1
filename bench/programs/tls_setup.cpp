// leash-tls-setup: the cost of a fresh TLS connection, with a full handshake and with a
// resumed session.
//
// Two phases of N sequential GETs (one at a time) to an https URL, each with its own
// io_context and transport. max_idle_conns_per_host = 0 closes every connection as soon as
// its response has been read, so each request dials, handshakes and sends on a connection of
// its own (checked: connections opened == N). Phase "full" turns session resumption off;
// phase "resumed" turns it on, so its first connection runs a full handshake and primes the
// per-host session cache and the others resume. A few unmeasured requests on a throwaway
// transport warm the process up first.
//
// Per phase: the wall time of each request from async_send to the end of its body (connect,
// handshake, request, response; median and 90th percentile) and the process's CPU time
// (user + system, getrusage) over the phase divided by N. The CPU time includes the
// close_notify each connection sends when it is closed, since a phase ends only when its
// io_context has run out of work.
//
// Prints one JSON object. Exit status: 0 when both phases completed (failed requests are
// counted in the JSON), 1 when it cannot run, 2 for usage errors.

#include "bench_common.hpp"

#include <leash/leash.hpp>

#include <asio.hpp>

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <exception>
#include <iostream>
#include <map>
#include <stdexcept>
#include <string>
#include <system_error>
#include <vector>

namespace leash_tls_setup {
namespace {

using leash_bench::counter;
using steady_clock = std::chrono::steady_clock;

constexpr std::size_t body_limit = 64 * 1024 * 1024;
constexpr counter warmup_requests = 10;

struct options {
    counter requests = 500;
    std::string url;
    leash_bench::trust_options trust;
    bool help = false;
};

void print_usage(std::ostream& out)
{
    out << "usage: leash-tls-setup [options] https://URL\n"
           "  -n, --requests N          requests (= new connections) per phase (default 500)\n"
           "  --insecure | --cacert F   skip verification (testing only), or trust the CAs in F\n"
           "                            instead of the system store\n"
           "  -h, --help                print this help\n"
           "Prints one JSON object: {\"full\":{...},\"resumed\":{...},\"speedup_median\":..,\"speedup_cpu\":..}\n";
}

options parse_command_line(int argc, char** argv)
{
    options o;
    leash_bench::arg_reader args(argc, argv);
    while (args.next()) {
        if (args.positional()) {
            if (!o.url.empty())
                throw leash_bench::usage_error("one URL only");
            o.url = args.name();
        } else if (args.is("-n", "--requests")) {
            o.requests = leash_bench::parse_count(args.name(), args.value(), 1, 10'000'000);
        } else if (o.trust.take(args)) {
            continue;
        } else if (args.is("-h", "--help")) {
            args.no_value();
            o.help = true;
        } else {
            args.unknown();
        }
    }
    if (o.help)
        return o;
    if (o.url.empty())
        throw leash_bench::usage_error("no URL given");
    o.trust.check();
    leash_bench::check_url(o.url, true);
    return o;
}

// --- A phase ---------------------------------------------------------------------------

struct phase_result {
    std::vector<double> latencies_us;  // of the requests that succeeded
    counter ok = 0;
    std::map<std::string, counter> errors;
    leash_bench::cpu_times cpu;        // over the phase
    double wall_s = 0;
    leash::transport_stats stats;      // after the phase
};

auto into(std::error_code& ec)
{
    return asio::redirect_error(asio::use_awaitable, ec);
}

asio::awaitable<void> send_sequentially(leash::transport& transport, const std::string& url, counter n,
                                        phase_result& r)
{
    r.latencies_us.reserve(n);
    for (counter i = 0; i < n; ++i) {
        const auto start = steady_clock::now();
        std::error_code ec;
        auto res = co_await transport.async_send(leash::request::get(url), into(ec));
        if (!ec)
            co_await res.body.async_read_all(body_limit, into(ec));
        const auto end = steady_clock::now();
        if (ec) {
            ++r.errors[leash_bench::error_name(ec)];
            continue;
        }
        ++r.ok;
        r.latencies_us.push_back(std::chrono::duration<double, std::micro>(end - start).count());
    }
}

phase_result run_phase(const options& opts, counter n, bool resumption)
{
    asio::io_context ioc;
    leash::transport_options topts;
    topts.max_idle_conns_per_host = 0;  // every connection is closed once its response was read
    opts.trust.apply(topts.tls);
    topts.tls.session_resumption = resumption;
    leash::transport transport(ioc, topts);  // the SSL context and trust store are loaded here

    phase_result r;
    std::exception_ptr failure;
    asio::co_spawn(ioc, send_sequentially(transport, opts.url, n, r), [&](const std::exception_ptr& e) {
        failure = e;
        transport.shutdown();
    });
    const auto cpu_before = leash_bench::process_cpu_times();
    const auto wall_before = steady_clock::now();
    ioc.run();  // returns once the last connection's close_notify has gone out too
    const auto cpu_after = leash_bench::process_cpu_times();
    r.wall_s = std::chrono::duration<double>(steady_clock::now() - wall_before).count();
    r.cpu = {cpu_after.user_s - cpu_before.user_s, cpu_after.sys_s - cpu_before.sys_s};
    r.stats = transport.stats();
    if (failure)
        std::rethrow_exception(failure);
    return r;
}

// --- Output ----------------------------------------------------------------------------

struct phase_figures {
    double median_us = 0;
    double p90_us = 0;
    double min_us = 0;
    double max_us = 0;
    double cpu_us_per_conn = 0;
};

phase_figures figures(phase_result& r, counter n)
{
    phase_figures f;
    f.median_us = leash_bench::quantile(r.latencies_us, 0.5);
    f.p90_us = leash_bench::quantile(r.latencies_us, 0.9);
    if (!r.latencies_us.empty()) {
        f.min_us = *std::min_element(r.latencies_us.begin(), r.latencies_us.end());
        f.max_us = *std::max_element(r.latencies_us.begin(), r.latencies_us.end());
    }
    f.cpu_us_per_conn = r.cpu.total() * 1e6 / static_cast<double>(n);
    return f;
}

leash_bench::json phase_json(const phase_result& r, const phase_figures& f, counter n)
{
    leash_bench::json phase;
    phase["median_us"] = f.median_us;
    phase["p90_us"] = f.p90_us;
    phase["cpu_us_per_conn"] = f.cpu_us_per_conn;
    phase["handshakes"] = r.stats.tls_handshakes;
    phase["resumptions"] = r.stats.tls_resumptions;
    phase["conns_opened"] = r.stats.connections_opened;
    phase["new_conn_per_request"] = r.stats.connections_opened == n;
    phase["min_us"] = f.min_us;
    phase["max_us"] = f.max_us;
    phase["cpu_user_us_per_conn"] = r.cpu.user_s * 1e6 / static_cast<double>(n);
    phase["cpu_sys_us_per_conn"] = r.cpu.sys_s * 1e6 / static_cast<double>(n);
    phase["wall_s"] = r.wall_s;
    phase["ok"] = r.ok;
    phase["errors"] = leash_bench::json_counts(r.errors);
    return phase;
}

int run_and_report(const options& opts)
{
    run_phase(opts, warmup_requests, false);  // unmeasured
    auto full = run_phase(opts, opts.requests, false);
    auto resumed = run_phase(opts, opts.requests, true);
    const auto f = figures(full, opts.requests);
    const auto r = figures(resumed, opts.requests);

    leash_bench::json report;
    report["full"] = phase_json(full, f, opts.requests);
    report["resumed"] = phase_json(resumed, r, opts.requests);
    report["speedup_median"] = r.median_us > 0 ? f.median_us / r.median_us : 0.0;
    report["speedup_cpu"] = r.cpu_us_per_conn > 0 ? f.cpu_us_per_conn / r.cpu_us_per_conn : 0.0;
    report["requests"] = opts.requests;
    leash_bench::print_json_line(std::cout, std::move(report));
    std::cout.flush();
    return 0;
}

} // namespace
} // namespace leash_tls_setup

int main(int argc, char** argv)
{
    using namespace leash_tls_setup;
    options opts;
    try {
        opts = parse_command_line(argc, argv);
    } catch (const leash_bench::usage_error& e) {
        std::cerr << "leash-tls-setup: " << e.what() << "\n\n";
        print_usage(std::cerr);
        return 2;
    }
    if (opts.help) {
        print_usage(std::cout);
        return 0;
    }
    try {
        return run_and_report(opts);
    } catch (const std::exception& e) {
        std::cerr << "leash-tls-setup: " << e.what() << '\n';
        return 1;
    }
}
