// TLS-terminating front for leash's tests.
//
// tls_front listens on 127.0.0.1 (ephemeral port), completes a server-side TLS
// handshake with each client, then opens one plain TCP connection to a backend
// (normally a test_server) and pipes bytes both ways. When either side ends, both
// sides are closed promptly: the backend sees the client go away, and the client
// sees close_notify (unless disabled) followed by EOF. Resets are passed on as
// resets. Every scripted plain-HTTP scenario can so be replayed over TLS.
//
// Threading contract (as for test_server): all socket work happens on the
// front's own thread; the public member functions may be called from any thread.
#pragma once

#include "test_pki.hpp"

#include <asio.hpp>
#include <asio/ssl.hpp>

#include <openssl/ssl.h>
#include <openssl/x509.h>

#include <algorithm>
#include <array>
#include <chrono>
#include <condition_variable>
#include <cstddef>
#include <filesystem>
#include <functional>
#include <memory>
#include <mutex>
#include <stdexcept>
#include <string>
#include <string_view>
#include <thread>
#include <utility>
#include <vector>

namespace leash::test {

struct tls_front_options {
    // false: accept TCP, never send a byte and never complete a handshake. What
    // the client sends is read and discarded, so a client close is noticed.
    bool complete_handshake = true;
    // On closing a connection, send close_notify (bounded in time) before
    // closing TCP. false: the client sees TCP EOF without close_notify.
    bool send_close_notify = true;
    // Non-empty: request a client certificate and fail the handshake unless one
    // is presented that verifies against this CA file (PEM).
    std::filesystem::path client_ca{};
};

// Snapshot of the front's counters.
struct tls_front_stats {
    std::size_t accepted = 0;            // TCP connections accepted
    std::size_t handshakes = 0;          // completed server handshakes
    std::size_t resumed_handshakes = 0;  // of which resumed a session
    std::size_t failed_handshakes = 0;   // handshakes that ended in an error
    std::size_t open_connections = 0;    // client connections open, front's view
    std::string last_alpn;               // ALPN protocol of the last completed handshake
    std::string last_sni;                // SNI host name of the last ClientHello
    std::string last_client_subject;     // client certificate subject, last completed handshake
};

namespace detail::tls {

// State shared between the front's thread and the test thread.
class front_state {
public:
    void on_accepted() {
        std::lock_guard lock(mutex_);
        ++stats_.accepted;
        ++stats_.open_connections;
        changed_.notify_all();
    }

    void on_client_hello(std::string sni) {
        std::lock_guard lock(mutex_);
        stats_.last_sni = std::move(sni);
    }

    void on_handshake(bool resumed, std::string alpn, std::string client_subject) {
        std::lock_guard lock(mutex_);
        ++stats_.handshakes;
        if (resumed) ++stats_.resumed_handshakes;
        stats_.last_alpn = std::move(alpn);
        stats_.last_client_subject = std::move(client_subject);
        changed_.notify_all();
    }

    void on_handshake_failed() {
        std::lock_guard lock(mutex_);
        ++stats_.failed_handshakes;
        changed_.notify_all();
    }

    void on_closed() {
        std::lock_guard lock(mutex_);
        --stats_.open_connections;
        changed_.notify_all();
    }

    tls_front_stats stats() const {
        std::lock_guard lock(mutex_);
        return stats_;
    }

    // Waits until `pred(stats)` holds; false on timeout. `pred` runs under the
    // lock and must not call back into the front.
    template <class Predicate>
    bool wait_for(Predicate pred, std::chrono::milliseconds timeout) const {
        std::unique_lock lock(mutex_);
        return changed_.wait_for(lock, timeout, [&] { return pred(stats_); });
    }

private:
    mutable std::mutex mutex_;
    mutable std::condition_variable changed_;
    tls_front_stats stats_;
};

// True for errors that mean the peer reset the connection.
inline bool is_reset(const asio::error_code& ec) {
    return ec == asio::error::connection_reset || ec == asio::error::connection_aborted;
}

// One client connection and its backend connection. Lives on the front's
// thread only; kept alive by its pending asynchronous operations.
class front_connection : public std::enable_shared_from_this<front_connection> {
public:
    front_connection(asio::ip::tcp::socket socket, asio::ssl::context& ctx, unsigned short backend_port,
                     const tls_front_options& options, front_state& state)
        : tls_(std::move(socket), ctx),
          backend_(tls_.get_executor()),
          close_timer_(tls_.get_executor()),
          backend_port_(backend_port),
          options_(options),
          state_(state) {}

