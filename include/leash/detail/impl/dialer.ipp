// Dialing: resolving, connecting, the proxy tunnel and the TLS handshake (declared in
// detail/dialer.hpp).
#pragma once

#include <leash/detail/dialer.hpp>

namespace leash::detail {

LEASH_DECL asio::awaitable<std::error_code> find_endpoints(connection& c, const std::string& host, std::uint16_t port,
                                                           const dial_plan& plan,
                                                           std::vector<asio::ip::tcp::endpoint>& endpoints)
{
    using asio::ip::tcp;
    std::error_code ec;
    if (const auto address = asio::ip::make_address(host, ec); !ec) {
        endpoints.emplace_back(address, port);
        co_return std::error_code{};
    }
    if (const auto overridden = plan.overrides.find(host); overridden != plan.overrides.end()) {
        for (const auto& a : overridden->second)
            endpoints.emplace_back(a, port);
        co_return endpoints.empty() ? std::error_code(asio::error::host_not_found) : std::error_code{};
    }
    ec = {};
    if (is_canceled_now(co_await asio::this_coro::cancellation_state, ec))
        co_return ec;
    tcp::resolver resolver(co_await asio::this_coro::executor);
    if (plan.trace)
        plan.trace(&trace_hooks::dns_start, dns_start_event{plan.trace.request, host});
    c.timer.arm(c.owner, plan.limits.resolve, error::resolve_timeout, plan.limits.deadline, [&resolver] { resolver.cancel(); });
    auto results = co_await resolver.async_resolve(host, std::to_string(port),
                                                   asio::redirect_error(asio::use_awaitable, ec));
    if (auto t = c.timer.disarm())
        ec = t;
    for (auto& r : results)
        endpoints.push_back(r.endpoint());
    if (!ec && endpoints.empty())
        ec = asio::error::host_not_found;
    if (plan.trace.wants(&trace_hooks::dns_done)) {
        dns_done_event done{plan.trace.request, {}, ec};
        for (auto& e : endpoints)
            done.addresses.push_back(e.address());
        plan.trace(&trace_hooks::dns_done, done);
    }
    co_return ec;
}

LEASH_DECL asio::awaitable<std::error_code> connect_any(connection& c, const std::vector<asio::ip::tcp::endpoint>& endpoints,
                                                        const dial_plan& plan)
{
    auto& socket = c.stream.socket();
    std::error_code ec = asio::error::host_not_found;
    for (auto& ep : endpoints) {
        if (c.closed_by_shutdown) {
            ec = error::shut_down;
            break;
        }
        if (is_canceled_now(co_await asio::this_coro::cancellation_state, ec))
            break;
        std::error_code ignored;
        socket.close(ignored);
        socket.open(ep.protocol(), ec);
        if (ec)
            continue;
        if (plan.trace)
            plan.trace(&trace_hooks::connect_start, connect_start_event{plan.trace.request, ep});
        c.timer.arm(c.owner, plan.limits.connect, error::connect_timeout, plan.limits.deadline, [&c] { c.stream.close(); });
        co_await socket.async_connect(ep, asio::redirect_error(asio::use_awaitable, ec));
        if (auto t = c.timer.disarm())
            ec = t;
        if (plan.trace)
            plan.trace(&trace_hooks::connect_done, connect_done_event{plan.trace.request, ep, ec});
        if (!ec || ec == error::request_timeout)
            break;
    }
    if (!ec) {
        std::error_code ignored;  // (only a latency hint)
        socket.set_option(asio::ip::tcp::no_delay(true), ignored);
    }
    co_return ec;
}

LEASH_DECL asio::awaitable<dial_outcome> handshake(connection& c, const url& u, const dial_plan& plan)
{
    auto& tls = c.stream.start_tls(plan.tls.context());
    c.tls_session = {&plan.tls, c.key};
    std::error_code ec = plan.tls.prepare(tls.native_handle(), u, c.tls_session);
    if (ec || is_canceled_now(co_await asio::this_coro::cancellation_state, ec))
        co_return dial_outcome{ec};
    if (plan.trace)
        plan.trace(&trace_hooks::tls_handshake_start, tls_handshake_start_event{plan.trace.request});
    c.timer.arm(c.owner, plan.limits.tls_handshake, error::tls_handshake_timeout, plan.limits.deadline,
                   [&c] { c.stream.close(); });
    co_await tls.async_handshake(asio::ssl::stream_base::client, asio::redirect_error(asio::use_awaitable, ec));
    if (auto t = c.timer.disarm())
        ec = t;
    if (ec) {
        if (const auto verdict = SSL_get_verify_result(tls.native_handle()); verdict != X509_V_OK && !c.timer.expired())
            ec = make_x509_error(verdict);
        if (plan.trace)
            plan.trace(&trace_hooks::tls_handshake_done, tls_handshake_done_event{plan.trace.request, false, {}, ec});
        tls_client::detach(tls.native_handle());
        plan.tls.forget(c.key);
        co_return dial_outcome{ec};
    }
    c.tls_established = true;
    const bool resumed = SSL_session_reused(tls.native_handle()) == 1;
    if (plan.trace)
        plan.trace(&trace_hooks::tls_handshake_done,
                   tls_handshake_done_event{plan.trace.request, resumed, SSL_get_version(tls.native_handle()), {}});
    co_return dial_outcome{{}, true, resumed};
}

LEASH_DECL std::error_code tunnel_answer(const connection& c, std::error_code read_error)
{
    if (read_error)
        return read_error.category() == error_category() ? std::error_code(error::proxy_bad_response) : read_error;
    if (auto refusal = tunnel_verdict(c.parser.status()))
        return refusal;
    return c.buffered_size() == 0 ? std::error_code{} : std::error_code(error::proxy_bad_response);
}

LEASH_DECL asio::awaitable<std::error_code> open_tunnel(connection& c, const url& u, const proxy_server& proxy,
                                                        const dial_plan& plan)
{
    std::error_code ec;
    if (is_canceled_now(co_await asio::this_coro::cancellation_state, ec))
        co_return ec;
    const auto proxy_name = proxy.authority();
    if (plan.trace)
        plan.trace(&trace_hooks::proxy_connect_start, proxy_connect_start_event{plan.trace.request, proxy_name});
    write_connect_request(c.head, u, proxy, plan.user_agent);
    c.parser.reset(true, plan.head_limits);
    c.clear_buffer();
    c.timer.arm(c.owner, plan.limits.connect, error::proxy_connect_timeout, plan.limits.deadline, [&c] { c.stream.close(); });
    co_await asio::async_write(c.stream.socket(), asio::buffer(c.head), asio::redirect_error(asio::use_awaitable, ec));
    attempt_facts facts;
    if (!ec)
        ec = co_await read_head(c, false, facts, {});
    if (auto t = c.timer.disarm())
        ec = t;
    else
        ec = tunnel_answer(c, ec);
    if (plan.trace) {
        const int status = c.parser.headers_done() ? c.parser.status() : 0;
        plan.trace(&trace_hooks::proxy_connect_done, proxy_connect_done_event{plan.trace.request, proxy_name, status, ec});
    }
    co_return ec;
}

LEASH_DECL asio::awaitable<dial_outcome> dial(connection& c, const url& u, const dial_plan& plan)
{
    std::vector<asio::ip::tcp::endpoint> endpoints;
    dial_outcome out;
    if (plan.proxy)
        out.ec = co_await find_endpoints(c, plan.proxy->host(), plan.proxy->port(), plan, endpoints);
    else
        out.ec = co_await find_endpoints(c, u.host(), u.port(), plan, endpoints);
    if (!out.ec)
        out.ec = co_await connect_any(c, endpoints, plan);
    if (!out.ec && plan.proxy && u.is_https())
        out.ec = co_await open_tunnel(c, u, *plan.proxy, plan);
    if (!out.ec && u.is_https())
        out = co_await handshake(c, u, plan);
    if (out.ec)
        c.stream.close();
    co_return out;
}

} // namespace leash::detail
