// leash-idle-conns: resident memory per idle keep-alive connection in a leash pool.
//
// Makes a transport that may keep K connections to the host (max_conns_per_host =
// max_idle_conns_per_host = max_idle_conns = K), sends one request to warm everything up
// (and reads its body), and measures VmRSS and RssAnon. Then it sends K GETs at once and
// holds every response until all K have arrived, so each needs a connection of its own,
// reads every body to its end (each connection goes back to the pool), waits until the
// transport's stats show K idle connections, and measures again. The difference divided by
// the number of connections added is the cost of one idle connection, as the process sees it
// (kernel socket buffers are not part of RSS). A third measurement after malloc_trim(0) shows
// how much of that was memory the allocator kept from the transient requests and responses
// rather than memory the connections hold.
//
// Prints one JSON object. Exit status: 0 when K idle connections were measured, 1 when the
// run could not get there (the JSON says how far it got), 2 for usage errors. Needs a limit
// on open files above K + 100; the soft limit is raised to the hard limit.

#include "bench_common.hpp"

#include <leash/detail/connection.hpp>
#include <leash/leash.hpp>

#include <asio.hpp>

#include <malloc.h>

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <exception>
#include <iostream>
#include <limits>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <system_error>
#include <vector>

namespace leash_idle_conns {
namespace {

using leash_bench::counter;

constexpr std::size_t body_limit = 64 * 1024 * 1024;
constexpr auto send_limit = std::chrono::seconds(120);  // for all K responses to arrive
constexpr auto settle_limit = std::chrono::seconds(10); // for the pool to show K idle connections
constexpr auto poll_period = std::chrono::milliseconds(10);
constexpr counter spare_fds = 100;

struct options {
    counter conns = 1000;
    std::string url;
    leash_bench::trust_options trust;
    bool help = false;
};

void print_usage(std::ostream& out)
{
    out << "usage: leash-idle-conns [options] URL\n"
           "  -k, --conns K             idle connections to measure (default 1000)\n"
           "  --insecure | --cacert F   for https: skip verification (testing only), or trust the\n"
           "                            CAs in F instead of the system store\n"
           "  -h, --help                print this help\n"
           "Prints one JSON object: conns, rss_before_kb, rss_after_kb, rss_per_conn_bytes, open_conns, ...\n";
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
        } else if (args.is("-k", "--conns")) {
            o.conns = leash_bench::parse_count(args.name(), args.value(), 1, 1'000'000);
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
    leash_bench::check_url(o.url);
    return o;
}

// --- The measurement -------------------------------------------------------------------

using memory = leash_bench::memory_status;

struct report {
    bool complete = false;   // K idle connections were measured
    std::string stopped_at;  // when not complete: the step that failed
    memory before;
    memory after;
    memory after_trim;
    counter open_before = 0;
    counter open_after = 0;
    counter idle_after = 0;
    counter responses = 0;
    std::map<std::string, counter> errors;
    std::map<int, counter> statuses;
    leash::transport_stats final_stats;
    std::int64_t fds_delta = 0;  // open files after shutdown minus before the transport existed

