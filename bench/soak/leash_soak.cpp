// leash-soak: a long run of one leash::transport under steady load, with abandoned bodies
// and canceled requests mixed in, that checks the process stays flat: no growth of resident
// memory and no file descriptors left behind. Run `leash-soak --help` for the options.
//
// C workers are coroutines, each on its own strand of one io_context run by one thread, all
// sharing one transport. Each takes the next request (round robin over the URLs) until N
// were issued or --duration-s passed, whichever comes first. Per request, drawn from a
// per-worker generator with a fixed seed:
//   - abandon (--abandon-percent): read at most one body byte, then destroy the body handle;
//   - cancel (--cancel-percent): a steady_timer on the worker's strand emits an
//     asio::cancellation_signal, bound with asio::bind_cancellation_slot to the send and the
//     body reads, at a uniformly random moment 0 to 2 ms after the request started (if the
//     request is still running then). A request is a sequence of operations, and a signal
//     that arrives after one of them completed and before the next began reaches none of
//     them; the worker then stops the request itself (drops the response) as an application
//     would, and counts it under canceled_between_operations.
// Other bodies are read to the end: with async_read_all when Content-Length is at most
// 64 KiB, else with async_read_some into the worker's 16 KiB buffer.
//
// Outcomes: canceled (ended with operation_aborted after its signal was emitted), failed (any
// other error, counted by name), else ok; abandoned counts the ok requests whose body was
// dropped on purpose. cancel_late counts signals emitted after the request's last operation
// had already completed (the request is ok), cancel_late_max_us the longest time from such a
// signal to the worker seeing the request end. A timer samples every second: VmRSS, open file descriptors, the
// transport's open connections and live bodies, requests done; one progress line per ten
// samples goes to stderr. Samples taken before --warmup-s are not used for the memory figures.
//
// Exit status: 0 when the run completed (whatever its figures), 1 when it cannot run,
// 2 for usage errors.

#include "../programs/bench_common.hpp"

#include <leash/leash.hpp>

#include <asio.hpp>

#include <algorithm>
#include <atomic>
#include <charconv>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <exception>
#include <iomanip>
#include <iostream>
#include <limits>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <random>
#include <string>
#include <system_error>
#include <thread>
#include <utility>
#include <vector>

