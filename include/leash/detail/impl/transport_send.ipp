// transport_state: one request, from the pool to a response (acquire a connection, dial one in
// a reserved slot, run the exchange, resend on a stale connection, hand the body over).
// (Included at the end of detail/transport_state.hpp in header-only mode, by leash/src.hpp
// otherwise.)
#pragma once

#include <leash/detail/transport_state.hpp>

namespace leash::detail {

LEASH_DECL asio::awaitable<op_result<response>> transport_state::send(std::shared_ptr<transport_state> self,
                                                                  request req, operation_entry entry)
{
    co_await entry.begin();
    // (A cancellation that came before the first step is in this state only.)
    if (is_canceled(co_await asio::this_coro::cancellation_state))
        co_return failed<response>(asio::error::operation_aborted);
    co_await asio::this_coro::reset_cancellation_state(asio::enable_total_cancellation());
    const auto strand = co_await asio::this_coro::executor;
    auto& s = *self;

    std::error_code ec;
    auto u = url::parse(req.url, ec);
    if (!u)
        co_return failed<response>(ec);
    if (auto bad = validate_request(req))
        co_return failed<response>(bad);
    const auto plan = s.plan_request(req, *u);

    for (std::size_t attempt = 0;; ++attempt) {
        const auto asked_at = plan.trace ? clock::now() : clock::time_point{};
        auto out = s.check_out(plan, strand);
        if (!out.settled())  // (no coroutine for an idle connection)
            out.result = co_await s.finish_checkout(plan, *u, std::move(out));
        auto& [acquire_error, got] = out.result;
        if (acquire_error) {
            s.count_timeout(plan.key, acquire_error);
            co_return failed<response>(acquire_error);
        }
        auto& c = *got.conn;
        s.start_attempt(c, got.reused, req, *u, plan, asked_at);
        attempt_facts facts;
        facts.connection_was_reused = got.reused;
        const exchange_plan exchange_of{req, s.options_, plan.limits, plan.trace};
        ec = co_await exchange(c, exchange_of, plan.head_request, facts);
        if (c.closed_by_shutdown)
            ec = error::shut_down;
        else if (is_canceled(co_await asio::this_coro::cancellation_state))
            ec = asio::error::operation_aborted;
        if (!ec)
            co_return s.hand_over(std::move(got.conn), strand, req, plan, facts);
        s.close_leased(std::move(got.conn), close_reason::error);
        s.count_timeout(plan.key, ec);
        if (!s.may_resend(ec, req, plan, facts, attempt))
            co_return failed<response>(ec);
    }
}

LEASH_DECL request_plan transport_state::plan_request(const request& req, const url& u) const
{
    request_plan p;
    p.proxy = proxy_.for_target(u);
    p.key = pool_key(u, p.proxy);
    p.limits = make_phase_limits(options_, req.timeouts, clock::now());
    p.head_request = req.method == "HEAD";
    p.close_requested = req.headers.has_token("Connection", "close");
    p.replayable = is_replayable(req.method, req.headers, req.replayable);
    p.decode = wants_decoding(req, options_.decoding);
    p.trace = request_trace{tracer(options_.trace.get(), req.trace.get()), trace_request{req.method, p.key, u.target()}};
    return p;
}

// A connection was got for an attempt: trace and count it, and serialise the request head.
LEASH_DECL void transport_state::start_attempt(connection& c, bool reused, const request& req, const url& u,
                                           const request_plan& plan, clock::time_point asked_at)
{
    c.lease_trace = req.trace;
    if (plan.trace) {
        const auto now = clock::now();
        plan.trace(&trace_hooks::got_conn,
                   got_conn_event{plan.trace.request, c.id, reused, reused ? now - c.idle_since : clock::duration{},
                                  now - asked_at});
    }
    {
        std::lock_guard lock(mutex_);
        book_.count(c, [reused](traffic_counters& t) {
            ++t.requests;
            t.reused += reused ? 1 : 0;
        });
    }
    ++c.requests;
    // (An https request goes through its tunnel as it would go directly.)
    write_request_head(c.head, req, u, options_.user_agent, u.is_https() ? nullptr : plan.proxy,
                       plan.decode ? accepted_encodings() : std::string_view{});
}

// Whether an attempt that failed with `ec` is sent again on another connection (counted as a
// retry): a stale reused connection, within max_stale_retries, when should_retry() allows it
// and the body can start over.
LEASH_DECL bool transport_state::may_resend(std::error_code ec, const request& req, const request_plan& plan,
                                        const attempt_facts& facts, std::size_t attempt)
{
    const bool retryable_error = ec != asio::error::operation_aborted && ec != condition::timeout
        && ec != error::body_length_mismatch;
    if (!retryable_error || attempt >= options_.max_stale_retries || !should_retry(facts, plan.replayable)
        || !restart_body(req, facts.body_source_read))
        return false;
    std::lock_guard lock(mutex_);
    book_.count(plan.key, [](traffic_counters& t) { ++t.retries; });
    return true;
}

// The final head arrived: the response, whose body takes the connection over (or, when the
// whole body is here already, holds it and gives the connection back at once).
LEASH_DECL op_result<response> transport_state::hand_over(connection_ptr conn, const asio::any_io_executor& strand,
                                                      request& req, const request_plan& plan,
                                                      const attempt_facts& facts)
{
    auto& c = *conn;
    response r;
    r.status = c.parser.status();
    r.reason = c.parser.reason();
    r.version_major = c.parser.version_major();
    r.version_minor = c.parser.version_minor();
    r.headers = std::move(c.parser.head_fields());
    r.url = std::move(req.url);  // (the request ends here; its URL is the response's)
    c.idle_timeout = idle_timeout_after(options_, r.headers);

    const bool close_after = plan.close_requested || facts.body_skipped;
    std::string held;
    if (!c.parser.message_done() && whole_body_buffered(c))
        if (auto ec = take_buffered_body(c, held)) {
            close_leased(std::move(conn), close_reason::error);
            return failed<response>(ec);
        }
    std::optional<content_decoder> decoder;
    if (plan.decode && (!c.parser.message_done() || !held.empty()))
        if (auto ec = decoder_for(r, decoder)) {
            close_leased(std::move(conn), close_reason::error);
            return failed<response>(ec);
        }
    std::shared_ptr<body_core> core;
    if (c.parser.message_done()) {
        auto trailers = std::move(c.parser.trailer_fields());
        release(std::move(conn), c.reusable_after_message() && !close_after);
        core = held.empty() ? std::make_shared<body_core>(strand)
                            : std::make_shared<body_core>(strand, std::move(held), std::move(trailers));
    } else {
        body_opened(plan.key);
        const auto connection_id = c.id;
        core = std::make_shared<body_core>(strand, shared_from_this(), std::move(conn), plan.limits, close_after);
        if (options_.report_unread_body_after.count() > 0 && plan.trace.wants(&trace_hooks::unread_body))
            core->watch_unread(std::make_shared<unread_watch>(strand, options_.report_unread_body_after,
                                                              options_.trace, req.trace, plan.trace.request,
                                                              connection_id));
    }
    if (decoder)
        core->decode_with(std::move(*decoder));
    r.body = body(std::move(core));
    return {std::error_code{}, std::move(r)};
}

// The decoder for a response with a body whose Content-Encoding this build decodes; its
// fields describing the coded bytes are removed and what is decoded is noted. An error when
// the codec's state cannot be made.
LEASH_DECL std::error_code transport_state::decoder_for(response& r, std::optional<content_decoder>& decoder) const noexcept
{
    try {
        const auto coding = take_content_coding(r.headers);
        if (!coding)
            return {};
        r.decoded_content_encoding = coding_name(*coding);
        decoder.emplace(*coding, limits_of(options_.decoding));
        return {};
    } catch (const std::bad_alloc&) {
        return make_error_code(std::errc::not_enough_memory);
    } catch (...) {
        return error::internal_error;
    }
}

// The pool's answer for one attempt, now: an idle connection that is still alive (one found
// dead is closed and the pool asked again), an error, or a slot to dial in or a place in the
// host's queue, for finish_checkout.
LEASH_DECL transport_state::checkout transport_state::check_out(const request_plan& plan,
                                                            const asio::any_io_executor& strand)
{
    for (bool first = true;; first = false) {
        std::vector<pool_type::closing> expired;
        typename pool_type::acquire_result res;
        checkout out;
        {
            std::lock_guard lock(mutex_);
            res = pool_.acquire(plan.key, clock::now(), expired, [&] {
                out.waiter = std::make_shared<pool_waiter>(strand);
                return out.waiter;
            });
            if (res.conn)
                (*res.conn)->owner = strand;
            count_closed(expired);
            if (res.what == pool_type::outcome::overloaded)
                book_.count(plan.key, [](traffic_counters& t) { ++t.pool_overloaded; });
        }
        close_all(expired);
        if (plan.trace && first)
            plan.trace(&trace_hooks::get_conn, get_conn_event{plan.trace.request, res.what == pool_type::outcome::wait});

        out.what = res.what;
        switch (res.what) {
        case pool_type::outcome::shut_down:
            out.result = failed<acquired>(error::shut_down);
            return out;
        case pool_type::outcome::overloaded:
            out.result = failed<acquired>(error::pool_overloaded);
            return out;
        case pool_type::outcome::idle:
            if ((*res.conn)->stream.probe_idle_alive()) {
                out.result = {std::error_code{}, {std::move(*res.conn), true}};
                return out;
            }
            close_leased(std::move(*res.conn), close_reason::dead_at_checkout);
            continue;
        case pool_type::outcome::dial:
        case pool_type::outcome::wait:
            return out;
        }
    }
}

// A connection for a checkout that did not settle: a new one dialed in the slot the pool
// reserved, or one granted after waiting in the host's queue.
LEASH_DECL asio::awaitable<op_result<transport_state::acquired>>
transport_state::finish_checkout(const request_plan& plan, const url& u, checkout out)
{
    if (out.what == pool_type::outcome::dial)
        co_return co_await dial_in_slot(plan, u);
    co_return co_await wait_for_grant(plan, u, out.waiter);
}

// Queued: sleeps until granted (a connection, or a slot to dial in), failed, timed out or
// canceled. A grant that arrives for a canceled waiter goes back to the pool.
LEASH_DECL asio::awaitable<op_result<transport_state::acquired>>
transport_state::wait_for_grant(const request_plan& plan, const url& u, const waiter_ptr& waiter)
{
    const auto strand = co_await asio::this_coro::executor;
    auto until = clock::now() + plan.limits.pool_wait;
    auto timeout_error = make_error_code(error::pool_wait_timeout);
    if (plan.limits.deadline < until) {
        until = plan.limits.deadline;
        timeout_error = error::request_timeout;
    }
    waiter->timer.expires_at(until);
    std::error_code wait_ec;
    // (A cancellation emitted while no operation was pending is only recorded in the state:
    // check it before the wait.)
    if (!is_canceled_now(co_await asio::this_coro::cancellation_state, wait_ec))
        co_await waiter->timer.async_wait(asio::redirect_error(asio::use_awaitable, wait_ec));

    connection_ptr conn;
    bool granted;
    std::error_code failure;
    std::vector<waiter_ptr> drained;
    {
        std::lock_guard lock(mutex_);
        if (!waiter->granted && !waiter->failure)
            pool_.cancel_wait(plan.key, waiter);
        granted = waiter->granted;
        conn = std::move(waiter->conn);
        if (conn)
            conn->owner = strand;
        failure = waiter->failure;
        drained = due_drain_waiters();
    }
    wake(drained);
    const bool canceled = is_canceled(co_await asio::this_coro::cancellation_state);
    if (granted && canceled) {
        give_back_grant(plan.key, std::move(conn));
        co_return failed<acquired>(asio::error::operation_aborted);
    }
    if (granted && conn) {
        const bool reused = conn->requests > 0;
        co_return op_result<acquired>{std::error_code{}, {std::move(conn), reused}};
    }
    if (granted)
        co_return co_await dial_in_slot(plan, u);
    if (failure)
        co_return failed<acquired>(failure);
    co_return failed<acquired>(!wait_ec && !canceled ? timeout_error : make_error_code(asio::error::operation_aborted));
}

// A grant its waiter no longer wants: the connection goes back, or the reserved slot is freed.
LEASH_DECL void transport_state::give_back_grant(const std::string& key, connection_ptr conn)
{
    if (conn) {
        release(std::move(conn), true);
        return;
    }
    waiter_ptr next;
    std::vector<waiter_ptr> drained;
    {
        std::lock_guard lock(mutex_);
        next = record_grant(pool_.dial_failed(key));
        drained = due_drain_waiters();
    }
    wake(next);
    wake(drained);
}

// Dials in a slot the pool reserved; the slot is released on failure.
LEASH_DECL asio::awaitable<op_result<transport_state::acquired>>
transport_state::dial_in_slot(const request_plan& plan, const url& u)
{
    auto c = std::make_shared<connection>(executor_, plan.key);
    const auto strand = co_await asio::this_coro::executor;
    {
        std::lock_guard lock(mutex_);
        c->owner = strand;
        c->dialing = true;
        c->id = ++next_connection_id_;
        live_.emplace(c.get(), c);
    }
    const dial_plan how{resolve_overrides_,
                        tls_,
                        plan.limits,
                        plan.trace,
                        plan.proxy,
                        options_.user_agent,
                        {options_.max_response_header_bytes, options_.max_response_headers}};
    auto outcome = co_await dial(*c, u, how);
    if (!outcome.ec && is_canceled(co_await asio::this_coro::cancellation_state))
        outcome.ec = asio::error::operation_aborted;
    if (auto ec = after_dial(c, outcome))
        co_return failed<acquired>(ec);
    co_return op_result<acquired>{std::error_code{}, {std::move(c), false}};
}

// Tells the pool how a dial ended and counts it. A dial that succeeded after shutdown() fails
// with shut_down (the connection is closed, never used).
LEASH_DECL std::error_code transport_state::after_dial(connection_ptr& c, dial_outcome outcome)
{
    auto ec = c->closed_by_shutdown ? make_error_code(error::shut_down) : outcome.ec;
    waiter_ptr next;
    std::vector<waiter_ptr> drained;
    {
        std::lock_guard lock(mutex_);
        c->dialing = false;
        if (!ec && pool_.is_shut_down())
            ec = error::shut_down;
        if (outcome.tls_handshake)
            book_.count(c->key, [&](traffic_counters& t) {
                ++t.tls_handshakes;
                t.tls_resumptions += outcome.tls_resumed ? 1 : 0;
            });
        if (ec) {
            book_.count(c->key, [](traffic_counters& t) { ++t.dial_failures; });
            next = record_grant(pool_.dial_failed(c->key));
            live_.erase(c.get());
            drained = due_drain_waiters();
        } else {
            pool_.dial_succeeded(c->key);
            c->host_counters = book_.host_counters(c->key);
            book_.count(*c, [](traffic_counters& t) { ++t.connections_opened; });
        }
    }
    wake(next);
    wake(drained);
    if (ec)
        c->stream.close();
    return ec;
}

} // namespace leash::detail
