// A completion handler with its type erased, for operations started by separately compiled
// code (detail/impl/spawn.ipp): calling it with (std::exception_ptr, R) delivers the result to
// the handler it was made from, exactly as asio::co_spawn delivers to its handler: dispatched
// to the handler's associated executor, whose outstanding work it holds until then.
//
// One-shot and move-only; destroying one that was never called destroys the handler without
// calling it (as asio does with an abandoned operation).
#pragma once

#include <asio.hpp>

#include <exception>
#include <memory>
#include <type_traits>
#include <utility>

namespace leash::detail {

template <class R>
class erased_completion {
public:
    // `handler` is called as handler(std::exception_ptr, R) on `ex`.
    template <class Handler, class Executor>
    erased_completion(Handler&& handler, const Executor& ex)
        : impl_(std::make_unique<impl<std::decay_t<Handler>, tracked_executor<Executor>>>(
              std::forward<Handler>(handler), asio::prefer(ex, asio::execution::outstanding_work.tracked)))
    {
    }

    void operator()(std::exception_ptr e, R result)
    {
        const auto held = std::move(impl_);
        held->complete(e, std::move(result));
    }

private:
    template <class Executor>
    using tracked_executor = std::decay_t<decltype(asio::prefer(std::declval<const Executor&>(),
                                                                asio::execution::outstanding_work.tracked))>;

    struct base {
        virtual ~base() = default;
        virtual void complete(std::exception_ptr e, R result) = 0;
    };

    template <class Handler, class Executor>
    struct impl final : base {
        impl(Handler h, Executor ex) : handler(std::move(h)), work(std::move(ex)) {}

        void complete(std::exception_ptr e, R result) override
        {
            asio::dispatch(work, [h = std::move(handler), e, r = std::move(result)]() mutable {
                std::move(h)(e, std::move(r));
            });
        }

        Handler handler;
        Executor work;
    };

    std::unique_ptr<base> impl_;
};

} // namespace leash::detail
