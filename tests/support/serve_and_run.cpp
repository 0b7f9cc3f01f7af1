// leash-serve-and-run - runs a program against an in-process test server (for smoke tests).
//
//   usage: leash-serve-and-run [--timeout SECONDS] [--expect-body] [--tls] [--proxy] [--gzip] PROGRAM [ARGS...]
//
// Starts a leash::test::test_server that answers every request with 200 and a short text
// body (or, for a path ending in /events, the same text as one server-sent event), replaces
// "{url}" in the arguments by the server's URL for /hello and "{events_url}" by its URL for
// /events, and runs PROGRAM as a child process with the same stdin, stdout and stderr. The
// child must end within the timeout (default 30 s), else it is killed and the run fails.
//
// With --tls the server is reached through a TLS front presenting a certificate from a
// throwaway test CA generated for the run: "{url}" becomes an https:// URL and "{cacert}"
// the path of the CA's certificate (PEM).
//
// With --proxy an HTTP proxy (tests/support/test_proxy.hpp) listens on 127.0.0.1 as well and
// "{proxy}" becomes its URL. The run then also fails unless every request reached the server
// through it: as CONNECT tunnels with --tls, in absolute form without.
//
// "{redirect_url}" becomes the URL of /redirect/hello, which answers 302 with Location /hello.
//
// With --gzip the text (and the event) is sent gzip-coded to a request whose Accept-Encoding
// names gzip, and the run fails unless every request did.
//
// With --expect-body the child's standard output is passed through a pipe (and still copied
// to ours) and must contain the text the server sent.
//
// Exit status: the child's, when it succeeded, the server received at least one request and
// the output check (if any) passed; otherwise non-zero with a message on stderr.
#include "support/coded_bodies.hpp"
#include "support/test_pki.hpp"
#include "support/test_proxy.hpp"
#include "support/test_server.hpp"
#include "support/tls_front.hpp"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstdlib>
#include <cstring>
#include <iostream>
#include <optional>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

extern char** environ;

namespace {

constexpr std::string_view program_name = "leash-serve-and-run";
constexpr std::string_view url_placeholder = "{url}";
constexpr std::string_view events_url_placeholder = "{events_url}";
constexpr std::string_view cacert_placeholder = "{cacert}";
constexpr std::string_view proxy_placeholder = "{proxy}";
constexpr std::string_view redirect_url_placeholder = "{redirect_url}";
constexpr std::string_view served_text = "Hello from leash-serve-and-run!";

using clock_type = std::chrono::steady_clock;

struct options {
    std::chrono::seconds timeout{30};
    bool expect_body = false;
    bool tls = false;
    bool proxy = false;
    bool gzip = false;
    std::vector<std::string> command;  // program and its arguments, placeholders unresolved
};

[[noreturn]] void usage_error(std::string_view message)
{
    std::cerr << program_name << ": " << message << '\n'
              << "usage: " << program_name << " [--timeout SECONDS] [--expect-body] [--tls] [--proxy] [--gzip] PROGRAM [ARGS...]\n";
    std::exit(2);
}

options parse_options(int argc, char* argv[])
{
    options opts;
    int i = 1;
    for (; i < argc; ++i) {
        const std::string_view arg = argv[i];
        if (arg == "--timeout") {
            if (++i == argc)
                usage_error("--timeout needs a value");
            char* end = nullptr;
            const long seconds = std::strtol(argv[i], &end, 10);
            if (end == argv[i] || *end != '\0' || seconds <= 0)
                usage_error("--timeout needs a positive number of seconds");
            opts.timeout = std::chrono::seconds(seconds);
        } else if (arg == "--expect-body") {
            opts.expect_body = true;
        } else if (arg == "--tls") {
            opts.tls = true;
        } else if (arg == "--proxy") {
            opts.proxy = true;
        } else if (arg == "--gzip") {
            opts.gzip = true;
        } else if (arg == "--") {
            ++i;
            break;
        } else if (arg.starts_with("--")) {
            usage_error("unknown option " + std::string(arg));
        } else {
            break;
        }
    }
    if (i == argc)
        usage_error("no program given");
    opts.command.assign(argv + i, argv + argc);
    return opts;
}

// The child process: started with posix_spawnp, optionally with its stdout on a pipe.
class child_process {
public:
    child_process(const std::vector<std::string>& command, bool capture_stdout)
    {
        std::vector<char*> argv;
        for (const auto& arg : command)
            argv.push_back(const_cast<char*>(arg.c_str()));
        argv.push_back(nullptr);

        int out[2] = {-1, -1};
        if (capture_stdout && ::pipe2(out, O_CLOEXEC) != 0)
            fail_errno("pipe2");

        posix_spawn_file_actions_t actions;
        posix_spawn_file_actions_init(&actions);
        if (capture_stdout)
            posix_spawn_file_actions_adddup2(&actions, out[1], STDOUT_FILENO);  // clears O_CLOEXEC
        const int rc = ::posix_spawnp(&pid_, argv[0], &actions, nullptr, argv.data(), environ);
        posix_spawn_file_actions_destroy(&actions);

        if (capture_stdout) {
            ::close(out[1]);
            stdout_fd_ = out[0];
        }
        if (rc != 0) {
            if (stdout_fd_ >= 0)
                ::close(stdout_fd_);
            std::cerr << program_name << ": cannot run " << command.front() << ": " << std::strerror(rc)
                      << '\n';
            std::exit(127);
        }
    }

