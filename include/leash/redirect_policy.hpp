/// \file
/// leash/redirect_policy.hpp - when leash::client follows a redirect, and how.
#pragma once

#include <cstddef>
#include <functional>
#include <string_view>

namespace leash {

/// A hop about to be followed, as shown to redirect_policy::on_redirect.
struct redirect_hop {
    int status = 0;              ///< of the response that redirects
    std::string_view from;       ///< the URL that answered it
    std::string_view to;         ///< the URL the next request goes to
    std::string_view method;     ///< the next request's method
    std::size_t number = 0;      ///< 1 for the first hop of the chain
    bool cross_origin = false;   ///< the credentials' fields are dropped from here on
};

/// What redirect_policy::on_redirect decides for a hop.
enum class redirect_verdict {
    follow,   ///< send the next request
    deliver,  ///< stop here: the 3xx is the response (its body unread)
    refuse,   ///< stop here with error::redirect_vetoed
};

/// When leash::client follows a redirect, and how.
///
/// The transport sends one request and returns its response, 3xx included. The client follows
/// 301, 302, 303, 307 and 308 responses that carry a Location, up to max_redirects hops:
///   - 301 and 302 turn a POST into a GET without body; 303 turns every method but GET and
///     HEAD into a GET without body (the fields describing the body go with it). 307 and 308
///     keep the method and the body; a body source that cannot start over (no rewind, or a
///     rewind that fails) makes the 3xx the response instead.
///   - A relative Location is resolved against the request's URL (RFC 3986 section 5).
///   - Authorization, Cookie and Proxy-Authorization (and a Host the caller set) are dropped
///     once a hop leaves the origin (scheme, host and port) of the request; from then on the
///     chain never sends them again. A 307 or 308 to another origin does send the body again:
///     use on_redirect to refuse such hops when the body holds secrets.
///   - https to http is refused (error::insecure_redirect) unless allow_https_to_http.
///
/// The body of each 3xx that is followed is read and discarded up to
/// client_options::max_discarded_body (keeping its connection), or closed.
/// The response delivered says where it came from: response::url and response::redirects.
///
/// The default follows up to 10 hops, as browsers, Go and most HTTP libraries do: a client
/// that hands back a 301 for a moved endpoint surprises more callers than it protects, and the
/// credential and https rules above make following safe. Set max_redirects = 0 to deliver
/// every 3xx as it is.
///
/// \errors
/// A hop beyond max_redirects fails with error::too_many_redirects, a request already sent
/// in the chain with error::redirect_loop, a Location that is no http(s) URL with
/// error::invalid_redirect_location. These errors come with the 3xx response (its body
/// closed). An https to http hop fails with error::insecure_redirect (unless
/// allow_https_to_http), a hop that on_redirect refuses with error::redirect_vetoed.
struct redirect_policy {
    /// Hops that may be followed; 0 delivers every 3xx as it is.
    std::size_t max_redirects = 10;
    /// Follow a redirect from https to http (the next request, and its body, travel in clear).
    bool allow_https_to_http = false;
    /// Called before each hop, on the call's strand; must not block. Empty: every hop allowed
    /// by the rules above is followed. Use it to log hops or to keep a chain on known hosts.
    std::function<redirect_verdict(const redirect_hop&)> on_redirect;
};

} // namespace leash
