// leash/client.hpp - a convenience layer over a transport: a base URL, default headers,
// application-level retries and redirects.
//
// client::async_send(request, token) completes with (std::error_code, response) like
// transport::async_send. A request URL without a scheme ("/chat/completions") is appended to
// client_options::base_url. Fields of default_headers are added unless the request has them.
// A request that fails to connect, or is answered with one of retry_policy::retry_statuses,
// is sent again after a backoff (or the delay the server asks for with Retry-After /
// retry-after-ms) when it is replayable (see leash/request.hpp) or the outcome proves it was
// not processed (see leash/retry_policy.hpp); the body of a response that is retried is
// discarded, never handed to the caller. The last outcome is delivered as it is.
//
// A request with a body source is sent again only if the source can start over (see
// leash/body_source.hpp, `rewind`); otherwise the last outcome is delivered. Retries are
// bounded by a budget shared by the client's calls (retry_policy::budget_ratio), and a whole
// call by client_options::call_timeout (error::call_timeout).
//
// Redirects are followed as client_options::redirect says (leash/redirect_policy.hpp); each
// hop is one request as above, with its own retries. response::url and response::redirects
// say where the response delivered came from.
//
// Thread safety and lifetime as for transport: the client owns its transport; destroying it
// shuts the transport down (see transport.hpp), also while calls are in flight: they keep
// what they use alive and complete as the transport's contract says. Cancellation is honoured
// during backoff too.
#pragma once

#include <leash/detail/redirect_request.hpp>
#include <leash/detail/retry.hpp>
#include <leash/detail/retry_budget.hpp>
#include <leash/detail/retry_rules.hpp>
#include <leash/detail/spawn.hpp>
#include <leash/detail/tracer.hpp>
#include <leash/headers.hpp>
#include <leash/redirect_policy.hpp>
#include <leash/request.hpp>
#include <leash/response.hpp>
#include <leash/retry_policy.hpp>
#include <leash/transport.hpp>

#include <asio.hpp>
#include <asio/experimental/as_tuple.hpp>

#include <atomic>
#include <chrono>
#include <mutex>
#include <optional>
#include <random>
#include <string>
#include <vector>

namespace leash {

struct client_options {
    std::string base_url;       // prefix for request URLs without a scheme, e.g. "https://host/api/v3"
    headers default_headers;    // e.g. Authorization; a request's own fields win
    retry_policy retry;         // application-level retries (max 2 by default)
    redirect_policy redirect;   // redirects followed (up to 10 by default; see redirect_policy.hpp)
    // The body of a response that is retried or redirected is read up to this to keep its
    // connection, then closed.
    std::size_t max_discarded_body = 64 * 1024;
    // A deadline for the whole call: every attempt, backoff and redirect hop; zero = off (the
    // default: each attempt is bounded by the transport's timeouts, and retries by their
    // count). An attempt cut by it fails with error::call_timeout; a backoff that would pass
    // it is not waited for (the last outcome is delivered). It also bounds reading the body of
    // the response delivered (as its request's total deadline: error::request_timeout). The
    // per-attempt total is request_timeouts::total (or transport_options::request_timeout).
    std::chrono::milliseconds call_timeout{0};
};

class client {
public:
    using executor_type = leash::transport::executor_type;

    explicit client(executor_type ex, client_options options = {}, transport_options topts = {})
        : state_(std::make_shared<state>(std::move(options), std::move(ex), std::move(topts)))
    {
    }
    template <class ExecutionContext>
        requires std::is_convertible_v<ExecutionContext&, asio::execution_context&>
    explicit client(ExecutionContext& ctx, client_options options = {}, transport_options topts = {})
        : client(ctx.get_executor(), std::move(options), std::move(topts))
    {
    }

    client(const client&) = delete;
    client& operator=(const client&) = delete;
    // Shuts the transport down (see transport.hpp); calls in flight keep what they use alive
    // and end as the transport's contract says.
    ~client() { state_->transport.shutdown(); }

    leash::transport& transport() noexcept { return state_->transport; }
    const client_options& options() const noexcept { return state_->options; }

    // Retries made by this client (not counting the transport's stale-connection retries).
    std::uint64_t retries() const noexcept { return state_->retries.load(); }
    // Retries the retry budget refused (see retry_policy::budget_ratio).
    std::uint64_t retries_refused() const noexcept { return state_->retries_refused.load(); }

