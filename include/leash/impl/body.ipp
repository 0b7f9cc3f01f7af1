// body: the read operations' coroutines (declared in leash/body.hpp).
#pragma once

#include <leash/body.hpp>

namespace leash {

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