    counter added() const { return open_after > open_before ? open_after - open_before : 0; }
    // Bytes per added connection between two readings (kB), 0 if none was added.
    double per_conn(counter before_kb, counter after_kb) const
    {
        if (added() == 0)
            return 0;
        return (static_cast<double>(after_kb) - static_cast<double>(before_kb)) * 1024.0
             / static_cast<double>(added());
    }
};

auto into(std::error_code& ec)
{
    return asio::redirect_error(asio::use_awaitable, ec);
}

// Waits until `done` holds, polling every few milliseconds; false after `limit`.
template <class Predicate>
asio::awaitable<bool> wait_until(Predicate done, std::chrono::steady_clock::duration limit)
{
    asio::steady_timer timer(co_await asio::this_coro::executor);
    const auto give_up = std::chrono::steady_clock::now() + limit;
    while (!done()) {
        if (std::chrono::steady_clock::now() >= give_up)
            co_return false;
        timer.expires_after(poll_period);
        std::error_code ignored;
        co_await timer.async_wait(into(ignored));
    }
    co_return true;
}

struct sent {
    std::error_code ec;
    leash::response res;
};

// What send_all's callbacks share with it; they may outlive it if it gives up waiting.
struct send_state {
    send_state(const asio::any_io_executor& ex, counter k) : results(k), pending(k), all_arrived(ex) {}
    std::vector<sent> results;
    counter pending;
    asio::steady_timer all_arrived;
};

// Sends K requests at once; completes when every one has its response (or error). The
// callbacks run on strands of the one-threaded io_context, so they cannot race each other.
asio::awaitable<std::vector<sent>> send_all(leash::transport& transport, const std::string& url, counter k)
{
    auto state = std::make_shared<send_state>(co_await asio::this_coro::executor, k);
    state->all_arrived.expires_after(send_limit);
    for (counter i = 0; i < k; ++i) {
        transport.async_send(leash::request::get(url), [state, i](std::error_code ec, leash::response res) {
            state->results[i].ec = ec;
            state->results[i].res = std::move(res);
            if (--state->pending == 0)
                state->all_arrived.cancel();
        });
    }
    std::error_code ignored;
    co_await state->all_arrived.async_wait(into(ignored));
    if (state->pending > 0)
        throw std::runtime_error(std::to_string(state->pending) + " of " + std::to_string(k)
                                 + " responses did not arrive in time");
    co_return std::move(state->results);
}

asio::awaitable<void> measure(leash::transport& transport, const options& opts, report& r)
{
    // Warm-up: one request, body read to its end, so lazily built state exists already.
    {
        r.stopped_at = "warm-up";
        std::error_code ec;
        auto res = co_await transport.async_send(leash::request::get(opts.url), into(ec));
        if (!ec)
            co_await res.body.async_read_all(body_limit, into(ec));
        if (ec) {
            ++r.errors[leash_bench::error_name(ec)];
            co_return;
        }
    }
    r.open_before = transport.stats().total.open;
    r.before = leash_bench::read_memory_status();

    r.stopped_at = "sending";
    {
        auto results = co_await send_all(transport, opts.url, opts.conns);
        for (auto& s : results) {
            if (s.ec) {
                ++r.errors[leash_bench::error_name(s.ec)];
                continue;
            }
            ++r.responses;
            ++r.statuses[s.res.status];
        }
        r.stopped_at = "reading bodies";
        for (auto& s : results) {
            if (s.ec)
                continue;
            std::error_code ec;
            co_await s.res.body.async_read_all(body_limit, into(ec));
            if (ec)
                ++r.errors[leash_bench::error_name(ec)];
        }
    }  // every response and its body string is gone

    r.stopped_at = "waiting for the pool to settle";
    const auto k = opts.conns;
    const bool settled = co_await wait_until(
        [&] {
            const auto s = transport.stats();
            return s.total.idle >= k && s.total.open >= k;
        },
        settle_limit);
    const auto stats = transport.stats();
    r.open_after = stats.total.open;
    r.idle_after = stats.total.idle;
    r.after = leash_bench::read_memory_status();
    ::malloc_trim(0);
    r.after_trim = leash_bench::read_memory_status();
    r.complete = settled && r.errors.empty();
    if (r.complete)
        r.stopped_at.clear();
}

report run(const options& opts)
{
    asio::io_context ioc;
    asio::steady_timer reactor_made(ioc);  // Asio's reactor exists before the first count
    const auto fds_start = leash_bench::count_open_fds();

    leash::transport_options topts;
    topts.max_conns_per_host = opts.conns;
    topts.max_idle_conns_per_host = opts.conns;
    topts.max_idle_conns = opts.conns;
    topts.max_pending_per_host = std::max<counter>(opts.conns, topts.max_pending_per_host);
    opts.trust.apply(topts.tls);
    leash::transport transport(ioc, topts);

    report r;
    std::exception_ptr failure;
    asio::co_spawn(ioc, measure(transport, opts, r), [&](const std::exception_ptr& e) {
        failure = e;
        transport.shutdown();
    });
    ioc.run();
    r.final_stats = transport.stats();
    r.fds_delta = leash_bench::count_open_fds() - fds_start;
    if (failure) {
        try {
            std::rethrow_exception(failure);
        } catch (const std::exception& e) {
            std::cerr << "leash-idle-conns: " << e.what() << '\n';
        }
        r.complete = false;
    }
    return r;
}

void print_json(const options& opts, const report& r, std::ostream& out)
{
    constexpr auto read_buffer = leash::detail::connection::read_buffer_size;
    const double per_conn = r.per_conn(r.before.rss_kb, r.after.rss_kb);
    leash_bench::json report;
    report["conns"] = opts.conns;
    report["rss_before_kb"] = r.before.rss_kb;
    report["rss_after_kb"] = r.after.rss_kb;
    report["rss_per_conn_bytes"] = per_conn;
    report["open_conns"] = r.open_after;
    report["idle_conns"] = r.idle_after;
    report["conns_added"] = r.added();
    report["rss_anon_before_kb"] = r.before.anon_kb;
    report["rss_anon_after_kb"] = r.after.anon_kb;
    report["rss_anon_per_conn_bytes"] = r.per_conn(r.before.anon_kb, r.after.anon_kb);
    report["rss_after_trim_kb"] = r.after_trim.rss_kb;
    report["rss_per_conn_bytes_after_trim"] = r.per_conn(r.before.rss_kb, r.after_trim.rss_kb);
    report["read_buffer_bytes"] = static_cast<counter>(read_buffer);
    report["tls"] = opts.url.starts_with("https:");
    report["complete"] = r.complete;
    if (!r.complete)
        report["stopped_at"] = r.stopped_at;
    report["responses"] = r.responses;
    report["errors"] = leash_bench::json_counts(r.errors);
    report["conns_opened"] = r.final_stats.connections_opened;
    report["tls_resumptions"] = r.final_stats.tls_resumptions;
    report["open_conns_after_shutdown"] = static_cast<counter>(r.final_stats.total.open);
    report["fds_delta_after_shutdown"] = r.fds_delta;
    leash_bench::print_json_line(out, std::move(report));
}

} // namespace
} // namespace leash_idle_conns

int main(int argc, char** argv)
{
    using namespace leash_idle_conns;
    options opts;
    try {
        opts = parse_command_line(argc, argv);
    } catch (const leash_bench::usage_error& e) {
        std::cerr << "leash-idle-conns: " << e.what() << "\n\n";
        print_usage(std::cerr);
        return 2;
    }
    if (opts.help) {
        print_usage(std::cout);
        return 0;
    }
    const auto limit = leash_bench::raise_open_files_limit();
    if (limit < opts.conns + spare_fds) {
        std::cerr << "leash-idle-conns: the limit on open files is " << limit << ", " << opts.conns + spare_fds
                  << " are needed for " << opts.conns << " connections (raise the hard limit: ulimit -Hn)\n";
        return 1;
    }
    try {
        const auto r = run(opts);
        print_json(opts, r, std::cout);
        std::cout.flush();
        return r.complete ? 0 : 1;
    } catch (const std::exception& e) {
        std::cerr << "leash-idle-conns: " << e.what() << '\n';
        return 1;
    }
}
