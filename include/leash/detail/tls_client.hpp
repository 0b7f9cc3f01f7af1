// The client side of TLS for a transport: builds (or adopts) the SSL context, prepares each
// new connection's SSL object (SNI, peer and host name verification, ALPN, minimum version,
// a cached session to resume), and keeps the per-host session cache (several TLS 1.3
// tickets per host, each used once).
//
// Thread-safe: the cache is guarded by its own mutex; OpenSSL calls on_new_session from
// whichever strand is reading when a session (ticket) arrives.
#pragma once

#include <leash/tls_options.hpp>
#include <leash/url.hpp>

#include <asio/ssl.hpp>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>

#include <deque>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <system_error>
#include <utility>

namespace leash::detail {

class tls_client;

// An owned reference to an SSL_SESSION.
struct ssl_session_free {
    void operator()(SSL_SESSION* session) const noexcept { SSL_SESSION_free(session); }
};
using ssl_session_ptr = std::unique_ptr<SSL_SESSION, ssl_session_free>;

// Per connection: where a session received on it is stored. Lives in the connection, which
// outlives its SSL object.
struct tls_session_slot {
    tls_client* cache = nullptr;
    std::string key;
};

class tls_client {
public:
    // Throws std::system_error if a configured CA file or directory cannot be loaded.
    explicit tls_client(const tls_options& options) : options_(options)
    {
        if (options_.context) {
            context_ = options_.context;
        } else {
            context_ = std::make_shared<asio::ssl::context>(asio::ssl::context::tls_client);
            // The system store (a bundle of a hundred-odd certificates to parse) is loaded at
            // the first https connection, so plain-http users never pay for it.
            system_store_pending_ = options_.ca_file.empty() && options_.ca_path.empty();
            if (!options_.ca_file.empty())
                context_->load_verify_file(options_.ca_file);
            if (!options_.ca_path.empty())
                context_->add_verify_path(options_.ca_path);
        }
        SSL_CTX* ctx = context_->native_handle();
        if (options_.session_resumption) {
            SSL_CTX_set_session_cache_mode(ctx, SSL_SESS_CACHE_CLIENT | SSL_SESS_CACHE_NO_INTERNAL_STORE);
            SSL_CTX_sess_set_new_cb(ctx, &tls_client::on_new_session);
        }
    }

    tls_client(const tls_client&) = delete;
    tls_client& operator=(const tls_client&) = delete;

    // The context, with its trust store loaded. Thread-safe.
    asio::ssl::context& context()
    {
        if (system_store_pending_)
            std::call_once(system_store_loaded_, [this] {
                std::error_code ignored;  // no system store: every peer is then untrusted
                context_->set_default_verify_paths(ignored);
            });
        return *context_;
    }

    // Configures a new connection's SSL object for `u`.
    std::error_code prepare(SSL* ssl, const url& u, tls_session_slot& slot)
    {
        SSL_set_min_proto_version(ssl, TLS1_2_VERSION);
        // An idle connection gives its record buffers back (about 34 KiB each).
        SSL_set_mode(ssl, SSL_MODE_RELEASE_BUFFERS);
        static const unsigned char alpn[] = {8, 'h', 't', 't', 'p', '/', '1', '.', '1'};
        if (SSL_set_alpn_protos(ssl, alpn, sizeof alpn) != 0)
            return make_ssl_error();

        std::error_code ec;
        const auto address = asio::ip::make_address(u.host(), ec);
        const bool ip_literal = !ec;
        if (!ip_literal && SSL_set_tlsext_host_name(ssl, u.host().c_str()) != 1)
            return make_ssl_error();

        if (options_.insecure_skip_verify) {
            SSL_set_verify(ssl, SSL_VERIFY_NONE, nullptr);
        } else {
            SSL_set_verify(ssl, SSL_VERIFY_PEER, nullptr);
            X509_VERIFY_PARAM* param = SSL_get0_param(ssl);
            X509_VERIFY_PARAM_set_hostflags(param, X509_CHECK_FLAG_NO_PARTIAL_WILDCARDS);
            const int ok = ip_literal ? X509_VERIFY_PARAM_set1_ip_asc(param, address.to_string().c_str())
                                      : X509_VERIFY_PARAM_set1_host(param, u.host().c_str(), u.host().size());
            if (ok != 1)
                return make_ssl_error();
        }

        if (options_.session_resumption) {
            SSL_set_ex_data(ssl, slot_index(), &slot);
            if (const auto session = take_session(slot.key))
                SSL_set_session(ssl, session.get());  // (takes its own reference)
        }
        return {};
    }

