// The redirect decision, without I/O: given a response's status and Location, the request
// that got it, and the limits, whether to deliver the response, follow it (with which URL,
// method and body, with or without credentials), or fail, and why.
//
// The rules (RFC 9110 section 15.4 and the Fetch standard's choices, which browsers, Go and
// curl follow):
// - 301, 302, 303, 307 and 308 are followed; any other status is delivered, as is a redirect
//   without a Location field, or any redirect when no hop is allowed (max_redirects == 0).
// - 301 and 302 turn a POST into a GET without body; 303 turns every method but GET and HEAD
//   into a GET without body. 307 and 308 keep the method and the body, so a body that cannot
//   be sent again (not rewindable) makes the redirect delivered instead of followed.
// - Location is resolved against the request's URL (RFC 3986 section 5); bytes a URL cannot
//   hold (space, control, >= 0x80) are percent-encoded first, as browsers do. A Location that
//   still is not an http(s) URL is invalid_location.
// - https to http is refused (insecure) unless allowed; a hop beyond max_redirects is
//   too_many; a method and URL already visited in this chain is a loop.
// - Authorization, Cookie and Proxy-Authorization are dropped once the chain leaves the
//   origin (scheme, host and port) of the request it came from.
// - A Location without a fragment inherits the request's (RFC 9110 section 10.2.2).
#pragma once

#include <leash/detail/url_reference.hpp>
#include <leash/url.hpp>
#include <leash/url_encoding.hpp>

#include <algorithm>
#include <array>
#include <cstddef>
#include <optional>
#include <span>
#include <string>
#include <string_view>

namespace leash::detail {

struct redirect_limits {
    std::size_t max_redirects = 0;     // hops that may be followed; 0: every 3xx is delivered
    bool allow_https_to_http = false;  // follow a redirect from https to http
};

// The request that received the redirect.
struct redirected_request {
    std::string_view method;
    const url& target;
    bool has_body = false;
    bool body_rewindable = false;  // its body can be sent again (when it has one)
    std::string_view fragment = {};  // of the URL it was sent to, with its '#' (never sent)
};

struct redirect_decision {
    enum class outcome {
        deliver,           // hand the response to the caller as it is
        follow,            // send the next request as described below
        too_many,          // a further hop would pass max_redirects
        loop,              // the next request (method and URL) was already sent in this chain
        insecure,          // from https to http, not allowed
        invalid_location,  // Location does not resolve to an http or https URL
    };
    outcome what = outcome::deliver;
    // With follow:
    std::optional<url> next;    // where to
    std::string fragment;       // the fragment next carries, with its '#', or empty
    std::string method;         // with which method
    bool drop_body = false;     // send it without body (and without the fields describing one)
    bool cross_origin = false;  // next is of another origin: drop the credentials' fields
};

// Whether a and b have the same scheme, host and port.
inline bool same_origin(const url& a, const url& b) noexcept
{
    return a.scheme() == b.scheme() && a.host() == b.host() && a.port() == b.port();
}

// The fields a request loses when a redirect takes it to another origin.
inline constexpr std::array<std::string_view, 3> credential_fields{"Authorization", "Cookie", "Proxy-Authorization"};

// The method after a redirect with `status` (the Fetch standard's rule), and whether it
// keeps its body.
inline std::pair<std::string, bool> method_after_redirect(int status, std::string_view method)
{
    const bool becomes_get = (status == 303 && method != "GET" && method != "HEAD")
        || ((status == 301 || status == 302) && method == "POST");
    return becomes_get ? std::pair<std::string, bool>{"GET", false} : std::pair<std::string, bool>{std::string(method), true};
}

// Location as a URL can hold it: bytes outside 0x21-0x7e percent-encoded.
inline std::string encode_location(std::string_view location)
{
    static constexpr auto visible = [] {
        std::array<bool, 256> table{};
        for (int c = 0x21; c < 0x7f; ++c)
            table[c] = true;
        return table;
    }();
    std::string out;
    append_percent_encoded(out, location, visible);
    return out;
}

inline bool is_redirect_status(int status) noexcept
{
    return status == 301 || status == 302 || status == 303 || status == 307 || status == 308;
}

// What identifies a request in a chain, for the loop check.
inline std::string redirect_visit_key(std::string_view method, const url& target)
{
    return std::string(method) + ' ' + target.to_string();
}

// `visited`: redirect_visit_key() of every request sent in this chain so far, the first
// included; `hops_followed`: how many redirects were followed to reach `request`.
inline redirect_decision decide_redirect(int status, std::optional<std::string_view> location,
                                         const redirected_request& request, std::size_t hops_followed,
                                         std::span<const std::string> visited, const redirect_limits& limits)
{
    using outcome = redirect_decision::outcome;
    redirect_decision d;
    if (!is_redirect_status(status) || limits.max_redirects == 0 || !location)
        return d;
    auto [method, keeps_body] = method_after_redirect(status, request.method);
    if (keeps_body && request.has_body && !request.body_rewindable)
        return d;  // 307/308 (or 301/302 of another method) with a body that cannot be sent again

    std::error_code ec;
    const auto resolved = resolve_reference(request.target.to_string(), encode_location(*location));
    std::optional<url> next = resolved ? url::parse(*resolved, ec) : std::nullopt;
    if (!next) {
        d.what = outcome::invalid_location;
        return d;
    }
    if (request.target.is_https() && !next->is_https() && !limits.allow_https_to_http) {
        d.what = outcome::insecure;
        return d;
    }
    if (hops_followed >= limits.max_redirects) {
        d.what = outcome::too_many;
        return d;
    }
    const std::string key = redirect_visit_key(method, *next);
    if (std::find(visited.begin(), visited.end(), key) != visited.end()) {
        d.what = outcome::loop;
        return d;
    }
    d.what = outcome::follow;
    d.cross_origin = !same_origin(request.target, *next);
    d.next = std::move(next);
    const auto hash = resolved->find('#');
    d.fragment = hash != std::string::npos ? resolved->substr(hash) : std::string(request.fragment);
    d.method = std::move(method);
    d.drop_body = !keeps_body;
    return d;
}

} // namespace leash::detail
