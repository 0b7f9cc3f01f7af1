// What a leash::client's calls share: its options, its transport, the retry counters and the
// retry budget. Held by the client and by every call in flight (a shared_ptr), so the client
// handle may go at any time. send() is one call, defined in detail/impl/client_state.ipp.
#pragma once

#include <leash/client_options.hpp>
#include <leash/detail/config.hpp>
#include <leash/detail/retry_budget.hpp>
#include <leash/detail/spawn.hpp>
#include <leash/request.hpp>
#include <leash/response.hpp>
#include <leash/transport.hpp>

#include <asio.hpp>

#include <atomic>
#include <cstdint>
#include <memory>
#include <mutex>

namespace leash::detail {

struct client_state {
    client_state(client_options o, asio::any_io_executor ex, transport_options topts);
    // A new state, shared by the client handle and its calls.
    static std::shared_ptr<client_state> create(client_options o, asio::any_io_executor ex, transport_options topts);

    // One call: base URL and default headers, then each hop with its retries, the redirects
    // as options.redirect says.
    static asio::awaitable<op_result<response>> send(std::shared_ptr<client_state> s, request req,
                                                     operation_entry entry);

    client_options options;
    leash::transport transport;
    std::atomic<std::uint64_t> retries{0};
    std::atomic<std::uint64_t> retries_refused{0};
    std::mutex budget_mutex;
    retry_budget budget{options.retry.budget_ratio, options.retry.budget_min_per_second, options.retry.budget_window};
};

} // namespace leash::detail

#if defined(LEASH_HEADER_ONLY)
#include <leash/detail/impl/client_state.ipp>
#endif
