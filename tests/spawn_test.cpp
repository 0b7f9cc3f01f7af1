// Where leash's operations run: the strand choice, without sockets.
#include <leash/detail/spawn.hpp>

#include <catch2/catch.hpp>

#include <typeinfo>

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
