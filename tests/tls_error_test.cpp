#include <leash/error.hpp>
#include <leash/tls_error.hpp>

#include <catch2/catch.hpp>

using leash::make_x509_error;
using leash::tls_error;

TEST_CASE("tls errors: verification results map to their kinds")
{
    CHECK(make_x509_error(X509_V_ERR_HOSTNAME_MISMATCH) == tls_error::host_name_mismatch);
    CHECK(make_x509_error(X509_V_ERR_IP_ADDRESS_MISMATCH) == tls_error::host_name_mismatch);
    CHECK(make_x509_error(X509_V_ERR_CERT_HAS_EXPIRED) == tls_error::certificate_expired);
    CHECK(make_x509_error(X509_V_ERR_CERT_NOT_YET_VALID) == tls_error::certificate_expired);
    CHECK(make_x509_error(X509_V_ERR_UNABLE_TO_GET_ISSUER_CERT_LOCALLY) == tls_error::certificate_untrusted);
    CHECK(make_x509_error(X509_V_ERR_DEPTH_ZERO_SELF_SIGNED_CERT) == tls_error::certificate_untrusted);
    CHECK(make_x509_error(X509_V_ERR_SELF_SIGNED_CERT_IN_CHAIN) == tls_error::certificate_untrusted);
}

TEST_CASE("tls errors: every verification failure is verification_failed, and only that")
{
    CHECK(make_x509_error(X509_V_ERR_CERT_REVOKED) == tls_error::verification_failed);
    CHECK(make_x509_error(X509_V_ERR_CERT_HAS_EXPIRED) == tls_error::verification_failed);
    CHECK(make_x509_error(X509_V_ERR_CERT_REVOKED) != tls_error::certificate_expired);
    CHECK(make_x509_error(X509_V_ERR_CERT_HAS_EXPIRED) != tls_error::host_name_mismatch);
    CHECK(std::error_code(leash::error::connect_timeout) != tls_error::verification_failed);
}

TEST_CASE("tls errors: the message is OpenSSL's reason text")
{
    CHECK(make_x509_error(X509_V_ERR_CERT_HAS_EXPIRED).message() == "certificate has expired");
    CHECK(make_x509_error(X509_V_ERR_HOSTNAME_MISMATCH).message() == "hostname mismatch");
    CHECK(std::string(make_x509_error(X509_V_ERR_HOSTNAME_MISMATCH).category().name()) == "leash.x509");
}
