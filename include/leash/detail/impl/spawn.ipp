// launch(), declared in detail/spawn.hpp: compiled by <leash/src.hpp> for leash's own result
// types. A unit that starts an operation with another result type (in separate compilation)
// includes this file itself.
#pragma once

#include <leash/detail/spawn.hpp>

namespace leash::detail {

template <class R>
void launch(asio::any_io_executor run_on, asio::awaitable<R> coroutine, asio::cancellation_slot slot,
            erased_completion<R> done)
{
    asio::co_spawn(std::move(run_on), std::move(coroutine), asio::bind_cancellation_slot(slot, std::move(done)));
}

} // namespace leash::detail
