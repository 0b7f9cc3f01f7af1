// Where leash's operations run and deliver: the strand choice and the handler's executor,
// without sockets.
#include <leash/detail/impl/spawn.ipp>  // (launch for a result type of the test's own)
#include <leash/detail/spawn.hpp>

#include <catch2/catch.hpp>

#include <chrono>
#include <future>
#include <thread>
#include <typeinfo>
#include <utility>

namespace {

using io_executor = asio::io_context::executor_type;
using io_strand = asio::strand<io_executor>;

} // namespace

TEST_CASE("spawn: target_as finds the executor of the named type only")
{
    asio::io_context ioc;
    const asio::any_io_executor plain = ioc.get_executor();
    const asio::any_io_executor strand = asio::make_strand(ioc);
    CHECK(leash::detail::target_as<io_executor>(plain) != nullptr);
    CHECK(leash::detail::target_as<io_strand>(plain) == nullptr);
    CHECK(leash::detail::target_as<io_strand>(strand) != nullptr);
    CHECK(leash::detail::target_as<io_executor>(strand) == nullptr);
    CHECK(leash::detail::target_as<io_executor>(asio::any_io_executor()) == nullptr);
}

TEST_CASE("spawn: an operation for a plain io_context executor runs on a new strand of it")
{
    asio::io_context ioc;
    const auto chosen = leash::detail::strand_for(ioc.get_executor());
    REQUIRE(chosen.target_type() == typeid(io_strand));
    CHECK(&asio::query(chosen, asio::execution::context) == &ioc);
    CHECK(chosen != leash::detail::strand_for(ioc.get_executor()));  // one strand per operation
}

TEST_CASE("spawn: an operation for a strand runs on that strand")
{
    asio::io_context ioc;
    const asio::any_io_executor strand = asio::make_strand(ioc);
    CHECK(leash::detail::strand_for(strand) == strand);
}

TEST_CASE("spawn: an operation for another executor runs on a strand wrapping it")
{
    asio::thread_pool pool(1);
    const asio::any_io_executor ex = pool.get_executor();
    const auto chosen = leash::detail::strand_for(ex);
    CHECK(chosen.target_type() == typeid(asio::strand<asio::any_io_executor>));
    pool.join();
}

TEST_CASE("spawn: an operation's handler runs on the executor bound to it, not where the operation ran")
{
    asio::io_context operation_context;
    asio::io_context handler_context;
    auto keep_running = asio::make_work_guard(handler_context);
    std::thread handler_thread([&] { handler_context.run_for(std::chrono::seconds(10)); });
    std::promise<std::pair<int, bool>> delivered;
    auto op = leash::detail::make_operation([](leash::detail::operation_entry entry) -> asio::awaitable<leash::detail::op_result<int>> {
        co_await entry.begin();
        co_return leash::detail::op_result<int>{std::error_code{}, 7};
    });
    const auto handler_executor = handler_context.get_executor();
    leash::detail::start_operation(asio::bind_executor(handler_executor,
                                                       [&](std::error_code, int value) {
                                                           delivered.set_value({value, handler_executor.running_in_this_thread()});
                                                       }),
                                   false, operation_context.get_executor(), std::move(op));
    operation_context.run_for(std::chrono::seconds(10));
    auto result = delivered.get_future();
    const bool ready = result.wait_for(std::chrono::seconds(10)) == std::future_status::ready;
    keep_running.reset();
    handler_thread.join();
    REQUIRE(ready);
    const auto [value, on_handler_executor] = result.get();
    CHECK(value == 7);
    CHECK(on_handler_executor);
}
