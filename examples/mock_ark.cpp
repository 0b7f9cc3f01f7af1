// mock_ark - serves the local mock of the Ark API (mock_ark_server.hpp), alone or around one
// command: the chat examples and leash-sse are tried against it, and smoke-tested with it.
//
//   usage: mock_ark [--delay MS]
//              Serves until interrupted; prints the base URL on stdout.
//          mock_ark [--delay MS] [--timeout S] [--expect TEXT]... [--expect-stderr TEXT]...
//                   [--reject TEXT]... [--expect-lines N] [--expect-exit N] PROGRAM [ARGS...]
//              Serves while PROGRAM runs, then checks how it went.
//
// In PROGRAM's arguments "{url}" is replaced by the mock's base URL (http://127.0.0.1:PORT/api/v3,
// where POST {url}/chat/completions is) and "{origin}" by http://127.0.0.1:PORT (where GET
// {origin}/sse-sample is), also inside a longer argument such as ARK_BASE_URL={url}. The mock
// accepts the API key "mock-key". PROGRAM runs with our environment; its standard output and
// error are passed through pipes, copied to ours and checked:
//   --expect TEXT         its standard output must contain TEXT (repeatable);
//   --expect-stderr TEXT  its standard error must contain TEXT (repeatable);
//   --reject TEXT         its standard output must not contain TEXT (repeatable);
//   --expect-lines N      its standard output must be exactly N lines;
//   --expect-exit N       it must exit with status N (default 0);
//   --timeout S           it must end within S seconds (default 30), else it is killed;
//   --delay MS            the mock's pause before each streamed chunk (default 30).
// Exit status: 0 when every check passed, else 1 (2 for a usage error) with the reasons on
// standard error.
#include "mock_ark_server.hpp"

#include <asio.hpp>

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <charconv>
#include <chrono>
#include <cstdlib>
#include <cstring>
#include <iostream>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

extern char** environ;

