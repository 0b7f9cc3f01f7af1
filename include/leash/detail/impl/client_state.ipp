// leash::client's calls: base URL and default headers, retries under the budget and the call's
// deadline, redirects (declared in detail/client_state.hpp).
#pragma once

#include <leash/detail/client_state.hpp>
#include <leash/detail/redirect_request.hpp>
#include <leash/detail/retry.hpp>
#include <leash/detail/retry_rules.hpp>
#include <leash/detail/tracer.hpp>

#include <asio.hpp>
#include <asio/experimental/as_tuple.hpp>

#include <optional>
#include <random>
#include <string>
#include <vector>

namespace leash::detail {

// The steps of one call, used by client_state::send only.
namespace client_call {

using clock = std::chrono::steady_clock;

// The call's deadline, and the total deadline the caller gave each attempt.
struct call_bounds {
    clock::time_point deadline;
    std::optional<std::chrono::milliseconds> attempt_total;
};

inline clock::time_point call_deadline(std::chrono::milliseconds call_timeout)
{
    return call_timeout.count() > 0 ? clock::now() + call_timeout : clock::time_point::max();
}

// Sets the attempt's total deadline to what is left of the call's, when that is sooner than
// its own (the request's, else the transport's). False when nothing is left.
inline bool bound_attempt(request& req, std::optional<std::chrono::milliseconds> own_total,
                          std::chrono::milliseconds transport_total, clock::time_point deadline)
{
    if (deadline == clock::time_point::max())
        return true;
    const auto left = std::chrono::ceil<std::chrono::milliseconds>(deadline - clock::now());
    if (left.count() <= 0)
        return false;
    const auto own = own_total.value_or(transport_total);
    req.timeouts.total = own.count() > 0 && own < left ? own : left;
    return true;
}

inline double random_unit()
{
    thread_local std::mt19937_64 engine{std::random_device{}()};
    return std::uniform_real_distribution<double>(0.0, 1.0)(engine);
}



// Whether the retry budget allows the retry `plan` (counted when it does, in
// retries_refused when not); traced either way.
inline bool spend_retry(client_state& s, const request& req, const attempt_outcome& outcome,
                        std::size_t retries_done, const retry_plan& plan)
{
    bool allowed;
    {
        std::lock_guard lock(s.budget_mutex);
        allowed = s.budget.try_retry(clock::now());
    }
    if (!allowed)
        ++s.retries_refused;
    const tracer trace(s.transport.options().trace.get(), req.trace.get());
    if (trace.wants(&trace_hooks::retry))
        trace(&trace_hooks::retry, retry_event{req.method, req.url, retries_done + 2, outcome.error,
                                               outcome.status, plan.delay, plan.source, !allowed});
    return allowed;
}

// Reads a response's body up to max_discarded_body, to keep its connection, and closes it.
inline asio::awaitable<void> discard_body(client_state& s, response& res)
{
    auto [read_ec, ignored] = co_await res.body.async_read_all(s.options.max_discarded_body,
                                                               asio::experimental::as_tuple(asio::use_awaitable));
    (void)read_ec;
    res.body.close();
}

// One hop: the request, sent again after a backoff as retry_policy allows, within `bounds`.
inline asio::awaitable<op_result<response>> send_with_retries(client_state& s, request& req,
                                                                      std::shared_ptr<bool> source_read,
                                                                      call_bounds bounds)
{
    const auto deadline = bounds.deadline;
    constexpr auto as_tuple = asio::experimental::as_tuple(asio::use_awaitable);
    const bool replayable = is_replayable(req.method, req.headers, req.replayable);
    for (std::size_t retries_done = 0;; ++retries_done) {
        if (!bound_attempt(req, bounds.attempt_total, s.transport.options().request_timeout, deadline))
            co_return failed<response>(error::call_timeout);
        auto [ec, res] = co_await s.transport.async_send(req, as_tuple);
        if (ec == error::request_timeout && clock::now() >= deadline)
            ec = error::call_timeout;
        const attempt_outcome outcome{ec, ec ? 0 : res.status, ec ? nullptr : &res.headers};
        const auto plan = next_retry(s.options.retry, retries_done, outcome, replayable,
                                             std::chrono::system_clock::now(), random_unit());
        if (!plan || clock::now() + plan->delay >= deadline
            || !restart_body(req, source_read && *source_read)
            || !spend_retry(s, req, outcome, retries_done, *plan))
            co_return op_result<response>{ec, std::move(res)};
        if (source_read)
            *source_read = false;
        if (!ec)
            co_await discard_body(s, res);
        if (is_canceled(co_await asio::this_coro::cancellation_state))
            co_return failed<response>(asio::error::operation_aborted);
        asio::steady_timer backoff(co_await asio::this_coro::executor, plan->delay);
        auto [wait_ec] = co_await backoff.async_wait(as_tuple);
        if (wait_ec)
            co_return failed<response>(asio::error::operation_aborted);
        ++s.retries;
    }
}

// What a call does with a response after the redirect rules and the policy's hook: deliver
// it, stop with an error (ec), or follow the redirect (neither).
struct redirect_step {
    bool deliver = false;
    std::error_code ec;
};

inline redirect_step judge(const redirect_policy& policy, const request& req, const response& res,
                           const redirect_decision& d, std::size_t hop_number)
{
    using outcome = redirect_decision::outcome;
    switch (d.what) {
    case outcome::deliver: return {true, {}};
    case outcome::too_many: return {false, error::too_many_redirects};
    case outcome::loop: return {false, error::redirect_loop};
    case outcome::insecure: return {false, error::insecure_redirect};
    case outcome::invalid_location: return {false, error::invalid_redirect_location};
    case outcome::follow: break;
    }
    if (!policy.on_redirect)
        return {};
    const auto next = d.next->to_string() + d.fragment;
    switch (policy.on_redirect(redirect_hop{res.status, req.url, next, d.method, hop_number, d.cross_origin})) {
    case redirect_verdict::follow: return {};
    case redirect_verdict::deliver: return {true, {}};
    case redirect_verdict::refuse: break;
    }
    return {false, error::redirect_vetoed};
}

// The requests sent in one call so far: for the loop check, the hop count, and the rule
// that a body source sent once must rewind to go again.
class redirect_chain {
public:
    explicit redirect_chain(const request& first)
    {
        std::error_code ec;
        if (const auto u = url::parse(first.url, ec))
            visited_.push_back(redirect_visit_key(first.method, *u));
    }