    void start() {
        asio::error_code ignored;
        client_socket().set_option(asio::ip::tcp::no_delay(true), ignored);
        if (!options_.complete_handshake) {
            discard_client_bytes();
            return;
        }
        tls_.async_handshake(asio::ssl::stream_base::server,
                             [self = shared_from_this()](const asio::error_code& ec) {
                                 self->on_handshake(ec);
                             });
    }

    bool is_closed() const { return closed_; }

    // Closes both sides at once, without close_notify (front shutdown).
    void abort() {
        ending_ = true;
        close_backend(false);
        close_client(false);
    }

private:
    asio::ip::tcp::socket& client_socket() { return tls_.next_layer(); }

    // complete_handshake == false: read and drop whatever the client sends,
    // never write, and close once the client closes.
    void discard_client_bytes() {
        client_socket().async_read_some(asio::buffer(up_buffer_),
                                        [self = shared_from_this()](const asio::error_code& ec, std::size_t) {
                                            if (self->ending_) return;
                                            if (ec) {
                                                self->ending_ = true;
                                                self->close_client();
                                                return;
                                            }
                                            self->discard_client_bytes();
                                        });
    }

    void on_handshake(const asio::error_code& ec) {
        if (ending_) return;
        if (ec) {
            // Any alert OpenSSL produced has already been written.
            state_.on_handshake_failed();
            ending_ = true;
            close_client();
            return;
        }
        SSL* ssl = tls_.native_handle();
        const unsigned char* alpn = nullptr;
        unsigned int alpn_size = 0;
        SSL_get0_alpn_selected(ssl, &alpn, &alpn_size);
        std::string client_subject;
        if (X509* peer = SSL_get0_peer_certificate(ssl)) {
            std::array<char, 512> text{};
            X509_NAME_oneline(X509_get_subject_name(peer), text.data(), static_cast<int>(text.size()));
            client_subject = text.data();
        }
        std::string protocol;
        if (alpn) protocol.assign(reinterpret_cast<const char*>(alpn), alpn_size);
        state_.on_handshake(SSL_session_reused(ssl) == 1, std::move(protocol), std::move(client_subject));

        const asio::ip::tcp::endpoint backend(asio::ip::make_address_v4("127.0.0.1"), backend_port_);
        backend_.async_connect(backend, [self = shared_from_this()](const asio::error_code& connect_ec) {
            if (self->ending_) return;
            if (connect_ec) {
                self->end(false, false, true);
                return;
            }
            asio::error_code ignored;
            self->backend_.set_option(asio::ip::tcp::no_delay(true), ignored);
            self->pump_up();
            self->pump_down();
        });
    }

    // Client -> backend: read from the TLS stream, write to the backend.
    void pump_up() {
        tls_.async_read_some(asio::buffer(up_buffer_),
                             [self = shared_from_this()](const asio::error_code& ec, std::size_t n) {
                                 self->on_client_data(ec, n);
                             });
    }

    void on_client_data(const asio::error_code& ec, std::size_t n) {
        if (ending_) return;
        if (ec) {
            client_ended(ec);
            return;
        }
        asio::async_write(backend_, asio::buffer(up_buffer_, n),
                          [self = shared_from_this()](const asio::error_code& write_ec, std::size_t) {
                              if (self->ending_) return;
                              if (write_ec) {
                                  self->backend_ended(write_ec);
                                  return;
                              }
                              self->pump_up();
                          });
    }

    // Backend -> client: read from the backend, write to the TLS stream.
    void pump_down() {
        backend_.async_read_some(asio::buffer(down_buffer_),
                                 [self = shared_from_this()](const asio::error_code& ec, std::size_t n) {
                                     self->on_backend_data(ec, n);
                                 });
    }

