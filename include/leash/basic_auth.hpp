/// \file
/// leash/basic_auth.hpp - the value of an Authorization header for HTTP Basic authentication
/// (RFC 7617).
#pragma once

#include <leash/detail/base64.hpp>

#include <algorithm>
#include <stdexcept>
#include <string>
#include <string_view>

namespace leash {

namespace detail {

// RFC 7617 section 2 (CTL of RFC 5234): the bytes a user name or password cannot hold.
inline bool is_credential_control(unsigned char byte) noexcept
{
    return byte < 0x20 || byte == 0x7f;
}

// "Basic " and base64 of "user:password", for credentials already known to be valid.
inline std::string basic_credentials(std::string_view user, std::string_view password)
{
    std::string pair;
    pair.reserve(user.size() + 1 + password.size());
    pair.append(user).append(":").append(password);
    return "Basic " + base64_encode(pair);
}

} // namespace detail

/// The value of an Authorization header for HTTP Basic authentication (RFC 7617):
/// "Basic " followed by base64 of "user:password".
///
/// \code
/// req.headers.set("Authorization", leash::basic_auth("aladdin", "open sesame"));
/// \endcode
///
/// The user name and password are sent as given (UTF-8 by convention, RFC 7617 section 2.1)
/// and base64-encoded, which hides nothing: send them over https only. Pure function.
///
/// \errors
/// Throws std::invalid_argument when the user name holds a ":" (the server would split the
/// pair elsewhere) or either holds a control character (RFC 7617 section 2 forbids them): a
/// credential that cannot mean what was given is never built.
inline std::string basic_auth(std::string_view user, std::string_view password)
{
    const auto has_control = [](std::string_view s) {
        return std::any_of(s.begin(), s.end(),
                           [](char c) { return detail::is_credential_control(static_cast<unsigned char>(c)); });
    };
    if (user.find(':') != std::string_view::npos)
        throw std::invalid_argument("leash::basic_auth: a user name cannot contain ':'");
    if (has_control(user) || has_control(password))
        throw std::invalid_argument("leash::basic_auth: a user name or password cannot contain a control character");
    return detail::basic_credentials(user, password);
}

} // namespace leash