    std::size_t hops() const noexcept { return visited_.empty() ? 0 : visited_.size() - 1; }

    redirect_decision decide(const request& req, const response& res, const redirect_policy& policy) const
    {
        std::error_code ec;
        const auto target = url::parse(req.url, ec);
        if (!target)
            return {};
        const bool has_body = !req.body.empty() || req.source.has_value();
        const bool rewindable = !req.source || static_cast<bool>(req.source->rewind);
        return decide_redirect(res.status, res.headers.get("Location"),
                                       {req.method, *target, has_body, rewindable, url_fragment(req.url)},
                                       hops(), visited_, {policy.max_redirects, policy.allow_https_to_http});
    }

    // (A body sent again was restarted by the caller.)
    void follow(request& req, const redirect_decision& d)
    {
        visited_.push_back(redirect_visit_key(d.method, *d.next));
        redirect_request(req, d);
    }

private:
    std::vector<std::string> visited_;
};

// Resolves a relative URL against base_url and adds the default headers.
inline void prepare(const client_options& options, request& req)
{
    const bool absolute = req.url.starts_with("http://") || req.url.starts_with("https://")
        || req.url.starts_with("HTTP://") || req.url.starts_with("HTTPS://");
    if (!absolute && !options.base_url.empty()) {
        std::string joined = options.base_url;
        if (!joined.empty() && joined.back() == '/' && req.url.starts_with('/'))
            joined.pop_back();
        else if (!joined.empty() && joined.back() != '/' && !req.url.empty() && !req.url.starts_with('/')
                 && !req.url.starts_with('?'))
            joined += '/';
        req.url = joined + req.url;
    }
    for (const auto& f : options.default_headers)
        if (!req.headers.contains(f.name))
            req.headers.append_unchecked(f.name, f.value);  // validated when the default was added
}

// Notes whether the transport took bytes from the request's body source (for the resend
// rule); null without a source. (Read on the call's strand, after each attempt.)
inline std::shared_ptr<bool> watch_source(request& req)
{
    if (!req.source || !req.source->read)
        return nullptr;
    auto read = std::make_shared<bool>(false);
    req.source->read = [inner = std::move(req.source->read), read](asio::mutable_buffer out) {
        *read = true;
        return inner(out);
    };
    return read;
}

} // namespace client_call

LEASH_DECL client_state::client_state(client_options o, asio::any_io_executor ex, transport_options topts)
    : options(std::move(o)), transport(std::move(ex), std::move(topts))
{
}

LEASH_DECL std::shared_ptr<client_state> client_state::create(client_options o, asio::any_io_executor ex,
                                                              transport_options topts)
{
    return std::make_shared<client_state>(std::move(o), std::move(ex), std::move(topts));
}

LEASH_DECL asio::awaitable<op_result<response>> client_state::send(std::shared_ptr<client_state> s, request req,
                                                                  operation_entry entry)
{
    co_await entry.begin();
    // (A cancellation that came before the first step is in this state only.)
    if (is_canceled(co_await asio::this_coro::cancellation_state))
        co_return failed<response>(asio::error::operation_aborted);
    co_await asio::this_coro::reset_cancellation_state(asio::enable_total_cancellation());

    client_call::prepare(s->options, req);
    const auto source_read = client_call::watch_source(req);
    client_call::redirect_chain chain(req);
    const client_call::call_bounds bounds{client_call::call_deadline(s->options.call_timeout), req.timeouts.total};
    {
        std::lock_guard lock(s->budget_mutex);
        s->budget.record_call(clock::now());
    }
    for (;;) {
        auto result = co_await client_call::send_with_retries(*s, req, source_read, bounds);
        auto& [ec, res] = result;
        if (ec)
            co_return result;
        const auto& policy = s->options.redirect;
        const auto d = chain.decide(req, res, policy);
        auto step = client_call::judge(policy, req, res, d, chain.hops() + 1);
        // A hop that sends the body again needs it from its first byte.
        if (!step.deliver && !step.ec && !d.drop_body && !restart_body(req, source_read && *source_read))
            step.deliver = true;
        res.redirects = chain.hops();
        if (step.deliver)
            co_return result;
        co_await client_call::discard_body(*s, res);
        if (is_canceled(co_await asio::this_coro::cancellation_state))
            co_return failed<response>(asio::error::operation_aborted);
        if (step.ec)
            co_return op_result<response>{step.ec, std::move(res)};
        if (source_read)
            *source_read = false;
        chain.follow(req, d);
    }
}

} // namespace leash::detail
