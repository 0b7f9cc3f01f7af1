// What the benchmark programs (leash-soak, leash-idle-conns, leash-tls-setup) share: error
// names, readings of the process's own resources (/proc/self/status, /proc/self/fd,
// getrusage, RLIMIT_NOFILE) and the small pieces of command-line parsing they have in
// common. Their JSON reports are built with json_output.hpp.
#pragma once

#include "../json_output.hpp"

#include <leash/leash.hpp>

#include <asio.hpp>
#include <asio/ssl.hpp>

#include <dirent.h>
#include <fcntl.h>
#include <sys/resource.h>
#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <charconv>
#include <chrono>
#include <condition_variable>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <map>
#include <mutex>
#include <optional>
#include <ostream>
#include <stdexcept>
#include <string>
#include <string_view>
#include <system_error>
#include <utility>
#include <vector>

namespace leash_bench {

using counter = std::uint64_t;

// --- Error names -----------------------------------------------------------------------

namespace detail {

struct named_errno {
    int value;
    const char* name;
};

inline constexpr named_errno errno_names[] = {
    {ECONNREFUSED, "connection_refused"},
    {ECONNRESET, "connection_reset"},
    {ECONNABORTED, "connection_aborted"},
    {EPIPE, "broken_pipe"},
    {ETIMEDOUT, "timed_out"},
    {ENETUNREACH, "network_unreachable"},
    {EHOSTUNREACH, "host_unreachable"},
    {ENOTCONN, "not_connected"},
    {EADDRNOTAVAIL, "address_not_available"},
    {EADDRINUSE, "address_in_use"},
    {EMFILE, "too_many_open_files"},
    {ENFILE, "too_many_open_files_in_system"},
    {ENOBUFS, "no_buffer_space"},
    {ENOMEM, "not_enough_memory"},
    {ECANCELED, "canceled"},
};

inline bool is_errno_category(const std::error_category& category)
{
    return category == asio::error::get_system_category() || category == std::system_category()
        || category == std::generic_category();
}

} // namespace detail

// The name an error is counted under, the same names leash-load uses: leash's own name for
// its errors, tls_* for certificate and other TLS failures, "canceled" for cancellation,
// snake_case names for common network errors, else "<category>_<value>".
inline std::string error_name(const std::error_code& ec)
{
    if (ec.category() == leash::error_category())
        return leash::error_name(static_cast<leash::error>(ec.value()));
    if (ec == leash::error::proxy_connect_refused)  // (its value is the proxy's status)
        return leash::error_name(leash::error::proxy_connect_refused);
    if (ec.category() == leash::x509_category()) {
        if (ec == leash::tls_error::certificate_untrusted)
            return "tls_certificate_untrusted";
        if (ec == leash::tls_error::host_name_mismatch)
            return "tls_host_name_mismatch";
        if (ec == leash::tls_error::certificate_expired)
            return "tls_certificate_expired";
        return "tls_verification_failed";
    }
    if (ec.category() == asio::error::get_ssl_category() || ec.category() == asio::ssl::error::get_stream_category())
        return "tls_protocol_error";
    if (ec == asio::error::operation_aborted)
        return "canceled";
    if (ec == asio::error::eof)
        return "eof";
    if (ec == asio::error::host_not_found)
        return "host_not_found";
    if (ec == asio::error::host_not_found_try_again)
        return "host_not_found_try_again";
    if (ec == asio::error::no_data)
        return "no_data";
    if (ec == asio::error::service_not_found)
        return "service_not_found";
    if (detail::is_errno_category(ec.category()))
        for (const auto& known : detail::errno_names)
            if (ec.value() == known.value)
                return known.name;
    std::string name = ec.category().name();
    for (auto& c : name)
        if (!std::isalnum(static_cast<unsigned char>(c)))
            c = '_';
    return name + "_" + std::to_string(ec.value());
}

// Counts down to zero; another thread waits for it with a timeout.
class countdown {
public:
    explicit countdown(counter n) : remaining_(n) {}