namespace leash_soak {
namespace {

using leash_bench::counter;
using leash_bench::countdown;
using steady_clock = std::chrono::steady_clock;

constexpr auto sample_period = std::chrono::seconds(1);
constexpr unsigned samples_per_progress_line = 10;
constexpr auto max_cancel_delay = std::chrono::microseconds(2000);
constexpr std::size_t read_all_limit = 64 * 1024;  // bodies up to this size are read with async_read_all
constexpr std::size_t read_chunk_size = 16 * 1024;
constexpr std::uint64_t seed_base = 0x5eed'1ea5;
// How long the io thread may take to run out of work after shutdown (close_notify sends
// take at most tls_close_timeout) before it counts as a leak.
constexpr auto drain_limit = std::chrono::seconds(5);
// The growth of resident memory that still counts as flat.
constexpr std::int64_t flat_rss_growth_kb = 1024;

// --- Options ---------------------------------------------------------------------------

struct options {
    std::vector<std::string> urls;
    counter requests = 1'000'000;
    double duration_s = 600;
    counter concurrency = 64;
    double abandon_percent = 10;
    double cancel_percent = 2;
    double warmup_s = 10;
    leash_bench::trust_options trust;
    bool help = false;
};

void print_usage(std::ostream& out)
{
    out << "usage: leash-soak [options] URL [URL...]    requests go round-robin over the URLs\n"
           "  -n, --requests N          total requests (default 1000000)\n"
           "  --duration-s S            stop issuing requests after S seconds (default 600);\n"
           "                            the run ends at N requests or S seconds, whichever is first\n"
           "  -c, --concurrency C       concurrent workers (default 64)\n"
           "  --abandon-percent P       share of responses whose body is dropped after at most\n"
           "                            one byte (default 10)\n"
           "  --cancel-percent P        share of requests canceled 0 to 2 ms after they start\n"
           "                            (default 2)\n"
           "  --warmup-s W              samples before W seconds are left out of the memory\n"
           "                            figures (default 10)\n"
           "  --insecure | --cacert F   for https: skip verification (testing only), or trust the\n"
           "                            CAs in F instead of the system store\n"
           "  -h, --help                print this help\n"
           "Prints one JSON object on stdout at the end and a progress line every 10 s on stderr.\n";
}

options parse_command_line(int argc, char** argv)
{
    using leash_bench::parse_count;
    using leash_bench::parse_number;
    options o;
    leash_bench::arg_reader args(argc, argv);
    while (args.next()) {
        if (args.positional())
            o.urls.emplace_back(args.name());
        else if (args.is("-n", "--requests"))
            o.requests = parse_count(args.name(), args.value(), 0, std::numeric_limits<counter>::max());
        else if (args.is("--duration-s"))
            o.duration_s = parse_number(args.name(), args.value(), 0, 1e7);
        else if (args.is("-c", "--concurrency"))
            o.concurrency = parse_count(args.name(), args.value(), 1, 100'000);
        else if (args.is("--abandon-percent"))
            o.abandon_percent = parse_number(args.name(), args.value(), 0, 100);
        else if (args.is("--cancel-percent"))
            o.cancel_percent = parse_number(args.name(), args.value(), 0, 100);
        else if (args.is("--warmup-s"))
            o.warmup_s = parse_number(args.name(), args.value(), 0, 1e7);
        else if (o.trust.take(args))
            continue;
        else if (args.is("-h", "--help")) {
            args.no_value();
            o.help = true;
        } else
            args.unknown();
    }
    if (o.help)
        return o;
    if (o.urls.empty())
        throw leash_bench::usage_error("no URL given");
    o.trust.check();
    for (const auto& u : o.urls)
        leash_bench::check_url(u);
    return o;
}

// --- Shared state ----------------------------------------------------------------------

// What one worker observed; merged when the run ends.
struct tally {
    counter ok = 0;
    counter failed = 0;
    counter canceled = 0;
    counter abandoned = 0;
    counter cancel_signals = 0;  // signals emitted (the request may have finished anyway)
    counter canceled_between_operations = 0;  // of canceled: stopped by the worker, see cancel_hook
    counter cancel_late = 0;         // signals emitted after the request's last operation completed
    double cancel_late_max_us = 0;   // the longest time from such a signal to the request's end
    std::map<std::string, counter> errors;

    void merge(const tally& other)
    {
        ok += other.ok;
        failed += other.failed;
        canceled += other.canceled;
        abandoned += other.abandoned;
        cancel_signals += other.cancel_signals;
        canceled_between_operations += other.canceled_between_operations;
        cancel_late += other.cancel_late;
        cancel_late_max_us = std::max(cancel_late_max_us, other.cancel_late_max_us);
        for (const auto& [name, n] : other.errors)
            errors[name] += n;
    }
};


// What the workers share: the options, the transport, the request index, live progress.
class soak_run {
public:
    soak_run(const options& opts, leash::transport& transport, steady_clock::time_point started)
        : opts_(opts)
        , transport_(transport)
        , started_(started)
        , stop_at_(started + std::chrono::duration_cast<steady_clock::duration>(
                       std::chrono::duration<double>(opts.duration_s)))
    {
    }

    const options& opts() const noexcept { return opts_; }
    leash::transport& transport() noexcept { return transport_; }
    steady_clock::time_point started() const noexcept { return started_; }

    // The next request index, or nothing once N were issued or the duration is over.
    std::optional<counter> take_index() noexcept
    {
        if (steady_clock::now() >= stop_at_)
            return std::nullopt;
        auto next = next_index_.load(std::memory_order_relaxed);
        do {
            if (next >= opts_.requests)
                return std::nullopt;
        } while (!next_index_.compare_exchange_weak(next, next + 1, std::memory_order_relaxed));
        return next;
    }

    leash::request make_request(counter index) const
    {
        return leash::request::get(opts_.urls[index % opts_.urls.size()]);
    }

    void count_finished(bool failed, bool canceled) noexcept
    {
        if (failed)
            failed_.fetch_add(1, std::memory_order_relaxed);
        if (canceled)
            canceled_.fetch_add(1, std::memory_order_relaxed);
        finished_.fetch_add(1, std::memory_order_relaxed);
    }

    counter issued() const noexcept { return next_index_.load(); }
    counter finished() const noexcept { return finished_.load(std::memory_order_relaxed); }
    counter failed() const noexcept { return failed_.load(std::memory_order_relaxed); }
    counter canceled() const noexcept { return canceled_.load(std::memory_order_relaxed); }

private:
    const options& opts_;
    leash::transport& transport_;
    const steady_clock::time_point started_;
    const steady_clock::time_point stop_at_;
    std::atomic<counter> next_index_{0};
    std::atomic<counter> finished_{0};
    std::atomic<counter> failed_{0};
    std::atomic<counter> canceled_{0};
};

// --- Cancellation ----------------------------------------------------------------------

// Cancels a worker's current request at a chosen moment: a timer on the worker's strand
// emits the signal whose slot the request's operations are bound to, so the emission cannot
// race them. Shared with the timer's handler, which may run after the worker has moved on
// (a stale expiry is recognised by its generation and ignored).
class request_canceller : public std::enable_shared_from_this<request_canceller> {
public:
    explicit request_canceller(const asio::any_io_executor& strand) : timer_(strand) {}

    // Arms the timer for the request about to start; returns the slot to bind its operations to.
    asio::cancellation_slot arm(std::chrono::microseconds after)
    {
        ++generation_;
        armed_ = true;
        emitted_ = false;
        timer_.expires_after(after);
        timer_.async_wait([self = shared_from_this(), generation = generation_](const std::error_code& ec) {
            if (ec || !self->armed_ || self->generation_ != generation)
                return;
            self->emitted_ = true;
            self->emitted_at_ = steady_clock::now();
            self->signal_.emit(asio::cancellation_type::terminal);
        });
        return signal_.slot();
    }

    // The request ended: no signal from now on. True if the signal was emitted.
    bool disarm()
    {
        armed_ = false;
        timer_.cancel();
        return emitted_;
    }
    // Whether the signal was emitted for the current request, and when.
    bool emitted() const noexcept { return emitted_; }
    steady_clock::time_point emitted_at() const noexcept { return emitted_at_; }

private:
    asio::steady_timer timer_;
    asio::cancellation_signal signal_;
    std::uint64_t generation_ = 0;
    bool armed_ = false;
    bool emitted_ = false;
    steady_clock::time_point emitted_at_;
};

// --- The workers -----------------------------------------------------------------------

// A completion token for co_await that stores the error in `ec` instead of throwing.
auto into(std::error_code& ec)
{
    return asio::redirect_error(asio::use_awaitable, ec);
}

// What a request's operations need to know about its cancellation.
struct cancel_hook {
    asio::cancellation_slot slot;                  // unconnected unless the request may be canceled
    const request_canceller* canceller = nullptr;  // null unless the request may be canceled

    // The signal was emitted: set when it arrived between two operations of the request
    // (after one completed, before the next began), where no operation could take it.
    bool requested() const noexcept { return canceller && canceller->emitted(); }
};

// The same as into(ec), with the operation's cancellation slot bound to the hook's slot.
auto into(std::error_code& ec, const cancel_hook& cancel)
{
    return asio::bind_cancellation_slot(cancel.slot, asio::redirect_error(asio::use_awaitable, ec));
}

struct request_result {
    std::error_code ec;
    bool abandoned = false;
    bool stopped_between_operations = false;  // canceled by the worker itself, see cancel_hook

    void stop() noexcept
    {
        ec = asio::error::operation_aborted;
        stopped_between_operations = true;
    }
};

// Reads at most one byte; the handle, owned by this coroutine, is destroyed when it returns,
// which abandons the rest of the response. An empty body (eof at once) is not an error.
asio::awaitable<std::error_code> read_one_byte_and_abandon(leash::body body, cancel_hook cancel)
{
    char byte = 0;
    std::error_code ec;
    co_await body.async_read_some(asio::buffer(&byte, 1), into(ec, cancel));
    if (ec == asio::error::eof)
        ec = {};
    co_return ec;
}

std::optional<counter> content_length(const leash::response& res)
{
    const auto text = res.headers.get("Content-Length");
    if (!text)
        return std::nullopt;
    counter n = 0;
    const auto [stop, ec] = std::from_chars(text->data(), text->data() + text->size(), n);
    if (ec != std::errc{} || stop != text->data() + text->size())
        return std::nullopt;
    return n;
}

// Reads the body to its end, dropping the data: small bodies in one async_read_all, others
// piece by piece into `chunk`. A cancellation that arrives between two reads stops it.
asio::awaitable<void> read_to_end(leash::response& res, const cancel_hook& cancel, std::vector<char>& chunk,
                                  request_result& result)
{
    const auto length = content_length(res);
    if (length && *length <= read_all_limit) {
        co_await res.body.async_read_all(read_all_limit, into(result.ec, cancel));
        co_return;
    }
    for (;;) {
        co_await res.body.async_read_some(asio::buffer(chunk), into(result.ec, cancel));
        if (result.ec == asio::error::eof) {
            result.ec = {};
            co_return;
        }
        if (result.ec)
            co_return;
        if (cancel.requested()) {
            result.stop();
            co_return;
        }
    }
}

asio::awaitable<request_result> one_request(soak_run& run, counter index, bool abandon, cancel_hook cancel,
                                            std::vector<char>& chunk)
{
    request_result result;
    auto res = co_await run.transport().async_send(run.make_request(index), into(result.ec, cancel));
    if (result.ec)
        co_return result;
    if (cancel.requested()) {
        result.stop();  // the response and its body are dropped here
        co_return result;
    }
    if (abandon) {
        result.abandoned = true;
        result.ec = co_await read_one_byte_and_abandon(std::move(res.body), cancel);
        co_return result;
    }
    co_await read_to_end(res, cancel, chunk, result);
    co_return result;
}

void record_outcome(soak_run& run, tally& mine, const request_result& r, bool cancel_emitted)
{
    const bool canceled = r.ec == asio::error::operation_aborted && cancel_emitted;
    if (canceled) {
        ++mine.canceled;
    } else if (r.ec) {
        ++mine.failed;
        ++mine.errors[leash_bench::error_name(r.ec)];
    } else {
        ++mine.ok;
        if (r.abandoned)
            ++mine.abandoned;
    }
    run.count_finished(r.ec && !canceled, canceled);
}

asio::awaitable<void> run_worker(soak_run& run, tally& mine, std::uint64_t seed)
{
    auto canceller = std::make_shared<request_canceller>(co_await asio::this_coro::executor);
    std::mt19937_64 rng(seed);
    std::uniform_real_distribution<double> percent(0.0, 100.0);
    std::uniform_int_distribution<std::int64_t> cancel_delay_us(0, max_cancel_delay.count());
    std::vector<char> chunk(read_chunk_size);

    while (const auto index = run.take_index()) {
        const bool abandon = percent(rng) < run.opts().abandon_percent;
        const bool cancel = percent(rng) < run.opts().cancel_percent;
        cancel_hook hook;
        if (cancel) {
            hook.slot = canceller->arm(std::chrono::microseconds(cancel_delay_us(rng)));
            hook.canceller = canceller.get();
        }
        const auto result = co_await one_request(run, *index, abandon, hook, chunk);
        bool emitted = false;
        if (cancel)
            emitted = canceller->disarm();
        if (emitted) {
            ++mine.cancel_signals;
            if (result.stopped_between_operations)
                ++mine.canceled_between_operations;
            if (result.ec != asio::error::operation_aborted) {
                // The request's last operation had completed before the signal reached it.
                ++mine.cancel_late;
                const std::chrono::duration<double, std::micro> ran_on = steady_clock::now() - canceller->emitted_at();
                mine.cancel_late_max_us = std::max(mine.cancel_late_max_us, ran_on.count());
            }
        }
        record_outcome(run, mine, result, emitted);
    }
}

void spawn_worker(asio::io_context& ioc, soak_run& run, tally& mine, std::uint64_t seed, countdown& workers_left)
{
    asio::co_spawn(asio::make_strand(ioc), run_worker(run, mine, seed), [&workers_left](const std::exception_ptr& e) {
        if (e) {
            try {
                std::rethrow_exception(e);
            } catch (const std::exception& ex) {
                std::cerr << "leash-soak: a worker stopped: " << ex.what() << '\n';
            } catch (...) {
                std::cerr << "leash-soak: a worker stopped: unknown exception\n";
            }
        }
        workers_left.count_down();
    });
}

// --- Sampling --------------------------------------------------------------------------

struct sample {
    double t_s = 0;  // since the start of the run
    counter rss_kb = 0;   // VmRSS
    counter anon_kb = 0;  // RssAnon: heap and other anonymous memory
    counter file_kb = 0;  // RssFile: mapped files (code, libraries)
    std::int64_t fds = 0;
    counter open_conns = 0;
    counter live_bodies = 0;
    counter done = 0;
};

// Takes a sample every second on its own strand until stopped, and prints a progress line
// every ten samples. The samples are read once the io thread has returned.
//
// The storage for the expected number of samples is written once up front: memory that was
// only reserved would become resident page by page as samples arrive, and show up in the
// figures as a slow growth of the heap (64 bytes a second).
class sampler {
public:
    sampler(asio::io_context& ioc, std::size_t expected_samples)
        : strand_(asio::make_strand(ioc)), timer_(strand_), samples_(expected_samples)
    {
    }

    void start(soak_run& run) { asio::co_spawn(strand_, loop(run), asio::detached); }

    // Safe on any thread: the loop ends at once, its pending wait canceled.
    void stop()
    {
        stopped_ = true;
        asio::post(strand_, [this] { timer_.cancel(); });
    }

    // The samples taken; call once the loop has ended.
    std::vector<sample> take_samples()
    {
        samples_.resize(count_);
        return std::move(samples_);
    }

private:
    asio::awaitable<void> loop(soak_run& run)
    {
        for (unsigned k = 1; !stopped_; ++k) {
            timer_.expires_at(run.started() + k * sample_period);
            std::error_code ignored;
            co_await timer_.async_wait(into(ignored));
            if (stopped_)
                break;
            const auto s = take(run);
            if (count_ < samples_.size())
                samples_[count_] = s;
            else
                samples_.push_back(s);
            ++count_;
            if (k % samples_per_progress_line == 0)
                print_progress(run, s);
        }
    }

    static sample take(soak_run& run)
    {
        const auto stats = run.transport().stats();
        sample s;
        s.t_s = std::chrono::duration<double>(steady_clock::now() - run.started()).count();
        const auto memory = leash_bench::read_memory_status();
        s.rss_kb = memory.rss_kb;
        s.anon_kb = memory.anon_kb;
        s.file_kb = memory.file_kb;
        s.fds = leash_bench::count_open_fds();
        s.open_conns = stats.total.open;
        s.live_bodies = stats.total.live_bodies;
        s.done = run.finished();
        return s;
    }

    void print_progress(const soak_run& run, const sample& s)
    {
        const double rps = static_cast<double>(s.done - done_at_last_line_)
                         / (s.t_s - t_at_last_line_ > 0 ? s.t_s - t_at_last_line_ : 1);
        done_at_last_line_ = s.done;
        t_at_last_line_ = s.t_s;
        std::cerr << std::fixed << std::setprecision(0) << "leash-soak: " << std::setw(5) << s.t_s << " s  "
                  << s.done << " done (" << rps << " req/s), " << run.failed() << " failed, " << run.canceled()
                  << " canceled | rss " << s.rss_kb << " kB (anon " << s.anon_kb << "), fds " << s.fds
                  << ", open conns " << s.open_conns << ", live bodies " << s.live_bodies << '\n';
    }

    asio::strand<asio::io_context::executor_type> strand_;
    asio::steady_timer timer_;
    std::vector<sample> samples_;
    std::size_t count_ = 0;
    std::atomic<bool> stopped_{false};
    counter done_at_last_line_ = 0;
    double t_at_last_line_ = 0;
};

// --- The run ---------------------------------------------------------------------------

struct rss_figures {
    counter start = 0;  // first sample after the warm-up
    counter end = 0;    // last sample
    sample first;       // the samples behind start and end (for the anonymous / file split)
    sample last;
    counter max = 0;    // over the samples after the warm-up
    double slope_kb_per_min = 0;  // least squares over the samples after the warm-up
    counter after_shutdown = 0;
    counter post_warmup_samples = 0;
};

struct soak_report {
    counter requests = 0;
    tally outcomes;
    double elapsed_s = 0;
    std::vector<sample> samples;
    rss_figures rss;
    std::int64_t fds_start = 0;  // before the transport existed
    std::int64_t fds_end = 0;    // after shutdown, once the io_context ran out of work
    std::int64_t fds_max = 0;
    leash::transport_stats final_stats;
    bool drained = true;
    leash_bench::cpu_times cpu;

    std::int64_t rss_growth_kb() const
    {
        return static_cast<std::int64_t>(rss.end) - static_cast<std::int64_t>(rss.start);
    }
    std::int64_t fd_delta() const { return fds_end - fds_start; }
    bool flat() const { return rss.post_warmup_samples > 0 && rss_growth_kb() < flat_rss_growth_kb && fd_delta() == 0; }
    double rps() const { return elapsed_s > 0 ? static_cast<double>(requests) / elapsed_s : 0; }
};

rss_figures rss_over(const std::vector<sample>& samples, double warmup_s)
{
    rss_figures r;
    std::vector<const sample*> used;
    for (const auto& s : samples)
        if (s.t_s >= warmup_s)
            used.push_back(&s);
    r.post_warmup_samples = used.size();
    if (used.empty())
        return r;
    r.first = *used.front();
    r.last = *used.back();
    r.start = r.first.rss_kb;
    r.end = r.last.rss_kb;
    double mean_t = 0, mean_rss = 0;
    for (const auto* s : used) {
        r.max = std::max(r.max, s->rss_kb);
        mean_t += s->t_s / 60;
        mean_rss += static_cast<double>(s->rss_kb);
    }
    const auto n = static_cast<double>(used.size());
    mean_t /= n;
    mean_rss /= n;
    double sxy = 0, sxx = 0;
    for (const auto* s : used) {
        const double dt = s->t_s / 60 - mean_t;
        sxy += dt * (static_cast<double>(s->rss_kb) - mean_rss);
        sxx += dt * dt;
    }
    r.slope_kb_per_min = sxx > 0 ? sxy / sxx : 0;
    return r;
}

// Runs the io_context on one thread; reports whether it ran out of work within the limit.
class io_thread {
public:
    explicit io_thread(asio::io_context& ioc) : ioc_(ioc), running_(1), thread_([this] { run(); }) {}
    io_thread(const io_thread&) = delete;
    io_thread& operator=(const io_thread&) = delete;
    ~io_thread()
    {
        ioc_.stop();
        join();
    }

    bool drain(steady_clock::duration limit)
    {
        const bool drained = running_.wait_for(limit);
        if (!drained)
            ioc_.stop();
        join();
        return drained;
    }

private:
    void run()
    {
        for (;;) {
            try {
                ioc_.run();
                break;
            } catch (const std::exception& e) {
                std::cerr << "leash-soak: exception on the io thread: " << e.what() << '\n';
            } catch (...) {
                std::cerr << "leash-soak: unknown exception on the io thread\n";
            }
        }
        running_.count_down();
    }
    void join()
    {
        if (thread_.joinable())
            thread_.join();
    }

    asio::io_context& ioc_;
    countdown running_;
    std::thread thread_;
};

soak_report run_soak(const options& opts)
{
    asio::io_context ioc;
    // One a second; beyond a day of them the vector grows as needed.
    const auto expected_samples = static_cast<std::size_t>(std::min(opts.duration_s, 86'400.0)) + 16;
    sampler sampling(ioc, expected_samples);
    // Counted once Asio's reactor exists (the sampler's timer creates it) and before the
    // transport does: at the end only what the run left open differs.
    soak_report report;
    report.fds_start = leash_bench::count_open_fds();

    leash::transport_options topts;
    topts.max_conns_per_host = opts.concurrency;
    topts.max_idle_conns_per_host = opts.concurrency;
    topts.max_idle_conns = std::max<counter>(opts.concurrency, topts.max_idle_conns);
    opts.trust.apply(topts.tls);
    leash::transport transport(ioc, topts);

    const auto started = steady_clock::now();
    soak_run run(opts, transport, started);
    const auto workers = std::min(opts.requests, opts.concurrency);
    std::vector<tally> tallies(workers);
    countdown workers_left(workers);
    sampling.start(run);
    for (counter i = 0; i < workers; ++i)
        spawn_worker(ioc, run, tallies[i], seed_base + i, workers_left);
    io_thread thread(ioc);

    while (!workers_left.wait_for(std::chrono::seconds(1))) {
    }
    report.elapsed_s = std::chrono::duration<double>(steady_clock::now() - started).count();
    transport.shutdown();
    sampling.stop();
    report.drained = thread.drain(drain_limit);
    if (!report.drained)
        std::cerr << "leash-soak: warning: work was still pending on the io_context "
                  << std::chrono::seconds(drain_limit).count() << " s after shutdown; stopped it\n";

    report.requests = run.issued();
    for (const auto& mine : tallies)
        report.outcomes.merge(mine);
    report.final_stats = transport.stats();
    report.fds_end = leash_bench::count_open_fds();
    report.samples = sampling.take_samples();
    report.rss = rss_over(report.samples, opts.warmup_s);
    report.rss.after_shutdown = leash_bench::rss_kb();
    report.fds_max = std::max(report.fds_start, report.fds_end);
    for (const auto& s : report.samples)
        report.fds_max = std::max(report.fds_max, s.fds);
    report.cpu = leash_bench::process_cpu_times();
    return report;
}

// --- Output ----------------------------------------------------------------------------

void print_json(const options& opts, const soak_report& r, std::ostream& out)
{
    const auto& s = r.final_stats;
    leash_bench::json report;
    report["requests"] = r.requests;
    report["ok"] = r.outcomes.ok;
    report["failed"] = r.outcomes.failed;
    report["canceled"] = r.outcomes.canceled;
    report["abandoned"] = r.outcomes.abandoned;
    report["errors"] = leash_bench::json_counts(r.outcomes.errors);
    report["conns_opened"] = s.connections_opened;
    report["elapsed_s"] = r.elapsed_s;
    report["rps"] = r.rps();
    report["samples"] = static_cast<counter>(r.samples.size());
    report["rss_kb"] = {
        {"start", r.rss.start},
        {"end", r.rss.end},
        {"max", r.rss.max},
        {"slope_kb_per_min", r.rss.slope_kb_per_min},
        {"after_shutdown", r.rss.after_shutdown},
    };
    report["rss_anon_kb"] = {
        {"start", r.rss.first.anon_kb},
        {"end", r.rss.last.anon_kb},
    };
    report["rss_file_kb"] = {
        {"start", r.rss.first.file_kb},
        {"end", r.rss.last.file_kb},
    };
    report["fds"] = {
        {"start", r.fds_start},
        {"end", r.fds_end},
        {"max", r.fds_max},
    };
    report["rss_growth_kb"] = r.rss_growth_kb();
    report["fd_delta"] = r.fd_delta();
    report["flat"] = r.flat();
    report["live_bodies"] = static_cast<counter>(s.total.live_bodies);
    report["open_conns"] = static_cast<counter>(s.total.open);
    report["drained"] = r.drained;
    report["malloc_trim"] = false;
    report["post_warmup_samples"] = r.rss.post_warmup_samples;
    report["cancel_signals"] = r.outcomes.cancel_signals;
    report["canceled_between_operations"] = r.outcomes.canceled_between_operations;
    report["cancel_late"] = r.outcomes.cancel_late;
    report["cancel_late_max_us"] = r.outcomes.cancel_late_max_us;
    report["conns_reused"] = s.reused;
    report["retries"] = s.retries;
    report["tls_handshakes"] = s.tls_handshakes;
    report["tls_resumptions"] = s.tls_resumptions;
    report["closed"] = leash_bench::json_counts(std::map<std::string, counter>{
        {"idle_timeout", s.closed.idle_timeout},
        {"idle_limit", s.closed.idle_limit},
        {"dead_at_checkout", s.closed.dead_at_checkout},
        {"not_reusable", s.closed.not_reusable},
        {"body_abandoned", s.closed.body_abandoned},
        {"error", s.closed.error},
        {"shutdown", s.closed.shutdown},
    });
    report["cpu_user_s"] = r.cpu.user_s;
    report["cpu_sys_s"] = r.cpu.sys_s;
    report["config"] = {
        {"concurrency", opts.concurrency},
        {"max_requests", opts.requests},
        {"duration_s", opts.duration_s},
        {"warmup_s", opts.warmup_s},
        {"abandon_percent", opts.abandon_percent},
        {"cancel_percent", opts.cancel_percent},
        {"urls", static_cast<counter>(opts.urls.size())},
    };
    leash_bench::print_json_line(out, std::move(report));
}

} // namespace
} // namespace leash_soak

int main(int argc, char** argv)
{
    using namespace leash_soak;
    options opts;
    try {
        opts = parse_command_line(argc, argv);
    } catch (const leash_bench::usage_error& e) {
        std::cerr << "leash-soak: " << e.what() << "\n\n";
        print_usage(std::cerr);
        return 2;
    }
    if (opts.help) {
        print_usage(std::cout);
        return 0;
    }
    try {
        const auto report = run_soak(opts);
        print_json(opts, report, std::cout);
        std::cout.flush();
        return 0;
    } catch (const std::exception& e) {
        std::cerr << "leash-soak: " << e.what() << '\n';
        return 1;
    }
}