    template <class Token = asio::default_completion_token_t<executor_type>>
    auto async_send(request req, Token&& token = {})
    {
        return detail::spawn_operation(state_->transport.get_executor(),
                                       detail::make_operation([&](detail::operation_entry entry) {
                                           return send(state_, std::move(req), entry);
                                       }),
                                       std::forward<Token>(token));
    }

private:
    using clock = std::chrono::steady_clock;

    // What a call in flight needs, shared with it so the client handle may go at any time.
    struct state {
        state(client_options o, executor_type ex, transport_options topts)
            : options(std::move(o)), transport(std::move(ex), std::move(topts))
        {
        }
        client_options options;
        leash::transport transport;
        std::atomic<std::uint64_t> retries{0};
        std::atomic<std::uint64_t> retries_refused{0};
        std::mutex budget_mutex;
        detail::retry_budget budget{options.retry.budget_ratio, options.retry.budget_min_per_second,
                                    options.retry.budget_window};
    };

    static asio::awaitable<detail::op_result<response>> send(std::shared_ptr<state> s, request req,
                                                             detail::operation_entry entry)
    {
        co_await entry.begin();
        // (A cancellation that came before the first step is in this state only.)
        if (detail::is_canceled(co_await asio::this_coro::cancellation_state))
            co_return detail::failed<response>(asio::error::operation_aborted);
        co_await asio::this_coro::reset_cancellation_state(asio::enable_total_cancellation());

        prepare(s->options, req);
        const auto source_read = watch_source(req);
        redirect_chain chain(req);
        const call_bounds bounds{call_deadline(s->options.call_timeout), req.timeouts.total};
        {
            std::lock_guard lock(s->budget_mutex);
            s->budget.record_call(clock::now());
        }
        for (;;) {
            auto result = co_await send_with_retries(*s, req, source_read, bounds);
            auto& [ec, res] = result;
            if (ec)
                co_return result;
            const auto& policy = s->options.redirect;
            const auto d = chain.decide(req, res, policy);
            auto step = judge(policy, req, res, d, chain.hops() + 1);
            // A hop that sends the body again needs it from its first byte.
            if (!step.deliver && !step.ec && !d.drop_body && !detail::restart_body(req, source_read && *source_read))
                step.deliver = true;
            res.redirects = chain.hops();
            if (step.deliver)
                co_return result;
            co_await discard_body(*s, res);
            if (detail::is_canceled(co_await asio::this_coro::cancellation_state))
                co_return detail::failed<response>(asio::error::operation_aborted);
            if (step.ec)
                co_return detail::op_result<response>{step.ec, std::move(res)};
            if (source_read)
                *source_read = false;
            chain.follow(req, d);
        }
    }

    // The call's deadline, and the total deadline the caller gave each attempt.
    struct call_bounds {
        clock::time_point deadline;
        std::optional<std::chrono::milliseconds> attempt_total;
    };

    // One hop: the request, sent again after a backoff as retry_policy allows, within `bounds`.
    static asio::awaitable<detail::op_result<response>> send_with_retries(state& s, request& req,
                                                                          std::shared_ptr<bool> source_read,
                                                                          call_bounds bounds)
    {
        const auto deadline = bounds.deadline;
        constexpr auto as_tuple = asio::experimental::as_tuple(asio::use_awaitable);
        const bool replayable = detail::is_replayable(req.method, req.headers, req.replayable);
        for (std::size_t retries_done = 0;; ++retries_done) {
            if (!bound_attempt(req, bounds.attempt_total, s.transport.options().request_timeout, deadline))
                co_return detail::failed<response>(error::call_timeout);
            auto [ec, res] = co_await s.transport.async_send(req, as_tuple);
            if (ec == error::request_timeout && clock::now() >= deadline)
                ec = error::call_timeout;
            const detail::attempt_outcome outcome{ec, ec ? 0 : res.status, ec ? nullptr : &res.headers};
            const auto plan = detail::next_retry(s.options.retry, retries_done, outcome, replayable,
                                                 std::chrono::system_clock::now(), random_unit());
            if (!plan || clock::now() + plan->delay >= deadline
                || !detail::restart_body(req, source_read && *source_read)
                || !spend_retry(s, req, outcome, retries_done, *plan))
                co_return detail::op_result<response>{ec, std::move(res)};
            if (source_read)
                *source_read = false;
            if (!ec)
                co_await discard_body(s, res);
            if (detail::is_canceled(co_await asio::this_coro::cancellation_state))
                co_return detail::failed<response>(asio::error::operation_aborted);
            asio::steady_timer backoff(co_await asio::this_coro::executor, plan->delay);
            auto [wait_ec] = co_await backoff.async_wait(as_tuple);
            if (wait_ec)
                co_return detail::failed<response>(asio::error::operation_aborted);
            ++s.retries;
        }
    }

