// Debian's tinyproxy, started for one test on 127.0.0.1 with a generated configuration: a
// real proxy that nobody here wrote, for requests in absolute form and CONNECT tunnels. It
// adds a Via header to the requests it forwards.
//
// real_proxy::find() is the binary, or empty when it is not installed (then the test says so
// and passes outside CI; with CI set in the environment a missing binary fails the test).
#pragma once

#include <asio.hpp>

#include <chrono>
#include <csignal>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <spawn.h>
#include <stdexcept>
#include <string>
#include <sys/wait.h>
#include <thread>
#include <unistd.h>

extern char** environ;

namespace leash::test {

class real_proxy {
public:
    static std::string find()
    {
        for (const char* path : {"/usr/bin/tinyproxy", "/usr/sbin/tinyproxy"})
            if (std::filesystem::exists(path))
                return path;
        return {};
    }

    explicit real_proxy(const std::string& binary)
        : dir_(std::filesystem::temp_directory_path() / ("leash-tinyproxy-" + std::to_string(::getpid())))
    {
        std::filesystem::create_directories(dir_);
        port_ = free_port();
        const auto conf = dir_ / "tinyproxy.conf";
        std::ofstream(conf) << "Port " << port_ << "\nListen 127.0.0.1\nTimeout 30\nMaxClients 64\n"
                            << "Allow 127.0.0.1\nLogLevel Warning\n"
                            << "LogFile \"" << (dir_ / "tinyproxy.log").string() << "\"\n";
        const std::string conf_path = conf.string();
        char* argv[] = {const_cast<char*>(binary.c_str()), const_cast<char*>("-d"), const_cast<char*>("-c"),
                        const_cast<char*>(conf_path.c_str()), nullptr};
        if (::posix_spawn(&pid_, binary.c_str(), nullptr, nullptr, argv, environ) != 0)
            throw std::runtime_error("cannot start " + binary);
        wait_until_listening();
    }
    ~real_proxy()
    {
        ::kill(pid_, SIGTERM);
        int status = 0;
        ::waitpid(pid_, &status, 0);
        std::error_code ignored;
        std::filesystem::remove_all(dir_, ignored);
    }
    real_proxy(const real_proxy&) = delete;
    real_proxy& operator=(const real_proxy&) = delete;

    std::string url() const { return "http://127.0.0.1:" + std::to_string(port_); }

private:
    static unsigned short free_port()
    {
        asio::io_context ioc;
        asio::ip::tcp::acceptor a(ioc, {asio::ip::make_address_v4("127.0.0.1"), 0});
        return a.local_endpoint().port();
    }

    void wait_until_listening() const
    {
        asio::io_context ioc;
        const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
        while (std::chrono::steady_clock::now() < deadline) {
            asio::ip::tcp::socket s(ioc);
            std::error_code ec;
            s.connect({asio::ip::make_address_v4("127.0.0.1"), port_}, ec);
            if (!ec)
                return;
            std::this_thread::sleep_for(std::chrono::milliseconds(20));  // (polling a child process's start)
        }
        throw std::runtime_error("tinyproxy did not start listening");
    }

    std::filesystem::path dir_;
    unsigned short port_ = 0;
    pid_t pid_ = 0;
};

} // namespace leash::test