namespace {

constexpr std::string_view program_name = "mock_ark";
using clock_type = std::chrono::steady_clock;

struct options {
    std::chrono::milliseconds delay{30};
    std::chrono::seconds timeout{30};
    std::vector<std::string> expect_stdout;
    std::vector<std::string> expect_stderr;
    std::vector<std::string> reject_stdout;
    std::optional<long> expect_lines;
    int expect_exit = 0;
    std::vector<std::string> command;
};

[[noreturn]] void usage_error(std::string_view message)
{
    std::cerr << program_name << ": " << message << '\n'
              << "usage: " << program_name << " [--delay MS]\n"
              << "       " << program_name
              << " [--delay MS] [--timeout S] [--expect TEXT]... [--expect-stderr TEXT]... [--reject TEXT]...\n"
              << "                [--expect-lines N] [--expect-exit N] PROGRAM [ARGS...]\n";
    std::exit(2);
}

long parse_number(std::string_view option, std::string_view text, long min)
{
    long value = 0;
    const auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
    if (ec != std::errc{} || end != text.data() + text.size() || value < min)
        usage_error(std::string(option) + " needs a number >= " + std::to_string(min));
    return value;
}

options parse_options(int argc, char* argv[])
{
    options opts;
    int i = 1;
    auto value_of = [&](std::string_view option) -> std::string_view {
        if (++i == argc)
            usage_error(std::string(option) + " needs a value");
        return argv[i];
    };
    for (; i < argc; ++i) {
        const std::string_view arg = argv[i];
        if (arg == "--delay")
            opts.delay = std::chrono::milliseconds(parse_number(arg, value_of(arg), 0));
        else if (arg == "--timeout")
            opts.timeout = std::chrono::seconds(parse_number(arg, value_of(arg), 1));
        else if (arg == "--expect")
            opts.expect_stdout.emplace_back(value_of(arg));
        else if (arg == "--expect-stderr")
            opts.expect_stderr.emplace_back(value_of(arg));
        else if (arg == "--reject")
            opts.reject_stdout.emplace_back(value_of(arg));
        else if (arg == "--expect-lines")
            opts.expect_lines = parse_number(arg, value_of(arg), 0);
        else if (arg == "--expect-exit")
            opts.expect_exit = static_cast<int>(parse_number(arg, value_of(arg), 0));
        else if (arg == "--") {
            ++i;
            break;
        } else if (arg.starts_with("--"))
            usage_error("unknown option " + std::string(arg));
        else
            break;
    }
    opts.command.assign(argv + i, argv + argc);
    return opts;
}

void replace_all(std::string& s, std::string_view from, const std::string& to)
{
    for (auto pos = s.find(from); pos != std::string::npos; pos = s.find(from, pos + to.size()))
        s.replace(pos, from.size(), to);
}

// Serves until SIGINT or SIGTERM.
int serve_forever(const options& opts)
{
    mock_ark::server mock({.token_delay = opts.delay});
    std::cout << mock.base_url() << std::endl;
    std::cerr << program_name << ": serving the Ark API mock (API key \"mock-key\"); POST " << mock.base_url()
              << "/chat/completions, GET " << mock.origin() << "/sse-sample. Ctrl-C stops.\n";
    asio::io_context io;
    asio::signal_set signals(io, SIGINT, SIGTERM);
    signals.async_wait([](std::error_code, int) {});
    io.run();
    return 0;
}

// The command, in its own process group, with its standard output and error on pipes.
class child_process {
public:
    explicit child_process(const std::vector<std::string>& command)
    {
        std::vector<char*> argv;
        for (const auto& arg : command)
            argv.push_back(const_cast<char*>(arg.c_str()));
        argv.push_back(nullptr);

        int out[2], err[2];
        if (::pipe2(out, O_CLOEXEC) != 0 || ::pipe2(err, O_CLOEXEC) != 0)
            fail_errno("pipe2");
        posix_spawn_file_actions_t actions;
        posix_spawn_file_actions_init(&actions);
        posix_spawn_file_actions_adddup2(&actions, out[1], STDOUT_FILENO);  // dup2 clears O_CLOEXEC
        posix_spawn_file_actions_adddup2(&actions, err[1], STDERR_FILENO);
        posix_spawnattr_t attributes;
        posix_spawnattr_init(&attributes);
        posix_spawnattr_setflags(&attributes, POSIX_SPAWN_SETPGROUP);
        posix_spawnattr_setpgroup(&attributes, 0);  // a group of its own, so a timeout kills it whole
        const int rc = ::posix_spawnp(&pid_, argv[0], &actions, &attributes, argv.data(), environ);
        posix_spawnattr_destroy(&attributes);
        posix_spawn_file_actions_destroy(&actions);
        ::close(out[1]);
        ::close(err[1]);
        streams_[0] = {out[0], STDOUT_FILENO, {}};
        streams_[1] = {err[0], STDERR_FILENO, {}};
        if (rc != 0) {
            std::cerr << program_name << ": cannot run " << command.front() << ": " << std::strerror(rc) << '\n';
            std::exit(127);
        }
    }

    child_process(const child_process&) = delete;
    child_process& operator=(const child_process&) = delete;
    ~child_process()
    {
        for (auto& s : streams_)
            if (s.fd >= 0)
                ::close(s.fd);
    }

    // The wait status once the child has exited, or nothing if it was killed at `deadline`.
    std::optional<int> wait_until(clock_type::time_point deadline)
    {
        for (;;) {
            int status = 0;
            const pid_t r = ::waitpid(pid_, &status, WNOHANG);
            if (r < 0 && errno != EINTR)
                fail_errno("waitpid");
            if (r == pid_) {
                // Gone: take what is left in the pipes without waiting for processes it may
                // have passed them on to.
                copy_output(0);
                return status;
            }
            if (clock_type::now() >= deadline) {
                ::kill(-pid_, SIGKILL);
                while (::waitpid(pid_, &status, 0) < 0 && errno == EINTR) {
                }
                copy_output(0);
                return std::nullopt;
            }
            copy_output(20);
        }
    }