    void on_backend_data(const asio::error_code& ec, std::size_t n) {
        if (ending_) return;
        if (ec) {
            backend_ended(ec);
            return;
        }
        writing_to_client_ = true;
        asio::async_write(tls_, asio::buffer(down_buffer_, n),
                          [self = shared_from_this()](const asio::error_code& write_ec, std::size_t) {
                              self->writing_to_client_ = false;
                              if (self->ending_) return;
                              if (write_ec) {
                                  self->client_ended(write_ec);
                                  return;
                              }
                              self->pump_down();
                          });
    }

    void client_ended(const asio::error_code& ec) {
        // asio::error::eof from the TLS stream means the client sent
        // close_notify; the TLS session is then still fit for a reply. Any other
        // error leaves it unusable (OpenSSL forbids SSL_shutdown after a fatal
        // error), and a bare TCP EOF shows up as ssl::error::stream_truncated.
        end(false, is_reset(ec), ec == asio::error::eof);
    }

    void backend_ended(const asio::error_code& ec) {
        const bool reset = is_reset(ec);
        end(reset, false, !reset);
    }

    // Ends the connection once: closes the backend (abortively if
    // `reset_backend`), then the client: abortively if `reset_client`, else with
    // close_notify if allowed and configured, else with a plain TCP close.
    void end(bool reset_client, bool reset_backend, bool tls_usable) {
        if (ending_) return;
        ending_ = true;
        close_backend(reset_backend);
        if (reset_client) {
            asio::error_code ignored;
            client_socket().set_option(asio::socket_base::linger(true, 0), ignored);
            close_client(false);
            return;
        }
        if (!options_.send_close_notify || !tls_usable || writing_to_client_) {
            close_client();
            return;
        }
        // Mark the client's close_notify as received, so that SSL_shutdown
        // completes once ours is written instead of waiting for the client's.
        SSL* ssl = tls_.native_handle();
        SSL_set_shutdown(ssl, SSL_get_shutdown(ssl) | SSL_RECEIVED_SHUTDOWN);
        close_timer_.expires_after(std::chrono::seconds(1));
        close_timer_.async_wait([self = shared_from_this()](const asio::error_code& ec) {
            if (!ec) self->close_client();
        });
        tls_.async_shutdown([self = shared_from_this()](const asio::error_code&) { self->close_client(); });
    }

    void close_backend(bool reset) {
        asio::error_code ignored;
        if (!backend_.is_open()) return;
        if (reset) {
            backend_.set_option(asio::socket_base::linger(true, 0), ignored);
        } else {
            backend_.shutdown(asio::ip::tcp::socket::shutdown_send, ignored);
        }
        backend_.close(ignored);
    }

    // Idempotent; updates the shared counters on the first call. `graceful`
    // sends FIN first (a reset must not, or the client would see EOF).
    void close_client(bool graceful = true) {
        if (closed_) return;
        closed_ = true;
        close_timer_.cancel();
        asio::error_code ignored;
        if (graceful) client_socket().shutdown(asio::ip::tcp::socket::shutdown_send, ignored);
        client_socket().close(ignored);
        state_.on_closed();
    }

    asio::ssl::stream<asio::ip::tcp::socket> tls_;
    asio::ip::tcp::socket backend_;
    asio::steady_timer close_timer_;
    const unsigned short backend_port_;
    const tls_front_options& options_;
    front_state& state_;

