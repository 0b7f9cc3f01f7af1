// Lifetime torture: thousands of requests on a 4-thread io_context, each canceled (terminal,
// partial or total cancellation, at a random moment) or not, each response's body read,
// partly read or not, and dropped here, on another io thread or on a thread outside the
// io_context, sometimes while a read of it is in flight. Every handler runs exactly once;
// after shutdown, run() returns, every gauge is zero and no descriptor is left.
#include <support/lifetime_rig.hpp>
#include <support/varied_replies.hpp>

#include <atomic>
#include <condition_variable>
#include <mutex>
#include <random>
#include <vector>

using namespace leash::test;

namespace {

constexpr unsigned io_thread_count = 4;

// Counts of what happened, and one handler-call counter per operation.
struct ledger {
    explicit ledger(std::size_t total) : send_calls(total), read_calls(total), reads_started(total) {}

    std::vector<std::atomic<int>> send_calls;
    std::vector<std::atomic<int>> read_calls;
    std::vector<std::atomic<int>> reads_started;
    std::atomic<std::size_t> next{0};
    std::atomic<std::size_t> ok{0};
    std::atomic<std::size_t> canceled{0};
    std::atomic<std::size_t> dropped_while_reading{0};
    std::atomic<std::size_t> unexpected_send_errors{0};

    std::mutex mutex;
    std::condition_variable changed;
    std::size_t finished = 0;
    std::string first_unexpected;  // under mutex

    void finish_one()
    {
        std::lock_guard lock(mutex);
        ++finished;
        changed.notify_all();
    }
    void unexpected(std::error_code ec)
    {
        ++unexpected_send_errors;
        std::lock_guard lock(mutex);
        if (first_unexpected.empty())
            first_unexpected = describe(ec);
    }
    bool wait_all_finished(std::size_t total, std::chrono::steady_clock::duration timeout)
    {
        std::unique_lock lock(mutex);
        return changed.wait_for(lock, timeout, [&] { return finished == total; });
    }
};

// Where dropped responses go: the io_context (any of its threads) or a thread of its own.
struct droppers {
    asio::io_context& ioc;
    asio::thread_pool outside{2};
};

// One request and what is done with its response, as a chain of callbacks on its strand
// (callbacks, not coroutines, so that every handler call can be counted). Each job starts
// the next one when it ends, until `total` were issued.
class job : public std::enable_shared_from_this<job> {
public:
    job(leash::transport& t, std::string base, ledger& l, droppers& d, std::size_t total, std::size_t index)
        : t_(t), base_(std::move(base)), l_(l), d_(d), total_(total), index_(index),
          strand_(asio::make_strand(d.ioc)), timer_(strand_), rng_(static_cast<unsigned>(index) * 7919u + 1)
    {
    }

    // Sends the request from whatever thread calls it (not the job's strand), then arms the
    // cancellation: the signal is used only once the initiation has returned, on the strand.
    void start()
    {
        static const char* paths[] = {"/small", "/chunked", "/large", "/slow", "/trickle", "/empty"};
        auto self = shared_from_this();
        t_.async_send(leash::request::get(base_ + paths[rng_() % 6]),
                      asio::bind_executor(strand_, asio::bind_cancellation_slot(signal_.slot(),
                          [self](std::error_code ec, leash::response res) { self->on_response(ec, std::move(res)); })));
        asio::dispatch(strand_, [self] { self->maybe_cancel_later(); });
    }

private:
    // With probability 1/3: a cancellation of a random type within the next 2 ms.
    void maybe_cancel_later()
    {
        if (ended_ || rng_() % 3 != 0)
            return;
        static const asio::cancellation_type types[] = {asio::cancellation_type::terminal,
                                                        asio::cancellation_type::partial,
                                                        asio::cancellation_type::total};
        const auto type = types[rng_() % 3];
        timer_.expires_after(std::chrono::microseconds(rng_() % 2000));
        timer_.async_wait([self = shared_from_this(), type](std::error_code ec) {
            if (!ec && !self->ended_)
                self->signal_.emit(type);  // on the strand the request and its body run on
        });
    }

    void on_response(std::error_code ec, leash::response res)
    {
        ++l_.send_calls[index_];
        if (ec) {
            if (ec == asio::error::operation_aborted)
                ++l_.canceled;
            else
                l_.unexpected(ec);
            return end();
        }
        auto held = std::make_shared<leash::response>(std::move(res));
        switch (rng_() % 5) {
        case 0:  // dropped unread, right here
            held.reset();
            return end();
        case 1:  // dropped unread, elsewhere
            drop(std::move(held));
            return end();
        case 2:  // read to the end (or canceled), then dropped elsewhere
            return read(held, true, false);
        case 3:  // a byte read, then dropped elsewhere
            return read(held, false, false);
        default:  // dropped elsewhere while a read (of a byte or of all) is in flight
            return read(held, rng_() % 2 == 0, true);
        }
    }

