// Throwaway PKI for leash's TLS tests.
//
// test_pki generates, at run time, a private CA and a handful of leaf
// certificates signed by it (plus one that is not), and writes them as PEM files
// into a fresh temporary directory that is removed again by the destructor.
// Nothing here is ever committed: every key lives only as long as the process.
//
// All keys are EC P-256 (fast to generate). The certificates follow RFC 5280
// closely enough for OpenSSL's X509_V_FLAG_X509_STRICT checks: the CA has a
// critical basicConstraints, keyUsage keyCertSign and a subjectKeyIdentifier,
// and every leaf carries an authorityKeyIdentifier.
#pragma once

#include <openssl/asn1.h>
#include <openssl/bio.h>
#include <openssl/bn.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/objects.h>
#include <openssl/pem.h>
#include <openssl/rand.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include <array>
#include <cstdint>
#include <cstdio>
#include <filesystem>
#include <memory>
#include <stdexcept>
#include <string>
#include <string_view>
#include <system_error>
#include <utility>

namespace leash::test {

// A certificate and its private key, both PEM files.
struct pem_identity {
    std::filesystem::path cert;
    std::filesystem::path key;
};

namespace detail::pki {

struct openssl_free {
    void operator()(EVP_PKEY* p) const { EVP_PKEY_free(p); }
    void operator()(X509* p) const { X509_free(p); }
    void operator()(X509_EXTENSION* p) const { X509_EXTENSION_free(p); }
    void operator()(BIO* p) const { BIO_free_all(p); }
    void operator()(BIGNUM* p) const { BN_free(p); }
    void operator()(ASN1_INTEGER* p) const { ASN1_INTEGER_free(p); }
};

template <class T>
using owned = std::unique_ptr<T, openssl_free>;

// Throws std::runtime_error naming the failed step and OpenSSL's error queue.
[[noreturn]] inline void fail(std::string_view what) {
    std::string message = "test_pki: " + std::string(what) + " failed";
    bool first = true;
    while (const unsigned long code = ERR_get_error()) {
        std::array<char, 256> text{};
        ERR_error_string_n(code, text.data(), text.size());
        message += first ? ": " : "; ";
        message += text.data();
        first = false;
    }
    throw std::runtime_error(message);
}

inline void check(bool ok, std::string_view what) {
    if (!ok) fail(what);
}

inline std::string random_hex(std::size_t bytes) {
    std::string raw(bytes, '\0');
    check(RAND_bytes(reinterpret_cast<unsigned char*>(raw.data()), static_cast<int>(bytes)) == 1,
          "RAND_bytes");
    static constexpr char digits[] = "0123456789abcdef";
    std::string hex;
    for (const char c : raw) {
        const auto b = static_cast<unsigned char>(c);
        hex += digits[b >> 4];
        hex += digits[b & 0x0f];
    }
    return hex;
}

inline owned<EVP_PKEY> generate_p256_key() {
    char curve[] = "P-256";
    owned<EVP_PKEY> key(EVP_PKEY_Q_keygen(nullptr, nullptr, "EC", curve));
    check(key != nullptr, "generating an EC P-256 key");
    return key;
}

// What to put into one certificate. Validity offsets are seconds from now.
struct cert_spec {
    std::string common_name;
    long not_before = -3600;
    long not_after = 24 * 3600;
    bool is_ca = false;
    std::string subject_alt_name;    // X509V3 config syntax; "" for none
    std::string extended_key_usage;  // X509V3 config syntax; "" for none
};

inline void add_extension(X509* cert, X509V3_CTX& ctx, int nid, const std::string& value) {
    owned<X509_EXTENSION> ext(X509V3_EXT_conf_nid(nullptr, &ctx, nid, value.c_str()));
    check(ext != nullptr, "building extension " + std::string(OBJ_nid2sn(nid)) + " = " + value);
    check(X509_add_ext(cert, ext.get(), -1) == 1, "adding extension " + std::string(OBJ_nid2sn(nid)));
}

// Issues a certificate for `key` as described by `spec`. With a null issuer the
// certificate is self-signed by `key`.
inline owned<X509> issue(const cert_spec& spec, EVP_PKEY* key, const BIGNUM* serial, X509* issuer,
                         EVP_PKEY* issuer_key) {
    owned<X509> cert(X509_new());
    check(cert != nullptr, "X509_new");
    check(X509_set_version(cert.get(), X509_VERSION_3) == 1, "X509_set_version");

    owned<ASN1_INTEGER> serial_asn1(BN_to_ASN1_INTEGER(serial, nullptr));
    check(serial_asn1 != nullptr && X509_set_serialNumber(cert.get(), serial_asn1.get()) == 1,
          "setting the serial number");

    check(X509_gmtime_adj(X509_getm_notBefore(cert.get()), spec.not_before) != nullptr &&
              X509_gmtime_adj(X509_getm_notAfter(cert.get()), spec.not_after) != nullptr,
          "setting the validity period");

    X509_NAME* subject = X509_get_subject_name(cert.get());
    const auto add_name = [&](const char* field, const std::string& value) {
        check(X509_NAME_add_entry_by_txt(subject, field, MBSTRING_UTF8,
                                         reinterpret_cast<const unsigned char*>(value.c_str()), -1, -1,
                                         0) == 1,
              std::string("setting subject ") + field);
    };
    add_name("O", "leash tests");
    add_name("CN", spec.common_name);
    check(X509_set_issuer_name(cert.get(), issuer ? X509_get_subject_name(issuer) : subject) == 1,
          "setting the issuer name");
    check(X509_set_pubkey(cert.get(), key) == 1, "X509_set_pubkey");

    X509V3_CTX ctx;
    X509V3_set_ctx(&ctx, issuer ? issuer : cert.get(), cert.get(), nullptr, nullptr, 0);
    if (spec.is_ca) {
        add_extension(cert.get(), ctx, NID_basic_constraints, "critical,CA:TRUE");
        add_extension(cert.get(), ctx, NID_key_usage, "critical,keyCertSign,cRLSign");
    } else {
        add_extension(cert.get(), ctx, NID_basic_constraints, "critical,CA:FALSE");
        add_extension(cert.get(), ctx, NID_key_usage, "critical,digitalSignature");
    }
    if (!spec.extended_key_usage.empty()) {
        add_extension(cert.get(), ctx, NID_ext_key_usage, spec.extended_key_usage);
    }
    if (!spec.subject_alt_name.empty()) {
        add_extension(cert.get(), ctx, NID_subject_alt_name, spec.subject_alt_name);
    }
    // The subject key identifier must exist before the authority key identifier
    // of a self-signed certificate can refer to it.
    add_extension(cert.get(), ctx, NID_subject_key_identifier, "hash");
    add_extension(cert.get(), ctx, NID_authority_key_identifier, "keyid:always");

    check(X509_sign(cert.get(), issuer_key ? issuer_key : key, EVP_sha256()) > 0, "X509_sign");
    return cert;
}

inline owned<BIO> open_for_writing(const std::filesystem::path& path) {
    owned<BIO> bio(BIO_new_file(path.c_str(), "w"));
    check(bio != nullptr, "creating " + path.string());
    return bio;
}

inline void write_cert(const std::filesystem::path& path, X509* cert) {
    auto bio = open_for_writing(path);
    check(PEM_write_bio_X509(bio.get(), cert) == 1, "writing " + path.string());
}

inline void write_key(const std::filesystem::path& path, EVP_PKEY* key) {
    auto bio = open_for_writing(path);
    check(PEM_write_bio_PrivateKey(bio.get(), key, nullptr, nullptr, 0, nullptr, nullptr) == 1,
          "writing " + path.string());
}

}  // namespace detail::pki

class test_pki {
public:
    // Generates the CA and every identity; throws std::runtime_error on failure
    // (the temporary directory is removed again in that case).
    test_pki() : dir_(make_directory()) {
        try {
            generate();
        } catch (...) {
            std::error_code ignored;
            std::filesystem::remove_all(dir_, ignored);
            throw;
        }
    }

