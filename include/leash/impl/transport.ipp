// transport's members (declared in leash/transport.hpp): each hands over to the shared
// detail::transport_state.
#pragma once

#include <leash/detail/transport_state.hpp>
#include <leash/transport.hpp>

namespace leash {

LEASH_DECL transport::transport(executor_type ex, transport_options options)
    : state_(std::make_shared<detail::transport_state>(std::move(ex), std::move(options)))
{
}

LEASH_DECL transport::~transport()
{
    shutdown();
}

LEASH_DECL transport::executor_type transport::get_executor() const noexcept
{
    return state_->executor();
}

LEASH_DECL const transport_options& transport::options() const noexcept
{
    return state_->options();
}

LEASH_DECL void transport::shutdown()
{
    state_->shutdown();
}

LEASH_DECL transport_stats transport::stats() const
{
    return state_->stats();
}

LEASH_DECL pool_gauges transport::gauges() const
{
    return state_->gauges();
}

LEASH_DECL asio::awaitable<detail::op_result<response>> transport::send_op(std::shared_ptr<detail::transport_state> state,
                                                                           request req, detail::operation_entry entry)
{
    return detail::transport_state::send(std::move(state), std::move(req), entry);
}

LEASH_DECL asio::awaitable<std::error_code> transport::drain_op(std::shared_ptr<detail::transport_state> state,
                                                                std::chrono::milliseconds grace,
                                                                detail::operation_entry entry)
{
    return detail::transport_state::drain(std::move(state), grace, entry);
}

} // namespace leash