    // Reads one byte (whole = false) or the whole body, then drops the response elsewhere;
    // or drops it elsewhere at once, while the read is in flight.
    void read(std::shared_ptr<leash::response> held, bool whole, bool drop_while_reading)
    {
        ++l_.reads_started[index_];
        auto self = shared_from_this();
        auto byte = std::make_shared<char>();
        auto on_read = [self, byte, keep = drop_while_reading ? nullptr : held](std::error_code ec, auto&&) {
            ++self->l_.read_calls[self->index_];
            if (!ec)
                ++self->l_.ok;
            self->drop(keep);
            self->end();
        };
        auto token = asio::bind_executor(strand_, asio::bind_cancellation_slot(signal_.slot(), std::move(on_read)));
        if (whole)
            held->body.async_read_all(1 << 20, std::move(token));
        else
            held->body.async_read_some(asio::buffer(byte.get(), 1), std::move(token));
        if (drop_while_reading) {
            ++l_.dropped_while_reading;
            drop(std::move(held));
        }
    }

    // Destroys the response on a random thread: an io thread or one outside the io_context.
    void drop(std::shared_ptr<leash::response> held)
    {
        if (!held)
            return;
        if (rng_() % 2 == 0)
            asio::post(d_.ioc, [held = std::move(held)]() mutable { held.reset(); });
        else
            asio::post(d_.outside, [held = std::move(held)]() mutable { held.reset(); });
    }

    void end()
    {
        ended_ = true;
        timer_.cancel();
        l_.finish_one();
        if (const auto index = l_.next.fetch_add(1); index < total_)
            std::make_shared<job>(t_, base_, l_, d_, total_, index)->start();
    }

    leash::transport& t_;
    const std::string base_;
    ledger& l_;
    droppers& d_;
    const std::size_t total_;
    const std::size_t index_;
    asio::strand<asio::io_context::executor_type> strand_;
    asio::steady_timer timer_;
    asio::cancellation_signal signal_;
    std::mt19937 rng_;
    bool ended_ = false;  // on the strand
};

void torture(transport_kind kind, std::size_t total, std::size_t concurrency)
{
    leash::transport_options o;
    o.max_conns_per_host = 8;
    o.max_idle_conns_per_host = 4;
    harness h(varied, o, kind);
    ledger l(total);
    auto base = h.url("/");
    base.pop_back();  // the jobs add their paths
    {
        droppers d{h.ioc};
        l.next = concurrency;
        for (std::size_t i = 0; i < concurrency; ++i)
            std::make_shared<job>(h.transport, base, l, d, total, i)->start();
        io_threads threads(h.ioc, io_thread_count);
        const bool all_finished = l.wait_all_finished(total, 60s);
        d.outside.join();  // every response dropped
        h.transport.shutdown();
        CHECK(threads.wait_until_out_of_work(10s));  // run() returned: nothing of leash left
        REQUIRE(all_finished);
    }
    std::size_t send_not_once = 0, read_not_once = 0;
    for (std::size_t i = 0; i < total; ++i) {
        send_not_once += l.send_calls[i] != 1;
        read_not_once += l.read_calls[i] != l.reads_started[i];
    }
    INFO("ok " << l.ok << ", canceled " << l.canceled << ", dropped while reading " << l.dropped_while_reading
               << ", unexpected send errors " << l.unexpected_send_errors << " (first: " << l.first_unexpected << ")");
    CHECK(send_not_once == 0);
    CHECK(read_not_once == 0);
    CHECK(l.unexpected_send_errors == 0);
    CHECK(l.canceled > 0);
    CHECK(l.ok > total / 10);
    CHECK(l.dropped_while_reading > 0);
    h.require_clean_end();
}

} // namespace

TEST_CASE("lifetime stress: 5000 requests on 4 threads, randomly canceled and dropped anywhere, each handler once, nothing left",
          "[slow]")
{
    torture(transport_kind::plain, 5000, 32);
}

TEST_CASE("lifetime stress: 1000 TLS requests on 4 threads, randomly canceled and dropped anywhere, each handler once, nothing left",
          "[slow]")
{
    torture(transport_kind::tls, 1000, 16);
}
