/// \file
/// leash/tls_options.hpp - how a transport speaks TLS to https:// hosts.
#pragma once

#include <leash/detail/config.hpp>

#if defined(LEASH_HEADER_ONLY)
#include <asio/ssl/context.hpp>
#else
// (Separate compilation keeps OpenSSL's headers out of the units that use leash: include
// <asio/ssl.hpp> to make a context.)
namespace asio::ssl {
class context;
}
#endif

#include <memory>
#include <string>

namespace leash {

/// How a transport speaks TLS to https:// hosts.
///
/// The defaults are the secure ones: the system trust store, peer certificate verification
/// on, host name verification on (IP literals are checked against IP address entries), SNI
/// sent for host names, TLS 1.2 or newer, ALPN offering "http/1.1", and a per-host session
/// cache so a new connection to a known host resumes instead of running a full handshake.
struct tls_options {
    /// Trust these CAs instead of the system store: a PEM bundle, and/or a directory of
    /// certificates named by subject hash (as `openssl rehash` makes them). This is the bundle.
    std::string ca_file;
    /// The directory of certificates named by subject hash (see ca_file).
    std::string ca_path;

    /// A context to use as it is (client certificates, ciphers, anything exotic). Peer and
    /// host name verification, SNI and session resumption are still applied per connection
    /// (leash installs its session callbacks on this context). The trust settings above are
    /// then ignored: configure trust on the context.
    std::shared_ptr<asio::ssl::context> context;

    /// Reuse TLS sessions per host (resumption). Off: every connection runs a full handshake.
    bool session_resumption = true;

    /// DANGER: accept any certificate for any host name. For tests against throwaway
    /// servers only; never in production. Off by default.
    bool insecure_skip_verify = false;
};

} // namespace leash
