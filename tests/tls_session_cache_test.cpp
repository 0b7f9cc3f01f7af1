// The per-host TLS session cache, without sockets: sessions are made up with the OpenSSL API
// and told apart by their ids.
#include <leash/detail/tls_client.hpp>

#include <catch2/catch.hpp>

#include <string>
#include <utility>

using leash::detail::ssl_session_ptr;
using leash::detail::tls_client;

namespace {

const std::string A = "https://a:443";
const std::string B = "https://b:443";

// A resumable session of `version` whose id is `name`.
ssl_session_ptr make_session(const std::string& name, int version = TLS1_3_VERSION)
{
    ssl_session_ptr s(SSL_SESSION_new());
    REQUIRE(s);
    SSL_SESSION_set_protocol_version(s.get(), version);
    SSL_SESSION_set1_id(s.get(), reinterpret_cast<const unsigned char*>(name.data()),
                        static_cast<unsigned>(name.size()));
    REQUIRE(SSL_SESSION_is_resumable(s.get()));
    return s;
}

// The id of a session taken from the cache (freeing the reference), or "" for none.
std::string take(tls_client& cache, const std::string& key)
{
    const auto s = cache.take_session(key);
    if (!s)
        return "";
    unsigned len = 0;
    const unsigned char* id = SSL_SESSION_get_id(s.get(), &len);
    return std::string(reinterpret_cast<const char*>(id), len);
}

} // namespace

TEST_CASE("tls session cache: each TLS 1.3 ticket is handed out once, the newest first, the last one shared")
{
    tls_client cache({});
    cache.store(A, make_session("t1"));
    cache.store(A, make_session("t2"));
    cache.store(A, make_session("t3"));
    CHECK(take(cache, A) == "t3");
    CHECK(take(cache, A) == "t2");
    CHECK(take(cache, A) == "t1");
    CHECK(take(cache, A) == "t1");  // until a fresh ticket arrives
    cache.store(A, make_session("t4"));
    CHECK(take(cache, A) == "t4");
    CHECK(take(cache, A) == "t1");
}

TEST_CASE("tls session cache: a TLS 1.2 session serves every new connection until replaced")
{
    tls_client cache({});
    cache.store(A, make_session("s1", TLS1_2_VERSION));
    CHECK(take(cache, A) == "s1");
    CHECK(take(cache, A) == "s1");
    cache.store(A, make_session("s2", TLS1_2_VERSION));
    CHECK(take(cache, A) == "s2");
    CHECK(take(cache, A) == "s2");
}

TEST_CASE("tls session cache: a host keeps at most max_sessions_per_host tickets, dropping the oldest")
{
    tls_client cache({});
    const auto n = tls_client::max_sessions_per_host;
    for (std::size_t i = 0; i < n + 2; ++i)
        cache.store(A, make_session("t" + std::to_string(i)));
    for (std::size_t i = n + 2; i-- > 2;)
        CHECK(take(cache, A) == "t" + std::to_string(i));
    CHECK(take(cache, A) == "t2");  // the last one is shared; t0 and t1 were dropped
}

TEST_CASE("tls session cache: a session that can no longer be resumed is skipped and dropped")
{
    tls_client cache({});
    cache.store(A, make_session("good"));
    auto stale = make_session("stale");
    SSL_SESSION_set1_id(stale.get(), nullptr, 0);  // no id and no ticket: not resumable
    cache.store(A, std::move(stale));
    CHECK(take(cache, A) == "good");
    CHECK(take(cache, A) == "good");
    const auto last = cache.take_session(A);
    SSL_SESSION_set1_id(last.get(), nullptr, 0);  // it stops being resumable (as a spent one does)
    CHECK(take(cache, A).empty());
}

TEST_CASE("tls session cache: hosts are kept apart, and forget drops one host's sessions")
{
    tls_client cache({});
    cache.store(A, make_session("a1"));
    cache.store(A, make_session("a2"));
    cache.store(B, make_session("b1"));
    cache.forget(A);
    CHECK(take(cache, A).empty());
    CHECK(take(cache, B) == "b1");
    CHECK(take(cache, B) == "b1");
}
