// The NO_PROXY list (proxy_options::no_proxy in leash/proxy.hpp, whose comment is the
// contract) parsed once into rules, and whether a target's host and port bypass the proxy.
// Without I/O and without DNS: an address rule matches only a host written as an address.
// Entries that are not of the documented forms are ignored. Immutable after construction:
// concurrent calls of bypasses() are safe.
#pragma once

#include <leash/detail/decimal.hpp>
#include <leash/headers.hpp>
#include <leash/url.hpp>

#include <asio/ip/address.hpp>
#include <asio/ip/network_v4.hpp>
#include <asio/ip/network_v6.hpp>

#include <algorithm>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <system_error>
#include <vector>

namespace leash::detail {

inline bool is_ip_literal_char(char c) noexcept
{
    return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F') || c == ':' || c == '.';
}

// An IPv4 or IPv6 address written as one (no brackets, no zone), or nullopt. The characters
// are checked first, so that no zone ("%eth0") reaches the parser, which would look up the
// interface.
inline std::optional<asio::ip::address> parse_ip_literal(std::string_view text)
{
    if (text.empty() || !std::all_of(text.begin(), text.end(), is_ip_literal_char))
        return std::nullopt;
    std::error_code ec;
    const auto address = asio::ip::make_address(text, ec);
    if (ec)
        return std::nullopt;
    return address;
}

// Calls fn(entry) for each entry of a comma-separated list, ASCII white space around entries
// trimmed, empty entries skipped.
template <class Fn>
void for_each_no_proxy_entry(std::string_view list, Fn&& fn)
{
    constexpr std::string_view space = " \t\r\n\v\f";
    for (;;) {
        const auto comma = list.find(',');
        auto entry = list.substr(0, comma);
        entry.remove_prefix(std::min(entry.size(), entry.find_first_not_of(space)));
        entry = entry.substr(0, entry.find_last_not_of(space) + 1);
        if (!entry.empty())
            fn(entry);
        if (comma == std::string_view::npos)
            return;
        list.remove_prefix(comma + 1);
    }
}

// One NO_PROXY entry other than "*", taken apart: "host", "host:port", "address/prefix",
// "address/prefix:port", "[v6]", "[v6]:port", "[v6]/prefix[:port]" or a bare IPv6 address.
struct no_proxy_entry {
    std::string_view host;  // a name or an address, without brackets
    bool bracketed = false;
    std::optional<unsigned> prefix;
    std::uint16_t port = 0;  // 0: any port
};

// The "/prefix" and ":port" after an entry's host, or false if rest is anything else.
inline bool parse_entry_tail(std::string_view rest, no_proxy_entry& entry)
{
    if (!rest.empty() && rest.front() == '/') {
        const auto colon = rest.find(':');
        unsigned prefix = 0;
        const auto prefix_text = colon == std::string_view::npos ? rest.substr(1) : rest.substr(1, colon - 1);
        if (parse_decimal_digits(prefix_text, prefix) != decimal_parse::ok)
            return false;
        entry.prefix = prefix;
        rest = colon == std::string_view::npos ? std::string_view{} : rest.substr(colon);
    }
    if (rest.empty())
        return true;
    const auto port = rest.front() == ':' ? parse_port(rest.substr(1)) : std::nullopt;
    entry.port = port.value_or(0);
    return port.has_value();
}

inline std::optional<no_proxy_entry> split_no_proxy_entry(std::string_view text)
{
    no_proxy_entry entry;
    std::size_t host_end = std::string_view::npos;  // where the "/prefix" or ":port" starts
    if (text.front() == '[') {
        const auto close = text.find(']');
        if (close == std::string_view::npos)
            return std::nullopt;
        entry.bracketed = true;
        entry.host = text.substr(1, close - 1);
        host_end = close + 1;
    } else if (const auto slash = text.find('/'); slash != std::string_view::npos) {
        host_end = slash;
    } else if (std::count(text.begin(), text.end(), ':') == 1) {
        host_end = text.find(':');
    }  // else a name or an address without port, IPv6 included
    if (!entry.bracketed)
        entry.host = text.substr(0, host_end);
    if (host_end != std::string_view::npos && !parse_entry_tail(text.substr(host_end), entry))
        return std::nullopt;
    return entry;
}

// A name entry as the domain it matches: lower case, without a leading "." or "*." and a
// trailing "."; nullopt unless it is dot-separated labels of host name characters.
inline std::optional<std::string> no_proxy_domain(std::string_view name)
{
    if (name.starts_with("*."))
        name.remove_prefix(2);
    else if (name.starts_with('.'))
        name.remove_prefix(1);
    if (name.ends_with('.'))
        name.remove_suffix(1);
    if (name.empty() || name.front() == '.' || name.back() == '.' || name.find("..") != std::string_view::npos)
        return std::nullopt;
    std::string domain(name.size(), '\0');
    for (std::size_t i = 0; i < name.size(); ++i) {
        if (!is_reg_name_char(static_cast<unsigned char>(name[i])))
            return std::nullopt;
        domain[i] = ascii_lower(name[i]);
    }
    return domain;
}

// host is domain or a name below it (ASCII case-insensitive); host without a trailing ".".
inline bool is_domain_or_below(std::string_view host, std::string_view domain) noexcept
{
    if (host.size() < domain.size() || !iequals(host.substr(host.size() - domain.size()), domain))
        return false;
    return host.size() == domain.size() || host[host.size() - domain.size() - 1] == '.';
}

class no_proxy_rules {
public:
    // No rules: nothing bypasses the proxy.
    no_proxy_rules() = default;
    // Parses a NO_PROXY list; entries that are not of the documented forms are ignored.
    explicit no_proxy_rules(std::string_view list)
    {
        for_each_no_proxy_entry(list, [this](std::string_view entry) { add(entry); });
    }

