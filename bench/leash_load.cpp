// leash-load: sends N requests from C concurrent workers through one leash::transport and
// reports what happened: outcomes by status and by error, how the pool behaved (connections
// opened, reused, peak open), the resources used and, after shutdown, whether anything leaked
// (live bodies, open connections, file descriptors). Run `leash-load --help` for the options.
//
// Workers are coroutines, each on its own strand of one io_context run by --threads threads,
// all sharing one transport. Each takes the next request index (0-based, shared) until N are
// issued, sends to URLs[index % URLs.size()], reads the body to its end and then waits
// --gap-ms. With --abandon-every K the requests numbered K, 2K, 3K, ... (1-based; that is
// index % K == K - 1) read at most one body byte and then destroy the body handle, abandoning
// the rest of the response.
//
// A request is ok when its status arrived and its body was read to the end (or deliberately
// abandoned after a successful or end-of-body one-byte read); otherwise it failed and its
// error is counted by name. Every status received is counted, even if the body then failed.
//
// Exit status: 0 when the run completed (also if requests failed), 1 when it cannot run
// (for example an unreadable --cacert file), 2 for usage errors.

#include "json_output.hpp"
#include "load_options.hpp"
#include "programs/bench_common.hpp"

#include <leash/leash.hpp>

#include <asio.hpp>

#include <sys/resource.h>

#include <algorithm>
#include <atomic>
#include <cctype>
#include <cerrno>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <exception>
#include <filesystem>
#include <iomanip>
#include <iostream>
#include <limits>
#include <map>
#include <mutex>
#include <optional>
#include <string>
#include <system_error>
#include <thread>
#include <vector>

namespace leash_load {
namespace {

using leash_bench::countdown;
using leash_bench::error_name;

using counter = std::uint64_t;
using steady_clock = std::chrono::steady_clock;

// How long the io threads may take to run out of work after shutdown before it counts as a leak.
constexpr auto drain_limit = std::chrono::seconds(5);
// How often the open-connection gauge is sampled besides after every response.
constexpr auto sample_period = std::chrono::milliseconds(2);

// --- Shared state ----------------------------------------------------------------------

// What one worker observed; the workers' tallies are merged when the run ends.
struct tally {
    counter ok = 0;
    counter failed = 0;
    std::map<std::string, counter> errors;
    std::map<int, counter> statuses;
    counter body_bytes = 0;  // body bytes delivered to the caller (after decoding)
    counter redirects = 0;   // redirects followed

    void merge(const tally& other)
    {
        ok += other.ok;
        failed += other.failed;
        body_bytes += other.body_bytes;
        redirects += other.redirects;
        for (const auto& [name, n] : other.errors)
            errors[name] += n;
        for (const auto& [status, n] : other.statuses)
            statuses[status] += n;
    }
};

// The largest value observed, from any thread.
class peak_gauge {
public:
    void observe(counter value) noexcept
    {
        auto seen = peak_.load(std::memory_order_relaxed);
        while (value > seen && !peak_.compare_exchange_weak(seen, value, std::memory_order_relaxed)) {
        }
    }
    counter peak() const noexcept { return peak_.load(); }

private:
    std::atomic<counter> peak_{0};
};


// What the workers share: the options, the transport, the request index and live progress.
class load_run {
public:
    load_run(const options& opts, leash::client& client)
        : opts_(opts), client_(client), request_body_(opts.body_bytes.value_or(0), 'x')
    {
    }

    const options& opts() const noexcept { return opts_; }
    leash::transport& transport() noexcept { return client_.transport(); }
    // Through the client when it follows redirects, else straight to the transport.
    template <class Token>
    auto async_send(leash::request req, Token&& token)
    {
        return opts_.max_redirects > 0 ? client_.async_send(std::move(req), std::forward<Token>(token))
                                       : transport().async_send(std::move(req), std::forward<Token>(token));
    }
    peak_gauge& open_conns() noexcept { return open_conns_; }

