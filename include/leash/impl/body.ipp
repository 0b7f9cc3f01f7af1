// body: the read operations' coroutines (declared in leash/body.hpp).
#pragma once

#include <leash/body.hpp>
#include <leash/detail/body_core.hpp>  // (body_core's definitions come with the transport's)

namespace leash {

LEASH_DECL body::executor_type body::get_executor() const noexcept
{
    return core_ ? core_->executor() : executor_type{};
}

LEASH_DECL void body::close() noexcept
{
    if (!core_)
        return;
    if (core_->reads_in_flight.load() == 0)
        core_->close();
    else
        asio::post(core_->executor(), [core = core_] { core->close(); });
}

LEASH_DECL bool body::is_done() const noexcept
{
    return core_ && core_->done();
}

LEASH_DECL bool body::holds_connection() const noexcept
{
    return core_ && core_->holds_connection();
}

LEASH_DECL const headers& body::trailers() const noexcept
{
    static const headers none;
    return core_ ? core_->trailers() : none;
}

LEASH_DECL body::reading::reading(std::shared_ptr<detail::body_core> core) noexcept : core_(std::move(core))
{
    ++core_->reads_in_flight;
}

LEASH_DECL body::reading::~reading()
{
    if (core_)
        --core_->reads_in_flight;
}

LEASH_DECL bool body::completes_without_io(const detail::body_core& core) noexcept
{
    return core.completes_without_io();
}

LEASH_DECL asio::any_io_executor body::executor_of(const detail::body_core& core) noexcept
{
    return core.executor();
}

LEASH_DECL detail::op_result<std::size_t> body::read_some_now(detail::body_core& core, asio::mutable_buffer out)
{
    return core.read_some_now(out);
}

LEASH_DECL detail::op_result<std::string> body::read_all_now(detail::body_core& core, std::size_t limit)
{
    return core.read_all_now(limit);
}

LEASH_DECL asio::awaitable<bool> body::canceled_before_start(detail::body_core& core)
{
    const bool canceled = detail::cancel_requested(co_await asio::this_coro::cancellation_state);
    if (!canceled)
        co_return false;
    core.close();
    co_return true;
}

LEASH_DECL asio::awaitable<detail::op_result<std::size_t>> body::read_some_op(reading r, asio::mutable_buffer out, detail::operation_entry entry)
{
    co_await entry.begin();
    const bool canceled = co_await canceled_before_start(r.core());
    if (canceled)
        co_return detail::failed<std::size_t>(asio::error::operation_aborted);
    auto result = co_await r.core().read_some(out);
    co_return result;
}

LEASH_DECL asio::awaitable<detail::op_result<std::string>> body::read_all_op(reading r, std::size_t limit, detail::operation_entry entry)
{
    co_await entry.begin();
    const bool canceled = co_await canceled_before_start(r.core());
    if (canceled)
        co_return detail::failed<std::string>(asio::error::operation_aborted);
    auto result = co_await r.core().read_all(limit);
    co_return result;
}

} // namespace leash
