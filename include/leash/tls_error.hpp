/// \file
/// leash/tls_error.hpp - certificate verification failures.
///
/// When the peer's certificate fails verification, the request fails with an error_code in
/// the "leash.x509" category whose value is OpenSSL's X509_V_ERR_* code and whose message() is
/// OpenSSL's reason text ("certificate has expired", "hostname mismatch", ...). Compare it
/// with the conditions of leash::tls_error:
/// \code
/// if (ec == leash::tls_error::host_name_mismatch) ...
/// \endcode
/// Other handshake failures come through in Asio's SSL category (asio::error::get_ssl_category()),
/// whose message() is OpenSSL's reason text as well; a handshake that does not finish in time
/// is leash::error::tls_handshake_timeout.
#pragma once

#include <openssl/x509_vfy.h>

#include <string>
#include <system_error>

namespace leash {

/// Conditions that group certificate verification failures (codes of x509_category()), for
/// comparisons such as `ec == leash::tls_error::host_name_mismatch`.
enum class tls_error {
    certificate_untrusted = 1,  ///< no trusted CA (unknown issuer, self-signed, incomplete chain)
    host_name_mismatch,         ///< the certificate is not for the host name / IP address
    certificate_expired,        ///< not valid yet, or no longer
    verification_failed,        ///< any verification failure (includes the three above)
};

namespace detail {

class x509_category_impl final : public std::error_category {
public:
    const char* name() const noexcept override { return "leash.x509"; }
    std::string message(int ev) const override { return X509_verify_cert_error_string(ev); }
};

class tls_condition_category_impl final : public std::error_category {
public:
    const char* name() const noexcept override { return "leash.tls"; }
    std::string message(int ev) const override
    {
        switch (static_cast<tls_error>(ev)) {
        case tls_error::certificate_untrusted: return "certificate not trusted";
        case tls_error::host_name_mismatch: return "certificate does not match the host name";
        case tls_error::certificate_expired: return "certificate expired or not yet valid";
        case tls_error::verification_failed: return "certificate verification failed";
        }
        return "TLS error";
    }
    bool equivalent(const std::error_code& code, int condition) const noexcept override;
};

} // namespace detail

/// The category "leash.x509" of certificate verification failures: the value is OpenSSL's
/// X509_V_ERR_* code, the message() OpenSSL's reason text.
inline const std::error_category& x509_category() noexcept
{
    static const detail::x509_category_impl instance;
    return instance;
}

/// The category "leash.tls" of the tls_error conditions.
inline const std::error_category& tls_condition_category() noexcept
{
    static const detail::tls_condition_category_impl instance;
    return instance;
}

/// An error_code for an X509_V_ERR_* verification result.
inline std::error_code make_x509_error(long verify_result) noexcept
{
    return {static_cast<int>(verify_result), x509_category()};
}

/// The condition `e`, so that `ec == e` compares a code with it (found by argument-dependent
/// lookup).
inline std::error_condition make_error_condition(tls_error e) noexcept
{
    return {static_cast<int>(e), tls_condition_category()};
}

inline bool detail::tls_condition_category_impl::equivalent(const std::error_code& code, int condition) const noexcept
{
    if (code.category() != x509_category())
        return false;
    switch (static_cast<tls_error>(condition)) {
    case tls_error::verification_failed:
        return code.value() != X509_V_OK;
    case tls_error::host_name_mismatch:
        return code.value() == X509_V_ERR_HOSTNAME_MISMATCH || code.value() == X509_V_ERR_IP_ADDRESS_MISMATCH
            || code.value() == X509_V_ERR_EMAIL_MISMATCH;
    case tls_error::certificate_expired:
        return code.value() == X509_V_ERR_CERT_HAS_EXPIRED || code.value() == X509_V_ERR_CERT_NOT_YET_VALID;
    case tls_error::certificate_untrusted:
        switch (code.value()) {
        case X509_V_ERR_UNABLE_TO_GET_ISSUER_CERT:
        case X509_V_ERR_UNABLE_TO_GET_ISSUER_CERT_LOCALLY:
        case X509_V_ERR_UNABLE_TO_VERIFY_LEAF_SIGNATURE:
        case X509_V_ERR_DEPTH_ZERO_SELF_SIGNED_CERT:
        case X509_V_ERR_SELF_SIGNED_CERT_IN_CHAIN:
        case X509_V_ERR_CERT_UNTRUSTED:
            return true;
        default:
            return false;
        }
    }
    return false;
}

} // namespace leash

template <>
struct std::is_error_condition_enum<leash::tls_error> : std::true_type {};