    // True when a request to host:port goes directly. host is a name or an address as
    // leash::url gives it (IPv6 without brackets, and then host_is_ipv6_literal is true).
    bool bypasses(std::string_view host, std::uint16_t port, bool host_is_ipv6_literal) const
    {
        if (all_)
            return true;
        const auto address = parse_ip_literal(host);
        if (host_is_ipv6_literal)
            return address && address->is_v6() && address_bypasses(*address, port);
        if (address && address->is_v4())
            return address_bypasses(*address, port);
        if (host.ends_with('.'))
            host.remove_suffix(1);
        return std::any_of(names_.begin(), names_.end(), [&](const name_rule& r) {
            return port_matches(r.port, port) && is_domain_or_below(host, r.domain);
        });
    }

    // True when the list has "*": every host bypasses the proxy.
    bool bypasses_all() const noexcept { return all_; }
    // True when nothing bypasses the proxy (an empty list, or only ignored entries).
    bool empty() const noexcept { return !all_ && names_.empty() && v4_.empty() && v6_.empty(); }

private:
    struct name_rule {
        std::string domain;
        std::uint16_t port = 0;  // 0: any port
    };
    template <class Network>
    struct network_rule {
        Network network;  // canonical: the host bits are zero
        std::uint16_t port = 0;
    };

    static bool port_matches(std::uint16_t rule, std::uint16_t port) noexcept { return rule == 0 || rule == port; }

    void add(std::string_view text)
    {
        if (text == "*") {
            all_ = true;
            return;
        }
        const auto entry = split_no_proxy_entry(text);
        if (!entry)
            return;
        if (const auto address = parse_ip_literal(entry->host)) {
            add_address(*address, *entry);
            return;
        }
        if (entry->bracketed || entry->prefix)  // only an address has these
            return;
        if (auto domain = no_proxy_domain(entry->host))
            names_.push_back({std::move(*domain), entry->port});
    }

    // An address, or with a prefix length a range; a bracketed address must be IPv6.
    void add_address(const asio::ip::address& address, const no_proxy_entry& entry)
    {
        const unsigned bits = address.is_v4() ? 32 : 128;
        const unsigned prefix = entry.prefix.value_or(bits);
        if (prefix > bits || (entry.bracketed && address.is_v4()))
            return;
        const auto length = static_cast<unsigned short>(prefix);
        if (address.is_v4())
            v4_.push_back({asio::ip::network_v4(address.to_v4(), length).canonical(), entry.port});
        else
            v6_.push_back({asio::ip::network_v6(address.to_v6(), length).canonical(), entry.port});
    }

    bool address_bypasses(const asio::ip::address& address, std::uint16_t port) const
    {
        if (address.is_v4())
            return std::any_of(v4_.begin(), v4_.end(), [&](const network_rule<asio::ip::network_v4>& r) {
                return port_matches(r.port, port)
                    && asio::ip::network_v4(address.to_v4(), r.network.prefix_length()).canonical() == r.network;
            });
        return std::any_of(v6_.begin(), v6_.end(), [&](const network_rule<asio::ip::network_v6>& r) {
            return port_matches(r.port, port)
                && asio::ip::network_v6(address.to_v6(), r.network.prefix_length()).canonical() == r.network;
        });
    }

    bool all_ = false;
    std::vector<name_rule> names_;
    std::vector<network_rule<asio::ip::network_v4>> v4_;
    std::vector<network_rule<asio::ip::network_v6>> v6_;
};

} // namespace leash::detail