    ~test_pki() {
        std::error_code ignored;
        std::filesystem::remove_all(dir_, ignored);
    }

    test_pki(const test_pki&) = delete;
    test_pki& operator=(const test_pki&) = delete;

    // The directory holding every file below.
    const std::filesystem::path& directory() const { return dir_; }

    // The throwaway CA certificate (CA:TRUE, keyCertSign), PEM.
    std::filesystem::path ca_cert() const { return dir_ / "ca.pem"; }

    // A directory holding only the CA certificate, named <subject hash>.0, so it
    // can be used as an OpenSSL CApath.
    std::filesystem::path ca_dir() const { return dir_ / "capath"; }

    // Signed by the CA; SAN DNS:localhost, IP:127.0.0.1, IP:::1; valid from an
    // hour ago until a day from now.
    pem_identity valid() const { return identity("valid"); }

    // Signed by the CA; SAN DNS:wrong.example only.
    pem_identity wrong_host() const { return identity("wrong_host"); }

    // Signed by the CA; SAN as valid(); expired a day ago.
    pem_identity expired() const { return identity("expired"); }

    // Self-signed (not by the CA); SAN as valid().
    pem_identity self_signed() const { return identity("self_signed"); }

    // Signed by the CA; extendedKeyUsage clientAuth, for client certificates.
    pem_identity client() const { return identity("client"); }

private:
    static std::filesystem::path make_directory() {
        const auto base = std::filesystem::temp_directory_path();
        for (int attempt = 0; attempt < 16; ++attempt) {
            auto candidate = base / ("leash-test-pki-" + detail::pki::random_hex(8));
            std::error_code ec;
            if (std::filesystem::create_directory(candidate, ec)) {
                // The private keys are written here: keep the directory private.
                std::filesystem::permissions(candidate, std::filesystem::perms::owner_all,
                                             std::filesystem::perm_options::replace, ec);
                return candidate;
            }
            if (ec) {
                throw std::runtime_error("test_pki: cannot create " + candidate.string() + ": " +
                                         ec.message());
            }
        }
        throw std::runtime_error("test_pki: cannot find an unused temporary directory name in " +
                                 base.string());
    }