    void count_down()
    {
        std::lock_guard lock(mutex_);
        if (remaining_ > 0 && --remaining_ == 0)
            reached_zero_.notify_all();
    }
    // True once zero was reached, false if `limit` passed first.
    bool wait_for(std::chrono::steady_clock::duration limit)
    {
        std::unique_lock lock(mutex_);
        return reached_zero_.wait_for(lock, limit, [this] { return remaining_ == 0; });
    }

private:
    std::mutex mutex_;
    std::condition_variable reached_zero_;
    counter remaining_;
};

// --- The process's own resources --------------------------------------------------------

// The resident memory figures of /proc/self/status, in kB (0 when missing).
struct memory_status {
    counter rss_kb = 0;   // VmRSS: all resident pages
    counter anon_kb = 0;  // RssAnon: heap, stacks, anonymous mappings
    counter file_kb = 0;  // RssFile: resident pages of mapped files (code, libraries)
};

namespace detail {

// The number in a "Name:   123 kB" line of `status`, if the line exists.
inline std::optional<counter> status_field(std::string_view status, std::string_view name)
{
    for (std::size_t line = 0; line < status.size();) {
        auto end = status.find('\n', line);
        if (end == std::string_view::npos)
            end = status.size();
        const auto row = status.substr(line, end - line);
        if (row.size() > name.size() && row.starts_with(name) && row[name.size()] == ':') {
            auto digits = row.substr(name.size() + 1);
            while (!digits.empty() && (digits.front() == ' ' || digits.front() == '\t'))
                digits.remove_prefix(1);
            counter value = 0;
            const auto [stop, ec] = std::from_chars(digits.data(), digits.data() + digits.size(), value);
            if (ec == std::errc{} && stop != digits.data())
                return value;
            return std::nullopt;
        }
        line = end + 1;
    }
    return std::nullopt;
}

} // namespace detail

// Reads /proc/self/status into a buffer on the stack, so that sampling does not allocate.
inline memory_status read_memory_status()
{
    char buf[8192];
    const int fd = ::open("/proc/self/status", O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return {};
    std::size_t size = 0;
    while (size < sizeof buf) {
        const auto n = ::read(fd, buf + size, sizeof buf - size);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            break;
        size += static_cast<std::size_t>(n);
    }
    ::close(fd);
    const std::string_view status(buf, size);
    memory_status m;
    m.rss_kb = detail::status_field(status, "VmRSS").value_or(0);
    m.anon_kb = detail::status_field(status, "RssAnon").value_or(0);
    m.file_kb = detail::status_field(status, "RssFile").value_or(0);
    return m;
}

inline counter rss_kb() { return read_memory_status().rss_kb; }

// Open file descriptors: the entries of /proc/self/fd other than the one used to list it.
inline std::int64_t count_open_fds()
{
    DIR* dir = ::opendir("/proc/self/fd");
    if (!dir)
        return -1;
    std::int64_t n = 0;
    while (const dirent* entry = ::readdir(dir))
        if (entry->d_name[0] != '.')
            ++n;
    ::closedir(dir);
    return n - 1;
}

struct cpu_times {
    double user_s = 0;
    double sys_s = 0;
    double total() const { return user_s + sys_s; }
};

inline cpu_times process_cpu_times()
{
    rusage ru{};
    if (::getrusage(RUSAGE_SELF, &ru) != 0)
        return {};
    auto seconds = [](const timeval& tv) {
        return static_cast<double>(tv.tv_sec) + static_cast<double>(tv.tv_usec) / 1e6;
    };
    return {seconds(ru.ru_utime), seconds(ru.ru_stime)};
}

// Raises the soft limit on open files to the hard limit; returns the soft limit now in force.
inline counter raise_open_files_limit()
{
    rlimit lim{};
    if (::getrlimit(RLIMIT_NOFILE, &lim) != 0)
        return 0;
    if (lim.rlim_cur < lim.rlim_max) {
        rlimit raised = lim;
        raised.rlim_cur = lim.rlim_max;
        if (::setrlimit(RLIMIT_NOFILE, &raised) == 0)
            lim = raised;
    }
    return static_cast<counter>(lim.rlim_cur);
}

// --- Command lines -----------------------------------------------------------------------

class usage_error : public std::runtime_error {
public:
    using std::runtime_error::runtime_error;
};

// A decimal integer in [min, max], the whole of `text`.
inline counter parse_count(std::string_view option, std::string_view text, counter min, counter max)
{
    counter value = 0;
    const auto* end = text.data() + text.size();
    const auto [stop, ec] = std::from_chars(text.data(), end, value);
    if (text.empty() || ec == std::errc::invalid_argument || stop != end)
        throw usage_error(std::string(option) + ": '" + std::string(text) + "' is not a non-negative integer");
    if (ec == std::errc::result_out_of_range || value < min || value > max)
        throw usage_error(std::string(option) + ": " + std::string(text) + " is out of range (" + std::to_string(min)
                          + " to " + std::to_string(max) + ")");
    return value;
}

// `value` in the shortest form that reads back the same ("100", "0.5").
inline std::string shortest(double value)
{
    char buf[64];
    const auto [end, ec] = std::to_chars(buf, buf + sizeof buf, value);
    return ec == std::errc{} ? std::string(buf, end) : std::string("?");
}

// A decimal number in [min, max], the whole of `text`.
inline double parse_number(std::string_view option, std::string_view text, double min, double max)
{
    double value = 0;
    const auto* end = text.data() + text.size();
    const auto [stop, ec] = std::from_chars(text.data(), end, value, std::chars_format::fixed);
    if (text.empty() || ec != std::errc{} || stop != end || !std::isfinite(value))
        throw usage_error(std::string(option) + ": '" + std::string(text) + "' is not a number");
    if (value < min || value > max)
        throw usage_error(std::string(option) + ": " + std::string(text) + " is out of range (" + shortest(min)
                          + " to " + shortest(max) + ")");
    return value;
}

inline void check_url(std::string_view text, bool https_only = false)
{
    std::error_code ec;
    const auto u = leash::url::parse(text, ec);
    if (!u)
        throw usage_error("'" + std::string(text) + "': " + ec.message() + "; expected http(s)://host[:port][/path]");
    if (https_only && !u->is_https())
        throw usage_error("'" + std::string(text) + "': an https:// URL is needed");
}

// Walks argv: options with a value take it as the next argument or after '=' (--opt=V);
// one-letter options also attached (-n100). Arguments not starting with '-' (and all
// after "--") are positional.
class arg_reader {
public:
    arg_reader(int argc, char** argv) : argc_(argc), argv_(argv) {}

    // Moves to the next argument; false at the end.
    bool next()
    {
        if (++i_ >= argc_)
            return false;
        const std::string_view arg = argv_[i_];
        inline_.reset();
        positional_ = only_positional_ || !arg.starts_with('-') || arg == "-";
        if (!positional_ && arg == "--") {
            only_positional_ = true;
            return next();
        }
        name_ = arg;
        if (!positional_) {
            if (arg.starts_with("--")) {
                if (const auto eq = arg.find('='); eq != std::string_view::npos) {
                    name_ = arg.substr(0, eq);
                    inline_ = arg.substr(eq + 1);
                }
            } else if (arg.size() > 2) {
                name_ = arg.substr(0, 2);
                inline_ = arg.substr(2);
            }
        }
        return true;
    }

    bool positional() const noexcept { return positional_; }
    // The option's name ("--cacert", "-n"), or the positional argument.
    std::string_view name() const noexcept { return name_; }
    bool is(std::string_view a, std::string_view b = {}) const noexcept
    {
        return !positional_ && (name_ == a || (!b.empty() && name_ == b));
    }

    // The option's value; throws if there is none.
    std::string_view value()
    {
        if (inline_)
            return *std::exchange(inline_, std::nullopt);
        if (i_ + 1 >= argc_)
            throw usage_error(std::string(name_) + " needs a value");
        return argv_[++i_];
    }
    // For options without a value.
    void no_value() const
    {
        if (inline_)
            throw usage_error(std::string(name_) + " takes no value");
    }
    [[noreturn]] void unknown() const { throw usage_error("unknown option '" + std::string(argv_[i_]) + "'"); }

private:
    int argc_;
    char** argv_;
    int i_ = 0;
    bool only_positional_ = false;
    bool positional_ = false;
    std::string_view name_;
    std::optional<std::string_view> inline_;
};

// Trust options shared by the programs: --insecure or --cacert FILE.
struct trust_options {
    bool insecure = false;
    std::string cacert;

    // Consumes the option if it is one of ours.
    bool take(arg_reader& args)
    {
        if (args.is("--insecure")) {
            args.no_value();
            insecure = true;
            return true;
        }
        if (args.is("--cacert")) {
            cacert = args.value();
            if (cacert.empty())
                throw usage_error("--cacert: the file name must not be empty");
            return true;
        }
        return false;
    }
    void check() const
    {
        if (insecure && !cacert.empty())
            throw usage_error("--insecure and --cacert exclude each other");
    }
    void apply(leash::tls_options& tls) const
    {
        tls.insecure_skip_verify = insecure;
        tls.ca_file = cacert;
    }
};

// Median and other quantiles of `values` (sorted in place); 0 for none.
inline double quantile(std::vector<double>& values, double q)
{
    if (values.empty())
        return 0;
    std::sort(values.begin(), values.end());
    const double pos = q * static_cast<double>(values.size() - 1);
    const auto lo = static_cast<std::size_t>(std::floor(pos));
    const auto hi = std::min(lo + 1, values.size() - 1);
    const double frac = pos - static_cast<double>(lo);
    return values[lo] + (values[hi] - values[lo]) * frac;
}

} // namespace leash_bench
