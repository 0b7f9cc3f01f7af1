// sse::reader: reading events under the event deadlines (declared in leash/sse_reader.hpp).
#pragma once

#include <leash/sse_reader.hpp>

#include <asio.hpp>
#include <asio/experimental/as_tuple.hpp>
#include <asio/experimental/awaitable_operators.hpp>

#include <string_view>
#include <tuple>

namespace leash::sse {

LEASH_DECL asio::awaitable<detail::op_result<event>> reader::next(std::shared_ptr<state> s, detail::operation_entry entry)
{
    co_await entry.begin();
    // A request that came before this first step is recorded here; the reset below (every
    // cancellation type ends the read) would forget it.
    const bool canceled_early = detail::cancel_requested(co_await asio::this_coro::cancellation_state);
    co_await asio::this_coro::reset_cancellation_state(asio::enable_total_cancellation());
    if (canceled_early)
        co_return stop(*s, asio::error::operation_aborted);
    for (;;) {
        const bool canceled = detail::cancel_requested(co_await asio::this_coro::cancellation_state);
        if (canceled)
            co_return stop(*s, asio::error::operation_aborted);
        if (!s->ready.empty()) {
            event e = std::move(s->ready.front());
            s->ready.pop_front();
            if (s->options.stop_at_done && e.data == "[DONE]") {
                auto end = co_await finish_at_done(*s);
                co_return end;
            }
            co_return detail::op_result<event>{std::error_code{}, std::move(e)};
        }
        if (s->ended)
            co_return detail::failed<event>(asio::error::eof);
        auto [ec, n] = co_await read_piece(*s);
        if (ec == asio::error::eof) {
            s->decoder.finish();
            s->ended = true;
            continue;
        }
        if (ec)
            co_return stop(*s, ec);
        if (auto bad = s->decoder.feed(std::string_view(s->buffer.data(), n), [&](event&& e) {
                s->ready.push_back(std::move(e));
            }))
            co_return stop(*s, bad);
        if (!s->ready.empty())
            s->deadline.event_at(detail::event_deadline::clock::now());
    }
}

LEASH_DECL asio::awaitable<std::tuple<std::error_code, std::size_t>> reader::read_piece(state& s)
{
    constexpr auto as_tuple = asio::experimental::as_tuple(asio::use_awaitable);
    const auto due = s.deadline.next();
    if (!due || !s.body.get_executor())
        co_return co_await s.body.async_read_some(asio::buffer(s.buffer), as_tuple);
    if (detail::event_deadline::clock::now() >= due->at)
        co_return std::tuple<std::error_code, std::size_t>{due->timeout, 0};
    if (!s.timer)
        s.timer.emplace(s.body.get_executor());
    s.timer->expires_at(due->at);
    using namespace asio::experimental::awaitable_operators;
    auto first = co_await (s.body.async_read_some(asio::buffer(s.buffer), as_tuple) || s.timer->async_wait(as_tuple));
    if (first.index() == 0)
        co_return std::get<0>(first);
    const auto [wait_ec] = std::get<1>(first);  // an error: the caller canceled both
    co_return std::tuple<std::error_code, std::size_t>{wait_ec ? wait_ec : make_error_code(due->timeout), 0};
}

LEASH_DECL asio::awaitable<detail::op_result<event>> reader::finish_at_done(state& s)
{
    s.ended = true;
    s.done_seen = true;
    s.ready.clear();
    auto [ec, rest] = co_await s.body.async_read_all(s.options.drain_limit,
                                                     asio::experimental::as_tuple(asio::use_awaitable));
    (void)rest;
    if (ec)
        s.body.close();
    const bool canceled = detail::cancel_requested(co_await asio::this_coro::cancellation_state);
    if (ec == asio::error::operation_aborted || canceled)
        co_return detail::failed<event>(asio::error::operation_aborted);
    co_return detail::failed<event>(asio::error::eof);
}

} // namespace leash::sse