    bool ending_ = false;  // no more piping; the connection is being closed
    bool closed_ = false;  // the client socket is closed and counted as such
    bool writing_to_client_ = false;
    std::array<char, 16 * 1024> up_buffer_{};
    std::array<char, 16 * 1024> down_buffer_{};
};

// SSL_CTX callback: records the SNI host name of every ClientHello (it runs
// whether or not the client sent one).
inline int record_server_name(SSL* ssl, int*, void* arg) {
    const char* name = SSL_get_servername(ssl, TLSEXT_NAMETYPE_host_name);
    static_cast<front_state*>(arg)->on_client_hello(name ? name : "");
    return SSL_TLSEXT_ERR_OK;
}

// SSL_CTX callback: selects "http/1.1" if the client offers it, else no ALPN.
inline int select_http11(SSL*, const unsigned char** out, unsigned char* out_size, const unsigned char* in,
                         unsigned int in_size, void*) {
    static constexpr std::string_view http11 = "http/1.1";
    for (unsigned int at = 0; at < in_size;) {
        const unsigned int size = in[at];
        if (at + 1 + size > in_size) break;
        if (std::string_view(reinterpret_cast<const char*>(in + at + 1), size) == http11) {
            *out = in + at + 1;
            *out_size = static_cast<unsigned char>(size);
            return SSL_TLSEXT_ERR_OK;
        }
        at += 1 + size;
    }
    return SSL_TLSEXT_ERR_NOACK;
}

}  // namespace detail::tls

class tls_front {
public:
    // Serves TLS (1.2 and 1.3) with `identity` and forwards each connection to
    // 127.0.0.1:backend_port. Throws if the certificate or key cannot be used.
    tls_front(unsigned short backend_port, pem_identity identity, tls_front_options options = {})
        : backend_port_(backend_port), options_(std::move(options)) {
        configure_tls(identity);
        const asio::ip::tcp::endpoint endpoint(asio::ip::make_address_v4("127.0.0.1"), 0);
        acceptor_.open(endpoint.protocol());
        acceptor_.bind(endpoint);
        acceptor_.listen();
        port_ = acceptor_.local_endpoint().port();
        accept_next();
        thread_ = std::thread([this] { run(); });
    }

    // Closes the listener and every connection (without close_notify), then
    // joins the front's thread.
    ~tls_front() {
        asio::post(io_, [this] { shut_down(); });
        thread_.join();
    }

    tls_front(const tls_front&) = delete;
    tls_front& operator=(const tls_front&) = delete;

    unsigned short port() const { return port_; }

    // "https://localhost:PORT" followed by `path` (a leading '/' is added if missing).
    std::string url(std::string_view path = "/") const { return make_url("localhost", path); }

    // "https://127.0.0.1:PORT" followed by `path`.
    std::string ip_url(std::string_view path = "/") const { return make_url("127.0.0.1", path); }

    tls_front_stats stats() const { return state_.stats(); }
    std::size_t accepted() const { return stats().accepted; }
    std::size_t handshakes() const { return stats().handshakes; }
    std::size_t resumed_handshakes() const { return stats().resumed_handshakes; }
    std::size_t failed_handshakes() const { return stats().failed_handshakes; }
    std::size_t open_connections() const { return stats().open_connections; }
    std::string last_alpn() const { return stats().last_alpn; }
    std::string last_sni() const { return stats().last_sni; }
    // Subject (X509_NAME_oneline form) of the client certificate presented in
    // the last completed handshake, "" if none.
    std::string last_client_subject() const { return stats().last_client_subject; }

    // --- waiting (false on timeout) ----------------------------------------

    // Waits until `pred(stats())` holds. `pred` runs under the front's lock and
    // must not call member functions of this front.
    bool wait_for(const std::function<bool(const tls_front_stats&)>& pred,
                  std::chrono::milliseconds timeout) const {
        return state_.wait_for(pred, timeout);
    }

    // Waits until exactly `n` client connections are open.
    bool wait_for_open_connections(std::size_t n, std::chrono::milliseconds timeout) const {
        return state_.wait_for([n](const tls_front_stats& s) { return s.open_connections == n; }, timeout);
    }

    bool wait_for_failed_handshakes(std::size_t n, std::chrono::milliseconds timeout) const {
        return state_.wait_for([n](const tls_front_stats& s) { return s.failed_handshakes >= n; }, timeout);
    }

    bool wait_for_handshakes(std::size_t n, std::chrono::milliseconds timeout) const {
        return state_.wait_for([n](const tls_front_stats& s) { return s.handshakes >= n; }, timeout);
    }

    bool wait_for_accepted(std::size_t n, std::chrono::milliseconds timeout) const {
        return state_.wait_for([n](const tls_front_stats& s) { return s.accepted >= n; }, timeout);
    }

private:
    void configure_tls(const pem_identity& identity) {
        SSL_CTX* ctx = ssl_ctx_.native_handle();
        if (SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION) != 1 ||
            SSL_CTX_set_max_proto_version(ctx, TLS1_3_VERSION) != 1) {
            throw std::runtime_error("tls_front: cannot restrict the protocol versions to TLS 1.2-1.3");
        }
        ssl_ctx_.use_certificate_chain_file(identity.cert.string());
        ssl_ctx_.use_private_key_file(identity.key.string(), asio::ssl::context::pem);
        if (SSL_CTX_check_private_key(ctx) != 1) {
            throw std::runtime_error("tls_front: " + identity.key.string() + " does not match " +
                                     identity.cert.string());
        }