    const std::string& out() const noexcept { return streams_[0].text; }
    const std::string& err() const noexcept { return streams_[1].text; }

private:
    struct stream {
        int fd = -1;
        int copy_to = -1;
        std::string text;
    };

    [[noreturn]] static void fail_errno(const char* what)
    {
        std::cerr << program_name << ": " << what << ": " << std::strerror(errno) << '\n';
        std::exit(1);
    }

    // Copies what the pipes hold to our own stdout / stderr, waiting up to `wait_ms` for the
    // first bytes.
    void copy_output(int wait_ms)
    {
        for (;;) {
            pollfd fds[2];
            nfds_t n = 0;
            stream* polled[2];
            for (auto& s : streams_)
                if (s.fd >= 0) {
                    fds[n] = {s.fd, POLLIN, 0};
                    polled[n++] = &s;
                }
            if (n == 0) {
                if (wait_ms > 0)
                    ::poll(nullptr, 0, wait_ms);
                return;
            }
            const int ready = ::poll(fds, n, wait_ms);
            if (ready < 0 && errno == EINTR)
                continue;
            if (ready <= 0)
                return;
            for (nfds_t i = 0; i < n; ++i) {
                if (fds[i].revents == 0)
                    continue;
                stream& s = *polled[i];
                char buf[4096];
                const ssize_t got = ::read(s.fd, buf, sizeof buf);
                if (got < 0 && errno == EINTR)
                    continue;
                if (got <= 0) {  // the end of that output (or an error, which ends it as well)
                    ::close(s.fd);
                    s.fd = -1;
                    continue;
                }
                s.text.append(buf, static_cast<std::size_t>(got));
                (s.copy_to == STDOUT_FILENO ? std::cout : std::cerr).write(buf, got).flush();
            }
            wait_ms = 0;
        }
    }

    pid_t pid_ = -1;
    stream streams_[2];
};

} // namespace

int main(int argc, char* argv[])
{
    options opts = parse_options(argc, argv);
    if (opts.command.empty())
        return serve_forever(opts);

    mock_ark::server mock({.token_delay = opts.delay});
    for (auto& arg : opts.command) {
        replace_all(arg, "{url}", mock.base_url());
        replace_all(arg, "{origin}", mock.origin());
    }

    child_process child(opts.command);
    const auto status = child.wait_until(clock_type::now() + opts.timeout);
    mock.stop();

    const std::string& program = opts.command.front();
    std::vector<std::string> failures;
    if (!status) {
        failures.push_back(program + " did not finish within " + std::to_string(opts.timeout.count())
                           + " s and was killed");
    } else if (WIFSIGNALED(*status)) {
        failures.push_back(program + " was killed by signal " + std::to_string(WTERMSIG(*status)) + " ("
                           + ::strsignal(WTERMSIG(*status)) + ")");
    } else if (const int code = WEXITSTATUS(*status); code != opts.expect_exit) {
        failures.push_back(program + " exited with status " + std::to_string(code) + ", expected "
                           + std::to_string(opts.expect_exit));
    }
    for (const auto& text : opts.expect_stdout)
        if (child.out().find(text) == std::string::npos)
            failures.push_back("standard output lacks: " + text);
    for (const auto& text : opts.expect_stderr)
        if (child.err().find(text) == std::string::npos)
            failures.push_back("standard error lacks: " + text);
    for (const auto& text : opts.reject_stdout)
        if (child.out().find(text) != std::string::npos)
            failures.push_back("standard output contains: " + text);
    if (opts.expect_lines) {
        const std::string& out = child.out();
        const auto lines = static_cast<long>(std::count(out.begin(), out.end(), '\n'));
        if (lines != *opts.expect_lines || (!out.empty() && out.back() != '\n'))
            failures.push_back("standard output has " + std::to_string(lines) + " complete lines"
                               + (!out.empty() && out.back() != '\n' ? " and an unterminated one" : "")
                               + ", expected " + std::to_string(*opts.expect_lines));
    }

    for (const auto& failure : failures)
        std::cerr << program_name << ": " << failure << '\n';
    return failures.empty() ? 0 : 1;
}