    // The next request index to send, or nothing once all N were issued.
    std::optional<counter> take_index() noexcept
    {
        auto next = next_index_.load(std::memory_order_relaxed);
        do {
            if (next >= opts_.requests)
                return std::nullopt;
        } while (!next_index_.compare_exchange_weak(next, next + 1, std::memory_order_relaxed));
        return next;
    }

    leash::request make_request(counter index) const
    {
        leash::request req;
        req.method = opts_.method;
        req.url = opts_.urls[index % opts_.urls.size()];
        if (opts_.body_bytes) {
            req.body = request_body_;
            req.headers.set("Content-Type", "application/octet-stream");
        }
        for (const auto& [name, value] : opts_.headers)
            req.headers.add(name, value);
        return req;
    }

    bool abandons(counter index) const noexcept
    {
        return opts_.abandon_every > 0 && index % opts_.abandon_every == opts_.abandon_every - 1;
    }

    void count_finished(bool ok) noexcept
    {
        if (!ok)
            failed_.fetch_add(1, std::memory_order_relaxed);
        finished_.fetch_add(1, std::memory_order_relaxed);
    }

    counter issued() const noexcept { return next_index_.load(); }
    counter finished() const noexcept { return finished_.load(std::memory_order_relaxed); }
    counter failed() const noexcept { return failed_.load(std::memory_order_relaxed); }

private:
    const options& opts_;
    leash::client& client_;
    const std::string request_body_;
    std::atomic<counter> next_index_{0};
    std::atomic<counter> finished_{0};
    std::atomic<counter> failed_{0};
    peak_gauge open_conns_;
};

// --- The workers -----------------------------------------------------------------------

// A completion token for co_await that stores the error in `ec` instead of throwing.
auto into(std::error_code& ec)
{
    return asio::redirect_error(asio::use_awaitable, ec);
}

// Reads the body to its end, dropping the data; counts its bytes.
asio::awaitable<std::error_code> read_to_end(leash::body& body, counter& bytes)
{
    std::error_code ec;
    const auto text = co_await body.async_read_all(std::numeric_limits<std::size_t>::max(), into(ec));
    bytes += text.size();
    co_return ec;
}

// Reads at most one byte; the handle, owned by this coroutine, is destroyed when it returns,
// which abandons the rest of the response. An empty body (eof at once) is not an error.
asio::awaitable<std::error_code> read_one_byte_and_abandon(leash::body body, counter& bytes)
{
    char byte = 0;
    std::error_code ec;
    bytes += co_await body.async_read_some(asio::buffer(&byte, 1), into(ec));
    co_return ec == asio::error::eof ? std::error_code{} : ec;
}

void record_outcome(load_run& run, tally& mine, const std::error_code& ec)
{
    if (ec) {
        ++mine.failed;
        ++mine.errors[error_name(ec)];
    } else {
        ++mine.ok;
    }
    run.count_finished(!ec);
}

asio::awaitable<void> send_one(load_run& run, counter index, tally& mine)
{
    std::error_code ec;
    auto res = co_await run.async_send(run.make_request(index), into(ec));
    run.open_conns().observe(run.transport().gauges().open);
    mine.redirects += res.redirects;
    if (!ec) {
        ++mine.statuses[res.status];
        if (run.abandons(index))
            ec = co_await read_one_byte_and_abandon(std::move(res.body), mine.body_bytes);
        else
            ec = co_await read_to_end(res.body, mine.body_bytes);
    }
    record_outcome(run, mine, ec);
}

asio::awaitable<void> run_worker(load_run& run, tally& mine)
{
    asio::steady_timer gap_timer(co_await asio::this_coro::executor);
    while (const auto index = run.take_index()) {
        co_await send_one(run, *index, mine);
        if (run.opts().gap.count() > 0) {
            gap_timer.expires_after(run.opts().gap);
            std::error_code ignored;
            co_await gap_timer.async_wait(into(ignored));
        }
    }
}

void spawn_worker(asio::io_context& ioc, load_run& run, tally& mine, countdown& workers_left)
{
    asio::co_spawn(asio::make_strand(ioc), run_worker(run, mine), [&workers_left](std::exception_ptr e) {
        if (e) {
            try {
                std::rethrow_exception(e);
            } catch (const std::exception& ex) {
                std::cerr << "leash-load: a worker stopped: " << ex.what() << '\n';
            } catch (...) {
                std::cerr << "leash-load: a worker stopped: unknown exception\n";
            }
        }
        workers_left.count_down();
    });
}

// --- Sampling, threads, measurements ---------------------------------------------------

// Samples the transport's open connections every few milliseconds until stopped.
class open_conns_sampler {
public:
    open_conns_sampler(asio::io_context& ioc, const leash::transport& transport, peak_gauge& peak)
        : strand_(asio::make_strand(ioc)), timer_(strand_), transport_(transport), peak_(peak)
    {
    }

