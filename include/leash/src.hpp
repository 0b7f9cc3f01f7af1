/// \file
/// leash/src.hpp - the definitions of leash's non-template machinery, for separate compilation.
///
/// With LEASH_SEPARATE_COMPILATION defined in every unit of the program, include this header in
/// exactly one source file (or link the CMake target leash::leash_compiled, which does); every
/// other unit then only sees declarations and compiles much faster. Without
/// LEASH_SEPARATE_COMPILATION (header-only, the default) there is nothing to compile here, and
/// including this header is an error.
#pragma once

#include <leash/detail/config.hpp>

#if defined(LEASH_HEADER_ONLY)
#error "<leash/src.hpp> is for separate compilation: define LEASH_SEPARATE_COMPILATION in every unit"
#endif

#include <leash/leash.hpp>

// (GCC warns about a coroutine frame holding a lambda when the coroutine is defined in a
// header without `inline`; these definitions are compiled in this one unit only.)
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wsubobject-linkage"
#endif

#include <leash/detail/impl/spawn.ipp>
#include <leash/detail/impl/dialer.ipp>
#include <leash/detail/impl/exchange.ipp>
#include <leash/detail/impl/transport_state.ipp>
#include <leash/detail/impl/transport_send.ipp>
#include <leash/detail/impl/body_core.ipp>
#include <leash/detail/impl/client_state.ipp>
#include <leash/impl/body.ipp>
#include <leash/impl/transport.ipp>
#include <leash/impl/sse_reader.ipp>

#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic pop
#endif

namespace leash::detail {

// The operations leash starts, one per result type (see launch() in detail/spawn.hpp).
template void launch(asio::any_io_executor, asio::awaitable<op_result<response>>, asio::cancellation_slot,
                     erased_completion<op_result<response>>);
template void launch(asio::any_io_executor, asio::awaitable<op_result<std::size_t>>, asio::cancellation_slot,
                     erased_completion<op_result<std::size_t>>);
template void launch(asio::any_io_executor, asio::awaitable<op_result<std::string>>, asio::cancellation_slot,
                     erased_completion<op_result<std::string>>);
template void launch(asio::any_io_executor, asio::awaitable<op_result<sse::event>>, asio::cancellation_slot,
                     erased_completion<op_result<sse::event>>);
template void launch(asio::any_io_executor, asio::awaitable<std::error_code>, asio::cancellation_slot,
                     erased_completion<std::error_code>);

} // namespace leash::detail
