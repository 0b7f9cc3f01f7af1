// leash-load's command line: the options, their defaults, and the parser.
//
// Long options take their value as the next argument or after '=' (--requests=100); short
// options as the next argument or attached (-n100). Anything else not starting with '-' is a
// URL; "--" ends the options. Every problem is reported as a usage_error.
#pragma once

#include <leash/headers.hpp>
#include <leash/proxy.hpp>
#include <leash/transport_options.hpp>
#include <leash/url.hpp>

#include <charconv>
#include <chrono>
#include <cstdint>
#include <functional>
#include <limits>
#include <optional>
#include <ostream>
#include <stdexcept>
#include <string>
#include <string_view>
#include <system_error>
#include <utility>
#include <vector>

namespace leash_load {

struct options {
    std::vector<std::string> urls;
    std::uint64_t requests = 1000;
    std::uint64_t concurrency = 16;
    std::string method = "GET";
    std::optional<std::uint64_t> body_bytes;
    std::vector<std::pair<std::string, std::string>> headers;  // -H, in order
    bool proxy_given = false;     // --proxy
    bool proxy_from_env = false;  // --proxy-from-env
    std::uint64_t max_redirects = 0;  // --max-redirects
    std::chrono::milliseconds gap{0};
    std::uint64_t abandon_every = 0;  // 0 = never
    bool insecure = false;
    std::string cacert;
    unsigned threads = 1;
    bool json = false;
    bool help = false;
    leash::transport_options transport;
};

class usage_error : public std::runtime_error {
public:
    using std::runtime_error::runtime_error;
};

inline void print_usage(std::ostream& out)
{
    out << "usage: leash-load [options] URL [URL...]    requests go round-robin over the URLs\n"
           "  -n, --requests N            total requests (default 1000)\n"
           "  -c, --concurrency C         concurrent in-flight requests (default 16)\n"
           "  -X, --method M              request method (default GET)\n"
           "  -d, --body-bytes B          send a request body of B bytes\n"
           "  -H, --header 'Name: value'   add a request header (repeatable)\n"
           "  --proxy URL                  send every request through this HTTP proxy: http://[user:pass@]host:port;\n"
           "                               https:// targets are tunnelled with CONNECT, http:// ones sent in absolute form\n"
           "  --proxy-from-env             take the proxy from HTTP_PROXY / HTTPS_PROXY / ALL_PROXY / NO_PROXY (either case)\n"
           "  --compressed                 send Accept-Encoding for the codings this build supports and deliver decoded bodies\n"
           "  --max-redirects N            follow up to N redirects (default 0: a 3xx is delivered as the response)\n"
           "  --max-conns-per-host N      --max-idle-conns-per-host N   --max-idle-conns N\n"
           "  --idle-timeout-ms MS        --connect-timeout-ms MS\n"
           "  --header-timeout-ms MS      --read-timeout-ms MS\n"
           "  --gap-ms MS                 each worker waits MS after each of its requests (default 0)\n"
           "  --abandon-every K           requests K, 2K, 3K, ...: read at most 1 body byte, then drop\n"
           "                              the body (0 = never, the default)\n"
           "  --insecure | --cacert FILE  for https: skip certificate verification (testing only),\n"
           "                              or trust the CAs in FILE instead of the system store\n"
           "  --threads T                 io threads (default 1)\n"
           "  --json                      print one JSON object on stdout at exit\n"
           "  -h, --help                  print this help\n";
}

namespace detail {

inline constexpr std::uint64_t max_milliseconds = 1'000'000'000;  // about 11.5 days

// A decimal integer in [min, max], the whole of `text`.
inline std::uint64_t parse_integer(std::string_view option, std::string_view text, std::uint64_t min,
                                   std::uint64_t max = std::numeric_limits<std::uint64_t>::max())
{
    std::uint64_t value = 0;
    const auto* end = text.data() + text.size();
    const auto [stop, ec] = std::from_chars(text.data(), end, value);
    if (text.empty() || ec == std::errc::invalid_argument || stop != end)
        throw usage_error(std::string(option) + ": '" + std::string(text) + "' is not a non-negative integer");
    if (ec == std::errc::result_out_of_range || value < min || value > max)
        throw usage_error(std::string(option) + ": " + std::string(text) + " is out of range (" + std::to_string(min)
                          + " to " + std::to_string(max) + ")");
    return value;
}

inline std::chrono::milliseconds parse_milliseconds(std::string_view option, std::string_view text)
{
    return std::chrono::milliseconds(parse_integer(option, text, 0, max_milliseconds));
}

// "Name: value" (OWS around the value dropped): a token name and a valid field value.
inline std::pair<std::string, std::string> parse_header(std::string_view option, std::string_view text)
{
    const auto colon = text.find(':');
    const auto name = text.substr(0, colon);
    const auto value = colon == std::string_view::npos ? std::string_view() : leash::detail::trim_ows(text.substr(colon + 1));
    if (colon == std::string_view::npos || !leash::detail::is_token(name) || !leash::detail::is_field_value(value))
        throw usage_error(std::string(option) + ": '" + std::string(text)
                          + "' is not 'Name: value' (a token name; no control characters in the value)");
    return {std::string(name), std::string(value)};
}

// A proxy URL, checked; the message names the problem, never the URL (it may hold a password).
inline std::string check_proxy(std::string_view option, std::string_view text)
{
    std::error_code ec;
    if (!leash::proxy_server::parse(text, ec))
        throw usage_error(std::string(option) + ": " + ec.message());
    return std::string(text);
}

struct option_spec {
    std::string_view short_name;  // "-n", or empty
    std::string_view long_name;   // "--requests"
    bool takes_value;
    std::function<void(options&, std::string_view name, std::string_view value)> apply;
};

inline const std::vector<option_spec>& option_table()
{
    using sv = std::string_view;
    static const std::vector<option_spec> table = {
        {"-n", "--requests", true, [](options& o, sv n, sv v) { o.requests = parse_integer(n, v, 0); }},
        {"-c", "--concurrency", true,
         [](options& o, sv n, sv v) { o.concurrency = parse_integer(n, v, 1, 1'000'000); }},
        {"-X", "--method", true,
         [](options& o, sv n, sv v) {
             if (v.empty())
                 throw usage_error(std::string(n) + ": the method must not be empty");
             o.method = v;
         }},
        {"-d", "--body-bytes", true,
         [](options& o, sv n, sv v) { o.body_bytes = parse_integer(n, v, 0, std::uint64_t{1} << 30); }},
        {"-H", "--header", true, [](options& o, sv n, sv v) { o.headers.push_back(parse_header(n, v)); }},
        {"", "--proxy", true,
         [](options& o, sv n, sv v) {
             o.transport.proxy.http = o.transport.proxy.https = check_proxy(n, v);
             o.proxy_given = true;
         }},
        {"", "--proxy-from-env", false, [](options& o, sv, sv) { o.proxy_from_env = true; }},
        {"", "--compressed", false, [](options& o, sv, sv) { o.transport.decoding.decompress = true; }},
        {"", "--max-redirects", true,
         [](options& o, sv n, sv v) { o.max_redirects = parse_integer(n, v, 0, 1000); }},
        {"", "--max-conns-per-host", true,
         [](options& o, sv n, sv v) { o.transport.max_conns_per_host = parse_integer(n, v, 1); }},
        {"", "--max-idle-conns-per-host", true,
         [](options& o, sv n, sv v) { o.transport.max_idle_conns_per_host = parse_integer(n, v, 0); }},
        {"", "--max-idle-conns", true,
         [](options& o, sv n, sv v) { o.transport.max_idle_conns = parse_integer(n, v, 0); }},
        {"", "--idle-timeout-ms", true,
         [](options& o, sv n, sv v) { o.transport.idle_conn_timeout = parse_milliseconds(n, v); }},
        {"", "--connect-timeout-ms", true,
         [](options& o, sv n, sv v) { o.transport.connect_timeout = parse_milliseconds(n, v); }},
        {"", "--header-timeout-ms", true,
         [](options& o, sv n, sv v) { o.transport.response_header_timeout = parse_milliseconds(n, v); }},
        {"", "--read-timeout-ms", true,
         [](options& o, sv n, sv v) { o.transport.body_read_timeout = parse_milliseconds(n, v); }},
        {"", "--gap-ms", true, [](options& o, sv n, sv v) { o.gap = parse_milliseconds(n, v); }},
        {"", "--abandon-every", true, [](options& o, sv n, sv v) { o.abandon_every = parse_integer(n, v, 0); }},
        {"", "--insecure", false, [](options& o, sv, sv) { o.insecure = true; }},
        {"", "--cacert", true,
         [](options& o, sv n, sv v) {
             if (v.empty())
                 throw usage_error(std::string(n) + ": the file name must not be empty");
             o.cacert = v;
         }},
        {"", "--threads", true,
         [](options& o, sv n, sv v) { o.threads = static_cast<unsigned>(parse_integer(n, v, 1, 1024)); }},
        {"", "--json", false, [](options& o, sv, sv) { o.json = true; }},
        {"-h", "--help", false, [](options& o, sv, sv) { o.help = true; }},
    };
    return table;
}

// The spec named by `name` ("-n" or "--requests"), or null.
inline const option_spec* find_option(std::string_view name)
{
    for (const auto& spec : option_table())
        if (name == spec.long_name || (!spec.short_name.empty() && name == spec.short_name))
            return &spec;
    return nullptr;
}

inline void check_url(std::string_view text)
{
    std::error_code ec;
    if (!leash::url::parse(text, ec))
        throw usage_error("'" + std::string(text) + "': " + ec.message() + "; expected http://host[:port][/path]");
}

// Splits "--name=value" or "-nVALUE" into the option's name and its inline value.
inline std::pair<std::string_view, std::optional<std::string_view>> split_inline_value(std::string_view arg)
{
    if (arg.starts_with("--")) {
        const auto eq = arg.find('=');
        if (eq == std::string_view::npos)
            return {arg, std::nullopt};
        return {arg.substr(0, eq), arg.substr(eq + 1)};
    }
    if (arg.size() > 2)
        return {arg.substr(0, 2), arg.substr(2)};
    return {arg, std::nullopt};
}

} // namespace detail

// Parses argv; throws usage_error. URLs are checked to be absolute http(s) URLs.
inline options parse_command_line(int argc, char** argv)
{
    options o;
    bool only_urls = false;
    for (int i = 1; i < argc; ++i) {
        const std::string_view arg = argv[i];
        if (only_urls || !arg.starts_with('-') || arg == "-") {
            o.urls.emplace_back(arg);
            continue;
        }
        if (arg == "--") {
            only_urls = true;
            continue;
        }
        const auto [name, inline_value] = detail::split_inline_value(arg);
        const auto* spec = detail::find_option(name);
        if (!spec)
            throw usage_error("unknown option '" + std::string(arg) + "'");
        if (!spec->takes_value) {
            if (inline_value)
                throw usage_error(std::string(name) + " takes no value");
            spec->apply(o, name, {});
            continue;
        }
        if (inline_value) {
            spec->apply(o, name, *inline_value);
            continue;
        }
        if (i + 1 >= argc)
            throw usage_error(std::string(name) + " needs a value");
        spec->apply(o, name, argv[++i]);
    }
    if (o.help)
        return o;
    if (o.urls.empty())
        throw usage_error("no URL given");
    if (o.insecure && !o.cacert.empty())
        throw usage_error("--insecure and --cacert exclude each other");
    if (o.proxy_given && o.proxy_from_env)
        throw usage_error("--proxy and --proxy-from-env exclude each other");
    if (o.proxy_from_env) {
        o.transport.proxy = leash::proxy_options_from_environment();
        for (const auto* value : {&o.transport.proxy.http, &o.transport.proxy.https})
            if (!value->empty())
                detail::check_proxy("--proxy-from-env", *value);
    }
    for (const auto& text : o.urls)
        detail::check_url(text);
    return o;
}

} // namespace leash_load
