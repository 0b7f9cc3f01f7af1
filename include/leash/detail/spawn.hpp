// Runs leash's operations with the Asio completion-token surface: any token (callback,
// use_awaitable, use_future, deferred), the handler's executor and cancellation slot respected.
// Completion signatures: void(std::error_code, T) for an awaitable<op_result<T>>,
// void(std::error_code) for an awaitable<std::error_code>.
//
// One initiation per public operation, so its return type never depends on a run-time branch:
// an operation that may take two paths passes ONE initiation object to asio::async_initiate
// and decides inside it, on the handler, between
//   start_operation(handler, ...)  running an internal coroutine, and
//   post_result(handler, ...)      delivering a result known at initiation, posted to the
//                                  handler's associated executor, never inside the initiating call.
// spawn_operation is the single-path form.
//
// No exception escapes an operation: every operation's coroutine is made with an
// operation_entry and its first statement is `co_await entry.begin();`, which sets
// throw_if_cancelled(false) for the whole coroutine stack (a cancellation is then seen as an
// error code from the awaited operation, or in this_coro::cancellation_state); an exception
// that still leaves one is delivered to its handler as an error code (error_from), exactly
// once. A cancellation requested before that first step is held back until then
// (cancellation_gate): an operation that looks at its cancellation state before resetting it
// sees it.
#pragma once

#include <leash/detail/config.hpp>
#include <leash/detail/erased_completion.hpp>
#include <leash/error.hpp>

#include <asio.hpp>

#include <exception>
#include <memory>
#include <mutex>
#include <new>
#include <system_error>
#include <tuple>
#include <type_traits>
#include <typeinfo>
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

// The error an operation reports when an exception left its coroutine: the code of a
// std::system_error (e.g. operation_aborted from an awaited operation), not_enough_memory for
// std::bad_alloc, error::internal_error for anything else.
inline std::error_code error_from(std::exception_ptr e) noexcept
{
    try {
        std::rethrow_exception(e);
    }
    catch (const std::system_error& failure) {
        if (failure.code())
            return failure.code();
    }
    catch (const std::bad_alloc&) {
        return std::make_error_code(std::errc::not_enough_memory);
    }
    catch (...) {
    }
    return error::internal_error;
}

// Delivers a coroutine's result to a completion handler; an exception becomes an error code.
template <class Handler>
struct deliver {
    Handler handler;

