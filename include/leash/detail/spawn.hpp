// Runs an internal coroutine as an asynchronous operation with the Asio completion-token
// surface: any token (callback, use_awaitable, use_future, deferred), the handler's executor
// and cancellation slot respected. Completion signatures: void(std::error_code, T) for an
// awaitable<op_result<T>>, void(std::error_code) for an awaitable<std::error_code>.
//
// spawn_operation runs the coroutine on a strand of the handler's associated executor (or of
// `ex` when the handler has none): on that executor itself when it already is a strand, so
// the operation is serialised with the caller and a cancellation emitted there cannot race
// it; otherwise on a new strand of it.
// spawn_operation_on runs it on exactly `strand` (for objects bound to one, like a body).
#pragma once

#include <asio.hpp>

#include <exception>
#include <system_error>
#include <tuple>
#include <type_traits>
#include <utility>

namespace leash::detail {

template <class T>
using op_result = std::tuple<std::error_code, T>;

// The result of an operation that failed with `ec`.
template <class T>
op_result<T> failed(std::error_code ec)
{
    return op_result<T>{ec, T{}};
}

// Delivers a coroutine's result to a completion handler.
template <class Handler>
struct deliver {
    Handler handler;

    template <class T>
    void operator()(std::exception_ptr e, op_result<T> r)
    {
        if (e)
            std::rethrow_exception(e);
        std::move(handler)(std::get<0>(r), std::move(std::get<1>(r)));
    }
    void operator()(std::exception_ptr e, std::error_code ec)
    {
        if (e)
            std::rethrow_exception(e);
        std::move(handler)(ec);
    }
};

template <class R>
struct signature_of;
template <class T>
struct signature_of<op_result<T>> {
    using type = void(std::error_code, T);
};
template <>
struct signature_of<std::error_code> {
    using type = void(std::error_code);
};

template <class Executor>
bool holds(const asio::any_io_executor& ex)
{
    return ex.target<Executor>() != nullptr;
}

// Where an operation for a handler with executor `ex` runs: `ex` when it is a strand already
// (no second strand to pass every step through), else a new strand of it. The concrete
// io_context executor is unwrapped so that its strand fits in any_io_executor's small buffer.
inline asio::any_io_executor strand_for(const asio::any_io_executor& ex)
{
    using plain = asio::io_context::basic_executor_type<std::allocator<void>, 0>;
    using tracked = asio::io_context::basic_executor_type<std::allocator<void>, 4>;
    if (holds<asio::strand<plain>>(ex) || holds<asio::strand<tracked>>(ex) || holds<asio::strand<asio::any_io_executor>>(ex))
        return ex;
    if (const auto* io = ex.target<plain>())
        return asio::make_strand(*io);
    if (const auto* io = ex.target<tracked>())
        return asio::make_strand(*io);
    return asio::make_strand(ex);
}

// own_strand: run on a strand of the handler's executor (strand_for); else exactly on `ex`.
template <class R, class Token>
auto launch(bool own_strand, asio::any_io_executor ex, asio::awaitable<R> op, Token&& token)
{
    return asio::async_initiate<Token, typename signature_of<R>::type>(
        [](auto handler, bool own_strand, asio::any_io_executor ex, asio::awaitable<R> op) {
            auto slot = asio::get_associated_cancellation_slot(handler);
            auto handler_ex = asio::get_associated_executor(handler, ex);
            asio::any_io_executor run_on = ex;
            if (own_strand) {
                // Handler executors that are not I/O executors (use_future's) fall back to `ex`.
                if constexpr (std::is_constructible_v<asio::any_io_executor, decltype(handler_ex)>)
                    run_on = strand_for(asio::any_io_executor(handler_ex));
                else
                    run_on = strand_for(ex);
            }
            asio::co_spawn(run_on, std::move(op),
                           asio::bind_cancellation_slot(
                               slot, asio::bind_executor(handler_ex, deliver<decltype(handler)>{std::move(handler)})));
        },
        token, own_strand, std::move(ex), std::move(op));
}

// An operation whose result is known at initiation: completes by posting it to the
// handler's associated executor (or `ex`), never inside the initiating call.
template <class T, class Token>
auto complete_posted(asio::any_io_executor ex, op_result<T> result, Token&& token)
{
    return asio::async_initiate<Token, void(std::error_code, T)>(
        [](auto handler, asio::any_io_executor ex, op_result<T> result) {
            auto handler_ex = asio::get_associated_executor(handler, ex);
            asio::post(handler_ex, [handler = std::move(handler), result = std::move(result)]() mutable {
                std::move(handler)(std::get<0>(result), std::move(std::get<1>(result)));
            });
        },
        token, std::move(ex), std::move(result));
}

template <class R, class Token>
auto spawn_operation(asio::any_io_executor ex, asio::awaitable<R> op, Token&& token)
{
    return launch<R>(true, std::move(ex), std::move(op), std::forward<Token>(token));
}

template <class R, class Token>
auto spawn_operation_on(asio::any_io_executor strand, asio::awaitable<R> op, Token&& token)
{
    return launch<R>(false, std::move(strand), std::move(op), std::forward<Token>(token));
}

} // namespace leash::detail
