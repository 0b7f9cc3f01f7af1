// Stress: many requests over several hosts on a multi-threaded io_context, with cancellation
// at random phases emitted from another thread and bodies abandoned at random. Run under
// ThreadSanitizer and AddressSanitizer in CI. Ends like every transport test: no work left,
// every gauge zero, no descriptor leaked.
#include <support/harness.hpp>
#include <support/varied_replies.hpp>

#include <atomic>
#include <mutex>
#include <random>
#include <thread>
#include <vector>

using namespace leash::test;

namespace {

constexpr std::size_t total_requests = 10'000;
constexpr std::size_t workers = 64;
constexpr unsigned io_threads = 4;

// One request's cancellation, reachable from the canceller thread through the strand the
// request's handlers run on (cancellation signals are not thread-safe).
struct in_flight {
    explicit in_flight(asio::any_io_executor s) : strand(std::move(s)) {}
    asio::any_io_executor strand;
    asio::cancellation_signal signal;
};

class registry {
public:
    void add(const std::shared_ptr<in_flight>& f)
    {
        std::lock_guard lock(mutex_);
        live_.push_back(f);
    }
    void remove(const std::shared_ptr<in_flight>& f)
    {
        std::lock_guard lock(mutex_);
        std::erase(live_, f);
    }
    std::shared_ptr<in_flight> pick(std::mt19937& rng)
    {
        std::lock_guard lock(mutex_);
        if (live_.empty())
            return nullptr;
        return live_[std::uniform_int_distribution<std::size_t>(0, live_.size() - 1)(rng)];
    }

private:
    std::mutex mutex_;
    std::vector<std::shared_ptr<in_flight>> live_;
};

struct tally {
    std::atomic<std::size_t> issued{0};
    std::atomic<std::size_t> finished{0};
    std::atomic<std::size_t> ok{0};
    std::atomic<std::size_t> canceled{0};
    std::atomic<std::size_t> abandoned{0};
    std::atomic<std::size_t> other_errors{0};
};

asio::awaitable<void> worker(leash::transport& t, const std::vector<std::string>& urls, registry& reg, tally& n,
                             unsigned seed)
{
    std::mt19937 rng(seed);
    const char* paths[] = {"/small", "/chunked", "/large", "/slow", "/empty"};
    auto strand = co_await asio::this_coro::executor;
    for (;;) {
        const auto index = n.issued.fetch_add(1);
        if (index >= total_requests)
            co_return;
        auto f = std::make_shared<in_flight>(strand);
        reg.add(f);
        const auto url = urls[index % urls.size()] + paths[rng() % 5];
        auto [ec, res] = co_await t.async_send(leash::request::get(url),
                                               asio::bind_cancellation_slot(f->signal.slot(), as_tuple));
        if (!ec) {
            switch (rng() % 4) {
            case 0: {  // abandon unread
                ++n.abandoned;
                res.body = leash::body{};
                break;
            }
            case 1: {  // one byte, then abandon
                char byte;
                auto [read_ec, got] = co_await res.body.async_read_some(
                    asio::buffer(&byte, 1), asio::bind_cancellation_slot(f->signal.slot(), as_tuple));
                (void)read_ec;
                (void)got;
                ++n.abandoned;
                break;
            }
            default: {
                auto [read_ec, text] =
                    co_await res.body.async_read_all(1 << 20, asio::bind_cancellation_slot(f->signal.slot(), as_tuple));
                ec = read_ec;
                if (!ec)
                    ++n.ok;
            }
            }
        }
        if (ec == asio::error::operation_aborted)
            ++n.canceled;
        else if (ec)
            ++n.other_errors;
        reg.remove(f);
        ++n.finished;
    }
}

} // namespace

TEST_CASE("stress: 10000 requests, 4 threads, random cancellation and abandoned bodies, no leak")
{
    test_server a(varied), b(varied), c(varied);
    const std::vector<std::string> urls = {a.url(""), b.url(""), c.url("")};
    asio::io_context ioc;
    const auto fds_at_start = warm_up_and_count_fds(ioc);
    leash::transport_options o;
    o.max_conns_per_host = 8;
    o.max_idle_conns_per_host = 4;
    leash::transport t(ioc, o);
    registry reg;
    tally n;

    for (unsigned i = 0; i < workers; ++i)
        asio::co_spawn(asio::make_strand(ioc), worker(t, urls, reg, n, i + 1), asio::detached);

    std::vector<std::thread> threads;
    for (unsigned i = 0; i < io_threads; ++i)
        threads.emplace_back([&] { ioc.run(); });

    std::atomic<bool> stop_canceling{false};
    std::thread canceller([&] {
        std::mt19937 rng(42);
        while (!stop_canceling.load()) {
            if (auto f = reg.pick(rng))
                asio::post(f->strand, [f] { f->signal.emit(asio::cancellation_type::terminal); });
            std::this_thread::sleep_for(std::chrono::microseconds(200 + rng() % 800));  // pacing, not synchronisation
        }
    });

    // The io threads return once every worker is done and nothing of leash is left running
    // except idle connections' timer, which shutdown() ends.
    const auto deadline = std::chrono::steady_clock::now() + 120s;
    while (n.finished.load() < total_requests && std::chrono::steady_clock::now() < deadline)
        std::this_thread::sleep_for(5ms);  // progress check of the test driver, bounded by the deadline
    stop_canceling = true;
    canceller.join();
    t.shutdown();
    for (auto& th : threads)
        th.join();

    INFO("ok " << n.ok << ", canceled " << n.canceled << ", abandoned " << n.abandoned << ", other errors "
               << n.other_errors);
    REQUIRE(n.finished.load() == total_requests);
    CHECK(n.canceled.load() > 0);
    CHECK(n.ok.load() > total_requests / 4);
    CHECK(n.other_errors.load() == 0);
    CHECK(ioc.stopped());
    const auto s = t.stats();
    CHECK(s.total.all_zero());
    CHECK(s.hosts.empty());
    for (auto* server : {&a, &b, &c})
        CHECK(server->wait_for_open_connections(0, 10s));
    // no descriptor more than before the test
    const bool no_extra_fd = open_fd_count_settles_at_most(fds_at_start);
    INFO("open descriptors: " << describe_open_fds());
    CHECK(no_extra_fd);
}