    void start() { asio::co_spawn(strand_, loop(), asio::detached); }

    // Safe on any thread: the loop ends at once, its pending wait canceled.
    void stop()
    {
        stopped_ = true;
        asio::post(strand_, [this] { timer_.cancel(); });
    }

private:
    asio::awaitable<void> loop()
    {
        while (!stopped_) {
            peak_.observe(transport_.gauges().open);
            timer_.expires_after(sample_period);
            std::error_code ignored;
            co_await timer_.async_wait(into(ignored));
        }
    }

    asio::strand<asio::io_context::executor_type> strand_;
    asio::steady_timer timer_;
    const leash::transport& transport_;
    peak_gauge& peak_;
    std::atomic<bool> stopped_{false};
};

// Threads that run one io_context until it runs out of work (or is stopped).
class io_threads {
public:
    io_threads(asio::io_context& ioc, unsigned n) : ioc_(ioc), running_(n)
    {
        for (unsigned i = 0; i < n; ++i)
            threads_.emplace_back([this] { run(); });
    }
    io_threads(const io_threads&) = delete;
    io_threads& operator=(const io_threads&) = delete;
    ~io_threads()
    {
        ioc_.stop();
        join();
    }

    // True if every thread ran out of work within `limit`.
    bool wait_until_idle(steady_clock::duration limit) { return running_.wait_for(limit); }
    void stop() { ioc_.stop(); }
    void join()
    {
        for (auto& t : threads_)
            if (t.joinable())
                t.join();
    }

private:
    void run()
    {
        for (;;) {
            try {
                ioc_.run();
                break;
            } catch (const std::exception& e) {
                std::cerr << "leash-load: exception on an io thread: " << e.what() << '\n';
            } catch (...) {
                std::cerr << "leash-load: unknown exception on an io thread\n";
            }
        }
        running_.count_down();
    }