    pem_identity identity(const std::string& name) const {
        return {dir_ / (name + ".pem"), dir_ / (name + ".key")};
    }

    void generate() {
        namespace pki = detail::pki;
        const std::string usual_san = "DNS:localhost,IP:127.0.0.1,IP:::1";

        // Serial numbers: 64 random bits shared by this PKI, then a distinct
        // low byte per certificate.
        pki::owned<BIGNUM> serial_base(BN_new());
        pki::check(serial_base != nullptr &&
                       BN_rand(serial_base.get(), 64, BN_RAND_TOP_ONE, BN_RAND_BOTTOM_ANY) == 1 &&
                       BN_lshift(serial_base.get(), serial_base.get(), 8) == 1,
                   "generating serial numbers");
        unsigned serial_index = 0;
        const auto next_serial = [&] {
            pki::owned<BIGNUM> serial(BN_dup(serial_base.get()));
            pki::check(serial != nullptr && BN_add_word(serial.get(), ++serial_index) == 1,
                       "generating a serial number");
            return serial;
        };

        // A unique CA name keeps two test_pki instances (and their CApath hash
        // names) apart.
        const auto ca_key = pki::generate_p256_key();
        pki::cert_spec ca_spec;
        ca_spec.common_name = "leash test CA " + pki::random_hex(4);
        ca_spec.not_after = 7 * 24 * 3600;
        ca_spec.is_ca = true;
        const auto ca = pki::issue(ca_spec, ca_key.get(), next_serial().get(), nullptr, nullptr);
        pki::write_cert(ca_cert(), ca.get());

        std::filesystem::create_directory(ca_dir());
        std::array<char, 16> hash_name{};
        std::snprintf(hash_name.data(), hash_name.size(), "%08lx.0", X509_subject_name_hash(ca.get()));
        pki::write_cert(ca_dir() / hash_name.data(), ca.get());

        const auto make = [&](const std::string& name, pki::cert_spec spec, bool by_ca) {
            const auto key = pki::generate_p256_key();
            const auto cert = pki::issue(spec, key.get(), next_serial().get(), by_ca ? ca.get() : nullptr,
                                         by_ca ? ca_key.get() : nullptr);
            pki::write_cert(identity(name).cert, cert.get());
            pki::write_key(identity(name).key, key.get());
        };

        pki::cert_spec server;
        server.common_name = "localhost";
        server.subject_alt_name = usual_san;
        server.extended_key_usage = "serverAuth";
        make("valid", server, true);

        pki::cert_spec wrong = server;
        wrong.common_name = "wrong.example";
        wrong.subject_alt_name = "DNS:wrong.example";
        make("wrong_host", wrong, true);

        pki::cert_spec expired = server;
        expired.not_before = -2 * 24 * 3600;
        expired.not_after = -24 * 3600;
        make("expired", expired, true);

        pki::cert_spec self = server;
        self.common_name = "localhost (self-signed)";
        make("self_signed", self, false);

        pki::cert_spec client;
        client.common_name = "leash test client";
        client.extended_key_usage = "clientAuth";
        make("client", client, true);
    }

    std::filesystem::path dir_;
};

// One test_pki per process, generated on first use.
inline const test_pki& shared_test_pki() {
    static const test_pki pki;
    return pki;
}

}  // namespace leash::test