        // Resumption: a server-side session cache for TLS 1.2 session IDs and
        // (OpenSSL's default) stateless tickets for TLS 1.2 and 1.3. A session
        // ID context is required for resumption once client certificates are
        // verified.
        static constexpr std::string_view session_context = "leash tls_front";
        SSL_CTX_set_session_cache_mode(ctx, SSL_SESS_CACHE_SERVER);
        SSL_CTX_set_session_id_context(ctx, reinterpret_cast<const unsigned char*>(session_context.data()),
                                       static_cast<unsigned int>(session_context.size()));

        SSL_CTX_set_tlsext_servername_callback(ctx, &detail::tls::record_server_name);
        SSL_CTX_set_tlsext_servername_arg(ctx, &state_);
        SSL_CTX_set_alpn_select_cb(ctx, &detail::tls::select_http11, nullptr);

        if (!options_.client_ca.empty()) {
            ssl_ctx_.load_verify_file(options_.client_ca.string());
            if (STACK_OF(X509_NAME)* names = SSL_load_client_CA_file(options_.client_ca.c_str())) {
                SSL_CTX_set_client_CA_list(ctx, names);
            }
            ssl_ctx_.set_verify_mode(asio::ssl::verify_peer | asio::ssl::verify_fail_if_no_peer_cert);
        }
    }

    std::string make_url(std::string_view host, std::string_view path) const {
        std::string result = "https://" + std::string(host) + ":" + std::to_string(port_);
        if (path.empty() || path.front() != '/') result += '/';
        result += path;
        return result;
    }

    void run() {
        for (;;) {
            try {
                io_.run();
                return;
            } catch (...) {
                // Handlers report errors through error codes; keep serving
                // rather than terminating the test binary.
            }
        }
    }

    void accept_next() {
        acceptor_.async_accept([this](const asio::error_code& ec, asio::ip::tcp::socket socket) {
            if (stopping_ || ec == asio::error::operation_aborted) return;
            if (ec) {
                retry_accept_later();  // e.g. out of descriptors
                return;
            }
            state_.on_accepted();
            auto conn = std::make_shared<detail::tls::front_connection>(std::move(socket), ssl_ctx_,
                                                                         backend_port_, options_, state_);
            forget_closed_connections();
            connections_.push_back(conn);
            conn->start();
            accept_next();
        });
    }

    void retry_accept_later() {
        accept_retry_timer_.expires_after(std::chrono::milliseconds(10));
        accept_retry_timer_.async_wait([this](const asio::error_code& ec) {
            if (!ec && !stopping_) accept_next();
        });
    }

    void forget_closed_connections() {
        connections_.erase(std::remove_if(connections_.begin(), connections_.end(),
                                          [](const auto& weak) {
                                              auto conn = weak.lock();
                                              return !conn || conn->is_closed();
                                          }),
                           connections_.end());
    }

    void shut_down() {
        stopping_ = true;
        asio::error_code ignored;
        acceptor_.close(ignored);
        accept_retry_timer_.cancel();
        for (const auto& weak : connections_) {
            if (auto conn = weak.lock()) conn->abort();
        }
        connections_.clear();
        io_.stop();  // abandoned handlers are destroyed with io_
    }

    // Declaration order matters: state_ and ssl_ctx_ must outlive io_ (pending
    // handlers own connections whose SSL objects call back into state_), and
    // io_ must outlive the I/O objects.
    detail::tls::front_state state_;
    const unsigned short backend_port_;
    const tls_front_options options_;
    asio::ssl::context ssl_ctx_{asio::ssl::context::tls_server};
    asio::io_context io_;
    asio::ip::tcp::acceptor acceptor_{io_};
    asio::steady_timer accept_retry_timer_{io_};
    unsigned short port_ = 0;
    bool stopping_ = false;  // front thread only
    std::vector<std::weak_ptr<detail::tls::front_connection>> connections_;  // front thread only
    std::thread thread_;
};

}  // namespace leash::test
