// Runs an internal coroutine as an asynchronous operation with the Asio completion-token
// surface: any token (callback, use_awaitable, use_future, deferred), signature
// void(std::error_code, T), the handler's executor and cancellation slot respected.
#pragma once

#include <asio.hpp>

#include <exception>
#include <system_error>
#include <tuple>
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

template <class T, class Token>
auto spawn_operation(asio::any_io_executor ex, asio::awaitable<op_result<T>> op, Token&& token)
{
    return asio::async_initiate<Token, void(std::error_code, T)>(
        [](auto handler, asio::any_io_executor ex, asio::awaitable<op_result<T>> op) {
            auto slot = asio::get_associated_cancellation_slot(handler);
            auto handler_ex = asio::get_associated_executor(handler, ex);
            asio::co_spawn(
                ex, std::move(op),
                asio::bind_cancellation_slot(
                    slot, asio::bind_executor(handler_ex, [h = std::move(handler)](std::exception_ptr e,
                                                                                   op_result<T> r) mutable {
                        if (e)
                            std::rethrow_exception(e);
                        std::move(h)(std::get<0>(r), std::move(std::get<1>(r)));
                    })));
        },
        token, std::move(ex), std::move(op));
}

// The same for an operation whose only result is an error code: void(std::error_code).
template <class Token>
auto spawn_operation(asio::any_io_executor ex, asio::awaitable<std::error_code> op, Token&& token)
{
    return asio::async_initiate<Token, void(std::error_code)>(
        [](auto handler, asio::any_io_executor ex, asio::awaitable<std::error_code> op) {
            auto slot = asio::get_associated_cancellation_slot(handler);
            auto handler_ex = asio::get_associated_executor(handler, ex);
            asio::co_spawn(ex, std::move(op),
                           asio::bind_cancellation_slot(
                               slot, asio::bind_executor(handler_ex, [h = std::move(handler)](std::exception_ptr e,
                                                                                              std::error_code ec) mutable {
                                   if (e)
                                       std::rethrow_exception(e);
                                   std::move(h)(ec);
                               })));
        },
        token, std::move(ex), std::move(op));
}

} // namespace leash::detail