    // The connection is going away: sessions arriving from now on are not stored.
    static void detach(SSL* ssl) noexcept { SSL_set_ex_data(ssl, slot_index(), nullptr); }

    // Forgets the sessions of `key` (after a failed handshake).
    void forget(const std::string& key)
    {
        std::lock_guard lock(mutex_);
        sessions_.erase(key);
    }

    // Sessions kept per host. A TLS 1.3 server sends a ticket or two per connection, and a
    // ticket serves one resumption, so a burst of new connections needs several.
    static constexpr std::size_t max_sessions_per_host = 8;

    // A session to resume for `key` (a reference of the caller's own), or null. The newest
    // first. A TLS 1.3 ticket is handed out once and leaves the cache while others remain
    // (RFC 8446 C.4 asks clients not to reuse tickets); the last one is shared by the
    // connections that start before a fresh ticket arrives, so that a burst of new
    // connections still resumes (OpenSSL stops offering it once one resumption with it has
    // completed, and it is dropped then). A TLS 1.2 session stays for the next connection.
    ssl_session_ptr take_session(const std::string& key)
    {
        std::lock_guard lock(mutex_);
        auto it = sessions_.find(key);
        if (it == sessions_.end())
            return nullptr;
        auto& stored = it->second;
        while (!stored.empty()) {
            SSL_SESSION* session = stored.back().get();
            if (!SSL_SESSION_is_resumable(session)) {
                stored.pop_back();
                continue;
            }
            if (SSL_SESSION_get_protocol_version(session) >= TLS1_3_VERSION && stored.size() > 1) {
                auto taken = std::move(stored.back());  // the cache's reference becomes the caller's
                stored.pop_back();
                return taken;
            }
            SSL_SESSION_up_ref(session);
            return ssl_session_ptr(session);
        }
        return nullptr;
    }

    // Keeps `session` for later connections to `key`.
    void store(const std::string& key, ssl_session_ptr session)
    {
        std::lock_guard lock(mutex_);
        auto& stored = sessions_[key];
        if (SSL_SESSION_get_protocol_version(session.get()) < TLS1_3_VERSION)
            stored.clear();  // a TLS 1.2 session replaces what was there
        else if (stored.size() == max_sessions_per_host)
            stored.pop_front();
        stored.push_back(std::move(session));
    }

private:
    static std::error_code make_ssl_error()
    {
        const auto code = ERR_get_error();
        if (code == 0)
            return asio::ssl::error::unexpected_result;
        return {static_cast<int>(code), asio::error::get_ssl_category()};
    }

    static int slot_index()
    {
        static const int index = SSL_get_ex_new_index(0, nullptr, nullptr, nullptr, nullptr);
        return index;
    }

    // OpenSSL hands over a new session (ticket); 1 = we keep the reference.
    static int on_new_session(SSL* ssl, SSL_SESSION* session)
    {
        auto* slot = static_cast<tls_session_slot*>(SSL_get_ex_data(ssl, slot_index()));
        if (!slot || !slot->cache || !SSL_SESSION_is_resumable(session))
            return 0;
        slot->cache->store(slot->key, ssl_session_ptr(session));
        return 1;
    }

    tls_options options_;
    std::shared_ptr<asio::ssl::context> context_;
    bool system_store_pending_ = false;
    std::once_flag system_store_loaded_;
    std::mutex mutex_;
    std::map<std::string, std::deque<ssl_session_ptr>> sessions_;  // oldest first
};

} // namespace leash::detail