    child_process(const child_process&) = delete;
    child_process& operator=(const child_process&) = delete;

    ~child_process()
    {
        if (stdout_fd_ >= 0)
            ::close(stdout_fd_);
    }

    // Waits until the child has exited (and its output was drained) or `deadline` passed.
    // Returns the wait status, or nothing on timeout (the child is then killed and reaped).
    std::optional<int> wait_until(clock_type::time_point deadline)
    {
        std::optional<int> status;
        for (;;) {
            if (!status) {
                int s = 0;
                const pid_t r = ::waitpid(pid_, &s, WNOHANG);
                if (r == pid_)
                    status = s;
                else if (r < 0 && errno != EINTR)
                    fail_errno("waitpid");
            }
            if (status) {
                // The child is gone: take what is left in the pipe without waiting for writers
                // it may have passed the pipe on to.
                drain(std::chrono::milliseconds(0));
                return status;
            }
            if (clock_type::now() >= deadline) {
                ::kill(pid_, SIGKILL);
                int s = 0;
                while (::waitpid(pid_, &s, 0) < 0 && errno == EINTR) {
                }
                drain(std::chrono::milliseconds(0));
                return std::nullopt;
            }
            if (stdout_fd_ >= 0)
                drain(std::chrono::milliseconds(20));
            else
                std::this_thread::sleep_for(std::chrono::milliseconds(20));
        }
    }

    // Everything the child wrote to its stdout (when captured).
    const std::string& output() const noexcept { return output_; }

private:
    [[noreturn]] static void fail_errno(const char* what)
    {
        std::cerr << program_name << ": " << what << ": " << std::strerror(errno) << '\n';
        std::exit(1);
    }

    // Copies what the pipe holds to our stdout, waiting up to `wait` for the first bytes.
    void drain(std::chrono::milliseconds wait)
    {
        if (stdout_fd_ < 0)
            return;
        pollfd pfd{stdout_fd_, POLLIN, 0};
        int timeout_ms = static_cast<int>(wait.count());
        for (;;) {
            const int ready = ::poll(&pfd, 1, timeout_ms);
            if (ready < 0 && errno == EINTR)
                continue;
            if (ready <= 0)
                return;
            char buf[4096];
            const ssize_t n = ::read(stdout_fd_, buf, sizeof buf);
            if (n < 0 && errno == EINTR)
                continue;
            if (n <= 0) {  // end of output (or an error, which ends it as well)
                ::close(stdout_fd_);
                stdout_fd_ = -1;
                return;
            }
            output_.append(buf, static_cast<std::size_t>(n));
            std::cout.write(buf, n).flush();
            timeout_ms = 0;
        }
    }