    // Whether the retry budget allows the retry `plan` (counted when it does, in
    // retries_refused when not); traced either way.
    static bool spend_retry(state& s, const request& req, const detail::attempt_outcome& outcome,
                            std::size_t retries_done, const detail::retry_plan& plan)
    {
        bool allowed;
        {
            std::lock_guard lock(s.budget_mutex);
            allowed = s.budget.try_retry(clock::now());
        }
        if (!allowed)
            ++s.retries_refused;
        const detail::tracer trace(s.transport.options().trace.get(), req.trace.get());
        if (trace.wants(&trace_hooks::retry))
            trace(&trace_hooks::retry, retry_event{req.method, req.url, retries_done + 2, outcome.error,
                                                   outcome.status, plan.delay, plan.source, !allowed});
        return allowed;
    }

    static clock::time_point call_deadline(std::chrono::milliseconds call_timeout)
    {
        return call_timeout.count() > 0 ? clock::now() + call_timeout : clock::time_point::max();
    }

    // Sets the attempt's total deadline to what is left of the call's, when that is sooner than
    // its own (the request's, else the transport's). False when nothing is left.
    static bool bound_attempt(request& req, std::optional<std::chrono::milliseconds> own_total,
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

    // Reads a response's body up to max_discarded_body, to keep its connection, and closes it.
    static asio::awaitable<void> discard_body(state& s, response& res)
    {
        auto [read_ec, ignored] = co_await res.body.async_read_all(s.options.max_discarded_body,
                                                                   asio::experimental::as_tuple(asio::use_awaitable));
        (void)read_ec;
        res.body.close();
    }

    // What a call does with a response after the redirect rules and the policy's hook: deliver
    // it, stop with an error (ec), or follow the redirect (neither).
    struct redirect_step {
        bool deliver = false;
        std::error_code ec;
    };

    static redirect_step judge(const redirect_policy& policy, const request& req, const response& res,
                               const detail::redirect_decision& d, std::size_t hop_number)
    {
        using outcome = detail::redirect_decision::outcome;
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
                visited_.push_back(detail::redirect_visit_key(first.method, *u));
        }

        std::size_t hops() const noexcept { return visited_.empty() ? 0 : visited_.size() - 1; }

        detail::redirect_decision decide(const request& req, const response& res, const redirect_policy& policy) const
        {
            std::error_code ec;
            const auto target = url::parse(req.url, ec);
            if (!target)
                return {};
            const bool has_body = !req.body.empty() || req.source.has_value();
            const bool rewindable = !req.source || static_cast<bool>(req.source->rewind);
            return detail::decide_redirect(res.status, res.headers.get("Location"),
                                           {req.method, *target, has_body, rewindable, detail::url_fragment(req.url)},
                                           hops(), visited_, {policy.max_redirects, policy.allow_https_to_http});
        }

        // (A body sent again was restarted by the caller.)
        void follow(request& req, const detail::redirect_decision& d)
        {
            visited_.push_back(detail::redirect_visit_key(d.method, *d.next));
            detail::redirect_request(req, d);
        }

    private:
        std::vector<std::string> visited_;
    };

    // Resolves a relative URL against base_url and adds the default headers.
    static void prepare(const client_options& options, request& req)
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
    static std::shared_ptr<bool> watch_source(request& req)
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

    static double random_unit()
    {
        thread_local std::mt19937_64 engine{std::random_device{}()};
        return std::uniform_real_distribution<double>(0.0, 1.0)(engine);
    }

    std::shared_ptr<state> state_;
};

} // namespace leash