    template <class T>
    void operator()(std::exception_ptr e, op_result<T> r)
    {
        if (e)
            r = failed<T>(error_from(e));
        std::move(handler)(std::get<0>(r), std::move(std::get<1>(r)));
    }
    void operator()(std::exception_ptr e, std::error_code ec)
    {
        if (e)
            ec = error_from(e);
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

// The executor `ex` wraps when it is an `Executor`, else null. (Asio 1.22's
// any_executor::target<T>() casts without checking the type, so it cannot answer this.)
template <class Executor>
const Executor* target_as(const asio::any_io_executor& ex) noexcept
{
    return ex && ex.target_type() == typeid(Executor) ? ex.target<Executor>() : nullptr;
}

// Where an operation for a handler with executor `ex` runs: `ex` when it is a strand already
// (no second strand to pass every step through), else a new strand of it. The concrete
// io_context executor is unwrapped so that its strand fits in any_io_executor's small buffer.
inline asio::any_io_executor strand_for(asio::any_io_executor ex)
{
    using plain = asio::io_context::basic_executor_type<std::allocator<void>, 0>;
    using tracked = asio::io_context::basic_executor_type<std::allocator<void>, 4>;
    if (target_as<asio::strand<plain>>(ex) || target_as<asio::strand<tracked>>(ex) ||
        target_as<asio::strand<asio::any_io_executor>>(ex))
        return ex;
    if (const auto* io = target_as<plain>(ex))
        return asio::make_strand(*io);
    if (const auto* io = target_as<tracked>(ex))
        return asio::make_strand(*io);
    return asio::make_strand(ex);
}

// Whether a cancellation was requested of the calling coroutine.
inline bool cancel_requested(const asio::cancellation_state& state) noexcept
{
    return state.cancelled() != asio::cancellation_type::none;
}

// Stands between a handler's cancellation slot and an operation's coroutine. co_spawn throws
// a cancellation that arrives before the coroutine's first step (before it can ask for error
// codes instead); the gate holds such a request back until open(), then passes it on, like
// every later one. Every type is passed on as terminal: to leash they all mean the same.
class cancellation_gate {
public:
    asio::cancellation_slot slot() noexcept { return inner_.slot(); }

    void request(asio::cancellation_type type)
    {
        if (type == asio::cancellation_type::none)
            return;
        const std::lock_guard lock(mutex_);
        if (open_)
            inner_.emit(asio::cancellation_type::terminal);
        else
            pending_ = true;
    }

    void open()
    {
        const std::lock_guard lock(mutex_);
        open_ = true;
        if (std::exchange(pending_, false))
            inner_.emit(asio::cancellation_type::terminal);
    }

private:
    std::mutex mutex_;
    bool open_ = false;
    bool pending_ = false;
    asio::cancellation_signal inner_;
};

// What an operation leaves in its handler's cancellation slot.
struct forward_to_gate {
    std::shared_ptr<cancellation_gate> gate;
    void operator()(asio::cancellation_type type) const { gate->request(type); }
};

// What an operation's coroutine is made with. Its first statement is `co_await entry.begin();`:
// from then on a cancellation is an error code, not an exception, for the whole coroutine
// stack, and one requested before that step is in this_coro::cancellation_state. (begin()
// lets the gate's requests through first; nothing is awaited between that and the flag.)
// Lifetime: the gate outlives the coroutine (the operation, then its handler, hold it).
class operation_entry {
public:
    explicit operation_entry(cancellation_gate& gate) noexcept : gate_(&gate) {}

    asio::this_coro::throw_if_cancelled_1_t begin() const
    {
        gate_->open();
        return asio::this_coro::throw_if_cancelled(false);
    }

private:
    cancellation_gate* gate_;
};

// An operation not started yet: its coroutine and the gate the coroutine opens.
template <class R>
struct operation {
    std::shared_ptr<cancellation_gate> gate;
    asio::awaitable<R> coroutine;
};

// The operation whose coroutine `make(entry)` makes (called at once).
template <class MakeCoroutine>
auto make_operation(MakeCoroutine&& make)
{
    auto gate = std::make_shared<cancellation_gate>();
    auto coroutine = std::forward<MakeCoroutine>(make)(operation_entry(*gate));
    return operation<typename decltype(coroutine)::value_type>{std::move(gate), std::move(coroutine)};
}

// Delivers the result to `handler`, keeping the gate (whose signal the coroutine's
// cancellation state is connected to) alive until then.
template <class Handler>
struct deliver_gated : deliver<Handler> {
    std::shared_ptr<cancellation_gate> gate;
};

// A completion handler with the executor it is to run on (its associated executor), as
// asio::bind_executor makes one, but moved without copying the executor: Asio 1.22's
// executor_binder copies it on every move, and a strand's copy is an atomic count, while a
// handler is moved about ten times on its way through co_spawn.
template <class Handler, class Executor>
struct handler_on {
    using executor_type = Executor;
    executor_type get_executor() const noexcept { return executor; }

    template <class... Args>
    void operator()(Args&&... args)
    {
        std::move(handler)(std::forward<Args>(args)...);
    }

    Handler handler;
    Executor executor;
};

// Spawns `coroutine` on `run_on` with `done` as its completion handler, `slot` connected to
// its cancellation state. Separate compilation only: defined in detail/impl/spawn.ipp and
// compiled for leash's own result types by <leash/src.hpp> (so units that start operations
// do not each compile asio::co_spawn).
template <class R>
void launch(asio::any_io_executor run_on, asio::awaitable<R> coroutine, asio::cancellation_slot slot,
            erased_completion<R> done);

// Runs `op` for `handler`. own_strand: on a strand of the handler's executor (strand_for);
// else exactly on `ex`. The handler is called once, on its associated executor (or `ex`).
template <class Handler, class R>
void start_operation(Handler&& handler, bool own_strand, asio::any_io_executor ex, operation<R> op)
{
    auto slot = asio::get_associated_cancellation_slot(handler);
    auto handler_ex = asio::get_associated_executor(handler, ex);
    asio::any_io_executor run_on;
    if (!own_strand)
        run_on = std::move(ex);
    // Handler executors that are not I/O executors (use_future's) fall back to `ex`.
    else if constexpr (std::is_constructible_v<asio::any_io_executor, decltype(handler_ex)>)
        run_on = strand_for(asio::any_io_executor(handler_ex));
    else
        run_on = strand_for(std::move(ex));
    auto gate_slot = asio::cancellation_slot();
    if (slot.is_connected()) {
        slot.template emplace<forward_to_gate>(forward_to_gate{op.gate});
        gate_slot = op.gate->slot();
    }
    using handler_type = std::decay_t<Handler>;
    deliver_gated<handler_type> done{{std::forward<Handler>(handler)}, std::move(op.gate)};
#if defined(LEASH_HEADER_ONLY)
    asio::co_spawn(std::move(run_on), std::move(op.coroutine),
                   asio::bind_cancellation_slot(gate_slot, handler_on<deliver_gated<handler_type>, decltype(handler_ex)>{
                                                               std::move(done), std::move(handler_ex)}));
#else
    launch(std::move(run_on), std::move(op.coroutine), gate_slot, erased_completion<R>(std::move(done), handler_ex));
#endif
}

// Completes `handler` with `result`, known at initiation: posted to the handler's associated
// executor (or `ex`), never inside the initiating call. A cancellation slot is not connected:
// nothing is pending that a signal could end.
template <class Handler, class T>
void post_result(Handler&& handler, const asio::any_io_executor& ex, op_result<T> result)
{
    auto handler_ex = asio::get_associated_executor(handler, ex);
    asio::post(handler_ex, [handler = std::forward<Handler>(handler), result = std::move(result)]() mutable {
        std::move(handler)(std::get<0>(result), std::move(std::get<1>(result)));
    });
}

// The initiation of a single-path operation: runs the operation it is given.
struct initiate_operation {
    template <class Handler, class R>
    void operator()(Handler&& handler, bool own_strand, asio::any_io_executor ex, operation<R> op) const
    {
        start_operation(std::forward<Handler>(handler), own_strand, std::move(ex), std::move(op));
    }
};

// Runs `op` on a strand of the handler's executor (or of `ex` when the handler has none): on
// that executor itself when it already is a strand, so the operation is serialised with the
// caller and a cancellation emitted there cannot race it; otherwise on a new strand of it.
template <class R, class Token>
auto spawn_operation(asio::any_io_executor ex, operation<R> op, Token&& token)
{
    return asio::async_initiate<Token, typename signature_of<R>::type>(initiate_operation{}, token, true,
                                                                      std::move(ex), std::move(op));
}

} // namespace leash::detail