    pid_t pid_ = -1;
    int stdout_fd_ = -1;
    std::string output_;
};

bool accepts_gzip(const leash::test::received_request& request)
{
    return leash::test::detail::icontains(request.header("Accept-Encoding"), "gzip");
}

// The answer to every request: a redirect for /redirect/..., else the text (as an event for
// /events), gzip-coded when `gzip` and the request accepts it.
leash::test::reply answer(const leash::test::received_request& request, bool gzip)
{
    if (request.target.starts_with("/redirect/"))
        return leash::test::reply::status(302, "", {{"Location", request.target.substr(9)}});
    const bool events = request.target.ends_with("/events");
    std::string body = events ? "data: " + std::string(served_text) + "\n\n" : std::string(served_text) + "\n";
    leash::test::header_list fields{{"Content-Type", events ? "text/event-stream" : "text/plain; charset=utf-8"},
                                    {"X-Served-By", std::string(program_name)}};
    if (gzip && accepts_gzip(request)) {
        body = leash::test::gzip(body);
        fields.emplace_back("Content-Encoding", "gzip");
    }
    return leash::test::reply::ok(std::move(body), std::move(fields));
}

// Replaces every occurrence of `placeholder` in `arg` by `value`.
void substitute(std::string& arg, std::string_view placeholder, const std::string& value)
{
    for (auto at = arg.find(placeholder); at != std::string::npos; at = arg.find(placeholder, at + value.size()))
        arg.replace(at, placeholder.size(), value);
}

// Whether every request head the proxy received forwarded a request: a CONNECT with TLS, the
// absolute form without (no head at all fails too).
bool all_through_proxy(const std::vector<std::string>& heads, bool tls)
{
    const auto forwarded = [tls](const std::string& head) {
        const auto target = head.find(' ') + 1;
        return tls ? head.starts_with("CONNECT ") : head.compare(target, 7, "http://") == 0;
    };
    return !heads.empty() && std::all_of(heads.begin(), heads.end(), forwarded);
}

} // namespace

int main(int argc, char* argv[])
{
    options opts = parse_options(argc, argv);

    leash::test::test_server server(
        [gzip = opts.gzip](const leash::test::received_request& r) { return answer(r, gzip); });
    std::unique_ptr<leash::test::tls_front> front;
    if (opts.tls)
        front = std::make_unique<leash::test::tls_front>(server.port(), leash::test::shared_test_pki().valid());
    std::unique_ptr<leash::test::test_proxy> proxy;
    if (opts.proxy)
        proxy = std::make_unique<leash::test::test_proxy>();
    const auto url = [&](std::string_view path) { return front ? front->url(path) : server.url(path); };
    for (auto& arg : opts.command) {
        substitute(arg, url_placeholder, url("/hello"));
        substitute(arg, events_url_placeholder, url("/events"));
        substitute(arg, redirect_url_placeholder, url("/redirect/hello"));
        if (arg.find(cacert_placeholder) != std::string::npos)
            substitute(arg, cacert_placeholder, leash::test::shared_test_pki().ca_cert().string());
        if (proxy)
            substitute(arg, proxy_placeholder, proxy->url());
    }

    child_process child(opts.command, opts.expect_body);
    const auto status = child.wait_until(clock_type::now() + opts.timeout);

    const std::string& program = opts.command.front();
    if (!status) {
        std::cerr << program_name << ": " << program << " did not finish within " << opts.timeout.count()
                  << " s and was killed\n";
        return 1;
    }
    if (WIFSIGNALED(*status)) {
        std::cerr << program_name << ": " << program << " was killed by signal " << WTERMSIG(*status) << " ("
                  << ::strsignal(WTERMSIG(*status)) << ")\n";
        return 128 + WTERMSIG(*status);
    }
    const int exit_status = WIFEXITED(*status) ? WEXITSTATUS(*status) : 1;
    if (exit_status != 0) {
        std::cerr << program_name << ": " << program << " exited with status " << exit_status << '\n';
        return exit_status;
    }
    if (server.request_count() == 0) {
        std::cerr << program_name << ": " << program << " succeeded but the server received no request\n";
        return 1;
    }
    if (proxy && !all_through_proxy(proxy->heads(), opts.tls)) {
        std::cerr << program_name << ": " << program << " succeeded but not every request went through the proxy ("
                  << proxy->heads().size() << " request head(s) reached it)\n";
        return 1;
    }
    if (opts.gzip) {
        const auto requests = server.requests();
        if (!std::all_of(requests.begin(), requests.end(), accepts_gzip)) {
            std::cerr << program_name << ": " << program << " succeeded but not every request accepted gzip\n";
            return 1;
        }
    }
    if (opts.expect_body && child.output().find(served_text) == std::string::npos) {
        std::cerr << program_name << ": the output of " << program << " does not contain the text served ("
                  << served_text << ")\n";
        return 1;
    }
    return 0;
}