    asio::io_context& ioc_;
    countdown running_;
    std::vector<std::thread> threads_;
};

// Entries in /proc/self/fd. Counted the same way every time (the directory's own descriptor
// is among them), so differences between two counts are exact.
std::int64_t count_open_fds()
{
    std::error_code ec;
    std::int64_t n = 0;
    for (std::filesystem::directory_iterator it("/proc/self/fd", ec), end; !ec && it != end; it.increment(ec))
        ++n;
    return n;
}

struct resource_usage {
    double user_s = 0;
    double sys_s = 0;
    counter peak_rss_kb = 0;
};

double to_seconds(const timeval& tv)
{
    return static_cast<double>(tv.tv_sec) + static_cast<double>(tv.tv_usec) / 1e6;
}

resource_usage measure_resource_usage()
{
    rusage ru{};
    if (getrusage(RUSAGE_SELF, &ru) != 0)
        return {};
    return {to_seconds(ru.ru_utime), to_seconds(ru.ru_stime), static_cast<counter>(std::max(0L, ru.ru_maxrss))};
}

// "\r<done>/<total> done, <failed> failed" on stderr, rewritten in place.
class progress_line {
public:
    void show(const load_run& run)
    {
        std::cerr << '\r' << run.finished() << '/' << run.opts().requests << " done, " << run.failed() << " failed"
                  << std::flush;
        shown_ = true;
    }
    // Shows the final figures and ends the line, if anything was shown.
    void finish(const load_run& run)
    {
        if (!shown_)
            return;
        show(run);
        std::cerr << '\n';
    }

private:
    bool shown_ = false;
};

void wait_for_workers(countdown& workers_left, const load_run& run, bool show_progress)
{
    progress_line progress;
    while (!workers_left.wait_for(std::chrono::seconds(1)))
        if (show_progress)
            progress.show(run);
    progress.finish(run);
}

// --- The run ---------------------------------------------------------------------------

struct load_report {
    counter requests = 0;
    tally outcomes;
    double elapsed_s = 0;
    counter max_open_conns = 0;
    leash::transport_stats final_stats;  // after shutdown, once the io threads returned
    std::int64_t open_fds_delta = 0;
    bool drained = true;                 // the io_context ran out of work by itself
    resource_usage usage;

