// The request a followed redirect sends, without I/O: the previous request rewritten as a
// redirect_decision (detail/redirect_rules.hpp) says.
#pragma once

#include <leash/detail/redirect_rules.hpp>
#include <leash/request.hpp>

#include <array>
#include <string_view>

namespace leash::detail {

// The fields that describe a request's body (the Fetch standard's request-body-header names,
// with the framing and Expect), dropped with the body.
inline constexpr std::array<std::string_view, 7> body_fields{"Content-Type",     "Content-Length",   "Content-Encoding",
                                                             "Content-Language", "Content-Location", "Transfer-Encoding",
                                                             "Expect"};

// Rewrites `req` into the next request of a chain: the decision's URL (with its fragment),
// method and body; on a cross-origin hop, without the credentials' fields and without a Host
// the caller set for the previous origin. `d` must be a follow decision.
inline void redirect_request(request& req, const redirect_decision& d)
{
    req.url = d.next->to_string() + d.fragment;
    req.method = d.method;
    if (d.drop_body) {
        req.body.clear();
        req.source.reset();
        for (const auto name : body_fields)
            req.headers.erase(name);
    }
    if (d.cross_origin) {
        for (const auto name : credential_fields)
            req.headers.erase(name);
        req.headers.erase("Host");
    }
}

// The fragment of a request URL, with its '#', or empty.
inline std::string_view url_fragment(std::string_view url) noexcept
{
    const auto hash = url.find('#');
    return hash == std::string_view::npos ? std::string_view{} : url.substr(hash);
}

} // namespace leash::detail
