// Which proxy a request goes through, without I/O: the proxy_options parsed once (the two
// proxy URLs and the NO_PROXY list), then asked per target URL. Immutable after parsing:
// concurrent calls of for_target() are safe.
#pragma once

#include <leash/detail/no_proxy_rules.hpp>
#include <leash/error.hpp>
#include <leash/proxy.hpp>
#include <leash/url.hpp>

#include <optional>
#include <string>
#include <system_error>

namespace leash::detail {

class proxy_choice {
public:
    // No proxy: every target is reached directly.
    proxy_choice() = default;

    // Parses options. On an invalid proxy URL sets ec to its proxy_* code (equal to
    // error::invalid_proxy) and returns nullopt. Invalid NO_PROXY entries are ignored.
    static std::optional<proxy_choice> parse(const proxy_options& options, std::error_code& ec)
    {
        std::optional<proxy_choice> choice(std::in_place);
        ec = parse_proxy(options.http, choice->http_);
        if (!ec)
            ec = parse_proxy(options.https, choice->https_);
        if (ec)
            return std::nullopt;
        choice->no_proxy_ = no_proxy_rules(options.no_proxy);
        return choice;
    }

    // Parses options; throws std::system_error on an invalid proxy URL, whose what() names
    // the field ("proxy_options::https") but never its value.
    static proxy_choice parse(const proxy_options& options)
    {
        proxy_choice choice;
        if (const auto ec = parse_proxy(options.http, choice.http_))
            throw std::system_error(ec, "proxy_options::http");
        if (const auto ec = parse_proxy(options.https, choice.https_))
            throw std::system_error(ec, "proxy_options::https");
        choice.no_proxy_ = no_proxy_rules(options.no_proxy);
        return choice;
    }

    // The proxy a request for target goes through, or nullptr to connect directly: the
    // proxy set for the target's scheme, unless no_proxy lists the target's host and port.
    // The pointer is valid as long as this object.
    const proxy_server* for_target(const url& target) const
    {
        const auto& proxy = target.is_https() ? https_ : http_;
        if (!proxy || no_proxy_.bypasses(target.host(), target.port(), target.is_ipv6_literal()))
            return nullptr;
        return &*proxy;
    }

    const no_proxy_rules& no_proxy() const noexcept { return no_proxy_; }

private:
    // An empty text is no proxy; anything else must be a valid proxy URL.
    static std::error_code parse_proxy(const std::string& text, std::optional<proxy_server>& out)
    {
        std::error_code ec;
        if (!text.empty())
            out = proxy_server::parse(text, ec);
        return ec;
    }

    std::optional<proxy_server> http_;
    std::optional<proxy_server> https_;
    no_proxy_rules no_proxy_;
};

} // namespace leash::detail