    double rps() const
    {
        return elapsed_s > 0 ? static_cast<double>(outcomes.ok + outcomes.failed) / elapsed_s : 0;
    }
};

double seconds_since(steady_clock::time_point start)
{
    return std::chrono::duration<double>(steady_clock::now() - start).count();
}

// Lets the io threads run out of work after shutdown; stops them if they do not in time.
bool drain(io_threads& threads)
{
    const bool drained = threads.wait_until_idle(drain_limit);
    if (!drained) {
        std::cerr << "leash-load: warning: work was still pending on the io_context "
                  << std::chrono::seconds(drain_limit).count()
                  << " s after shutdown (something leaked); stopping it\n";
        threads.stop();
    }
    threads.join();
    return drained;
}

// The client that follows redirects (--max-redirects): no retries of its own.
leash::client_options client_options_of(const options& opts)
{
    leash::client_options o;
    o.retry.max_retries = 0;
    o.redirect.max_redirects = opts.max_redirects;
    return o;
}

load_report run_load(const options& opts)
{
    asio::io_context ioc;
    leash::client client(ioc, client_options_of(opts), opts.transport);
    auto& transport = client.transport();
    load_run run(opts, client);
    open_conns_sampler sampler(ioc, transport, run.open_conns());
    // Counted once Asio's reactor exists (the timers above create it), so that the count at
    // exit differs only by what the run itself left open.
    const auto fds_at_start = count_open_fds();

    const auto workers = std::min(opts.requests, opts.concurrency);
    std::vector<tally> tallies(workers);
    countdown workers_left(workers);
    const auto started = steady_clock::now();
    sampler.start();
    for (auto& mine : tallies)
        spawn_worker(ioc, run, mine, workers_left);
    io_threads threads(ioc, opts.threads);

    wait_for_workers(workers_left, run, !opts.json);
    load_report report;
    report.elapsed_s = seconds_since(started);
    transport.shutdown();
    sampler.stop();
    report.drained = drain(threads);

    report.requests = run.issued();
    for (const auto& mine : tallies)
        report.outcomes.merge(mine);
    report.max_open_conns = run.open_conns().peak();
    report.final_stats = transport.stats();
    report.open_fds_delta = count_open_fds() - fds_at_start;
    report.usage = measure_resource_usage();
    return report;
}

// --- Output ----------------------------------------------------------------------------

void print_json(const load_report& r, std::ostream& out)
{
    const auto& s = r.final_stats;
    leash_bench::json report;
    report["requests"] = r.requests;
    report["ok"] = r.outcomes.ok;
    report["failed"] = r.outcomes.failed;
    report["errors"] = leash_bench::json_counts(r.outcomes.errors);
    report["status"] = leash_bench::json_counts(r.outcomes.statuses);
    report["body_bytes"] = r.outcomes.body_bytes;
    report["redirects"] = r.outcomes.redirects;
    report["conns_opened"] = s.connections_opened;
    report["conns_reused"] = s.reused;
    report["max_open_conns"] = r.max_open_conns;
    report["retries"] = s.retries;
    report["elapsed_s"] = r.elapsed_s;
    report["rps"] = r.rps();
    report["cpu_user_s"] = r.usage.user_s;
    report["cpu_sys_s"] = r.usage.sys_s;
    report["peak_rss_kb"] = r.usage.peak_rss_kb;
    report["live_bodies"] = static_cast<counter>(s.total.live_bodies);
    report["open_conns"] = static_cast<counter>(s.total.open);
    report["open_fds_delta"] = r.open_fds_delta;
    leash_bench::print_json_line(out, std::move(report));
}

template <class Key>
void print_counts(std::ostream& out, const char* label, const std::map<Key, counter>& counts)
{
    out << "  " << label << ':';
    if (counts.empty())
        out << " none";
    for (const auto& [key, n] : counts)
        out << ' ' << key << '=' << n;
    out << '\n';
}

// Why connections were closed, leaving out the reasons that did not occur.
void print_closed(std::ostream& out, const leash::close_counters& c)
{
    const std::map<std::string, counter> reasons = {
        {"idle_timeout", c.idle_timeout},   {"idle_limit", c.idle_limit}, {"dead_at_checkout", c.dead_at_checkout},
        {"not_reusable", c.not_reusable},   {"body_abandoned", c.body_abandoned}, {"error", c.error},
        {"shutdown", c.shutdown},
    };
    std::map<std::string, counter> occurred;
    for (const auto& [reason, n] : reasons)
        if (n > 0)
            occurred.emplace(reason, n);
    print_counts(out, "closed", occurred);
}

void print_summary(const load_report& r, std::ostream& out)
{
    const auto& s = r.final_stats;
    out << std::fixed << std::setprecision(3);
    out << "requests: " << r.requests << "  ok: " << r.outcomes.ok << "  failed: " << r.outcomes.failed << "  in "
        << r.elapsed_s << " s  (" << std::setprecision(1) << r.rps() << " req/s)\n";
    out << "  connections: " << s.connections_opened << " opened, " << s.reused << " reused, " << r.max_open_conns
        << " max open, " << s.retries << " retries\n";
    print_closed(out, s.closed);
    print_counts(out, "status", r.outcomes.statuses);
    print_counts(out, "errors", r.outcomes.errors);
    out << std::setprecision(3) << "  cpu: " << r.usage.user_s << " s user, " << r.usage.sys_s << " s sys, peak rss "
        << r.usage.peak_rss_kb << " kB\n";
    out << "  after shutdown: " << s.total.live_bodies << " live bodies, " << s.total.open << " open connections, "
        << r.open_fds_delta << " fds more than at start" << (r.drained ? "" : " (io_context did not drain)") << '\n';
}

int run_and_report(const options& opts)
{
    const auto report = run_load(opts);
    if (opts.json)
        print_json(report, std::cout);
    else
        print_summary(report, std::cout);
    std::cout.flush();
    return 0;
}

} // namespace
} // namespace leash_load

int main(int argc, char** argv)
{
    using namespace leash_load;
    options opts;
    try {
        opts = parse_command_line(argc, argv);
    } catch (const usage_error& e) {
        std::cerr << "leash-load: " << e.what() << "\n\n";
        print_usage(std::cerr);
        return 2;
    }
    if (opts.help) {
        print_usage(std::cout);
        return 0;
    }
    opts.transport.tls.insecure_skip_verify = opts.insecure;
    opts.transport.tls.ca_file = opts.cacert;
    try {
        return run_and_report(opts);
    } catch (const std::exception& e) {
        std::cerr << "leash-load: " << e.what() << '\n';
        return 1;
    }
}
