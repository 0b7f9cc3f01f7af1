// Against a real server nobody here wrote: Debian's python3-httpbin, started on 127.0.0.1 by
// tests/support/run_with_httpbin.py, which passes its URL in LEASH_HTTPBIN_URL. Decoding,
// redirects and a multipart upload, as a user would first try them.
#include <leash/leash.hpp>
#include <support/harness.hpp>

#include <nlohmann/json.hpp>

#include <cstdlib>

using namespace leash::test;

namespace {

std::string httpbin(std::string_view path)
{
    const char* base = std::getenv("LEASH_HTTPBIN_URL");
    REQUIRE(base != nullptr);
    return std::string(base) + std::string(path);
}

struct answer {
    std::error_code ec;
    int status = 0;
    std::string url;
    std::size_t redirects = 0;
    std::string decoded_from;
    nlohmann::json json;
};

asio::awaitable<answer> ask(leash::client& c, leash::request req)
{
    auto [ec, res] = co_await c.async_send(std::move(req), as_tuple);
    answer a{ec, res.status, res.url, res.redirects, res.decoded_content_encoding, {}};
    if (!ec) {
        auto [read_ec, text] = co_await res.body.async_read_all(1 << 20, as_tuple);
        a.ec = read_ec;
        a.json = nlohmann::json::parse(text, nullptr, false);
    }
    co_return a;
}

struct httpbin_client {
    httpbin_client()
    {
        leash::transport_options t;
        t.decoding.decompress = true;
        leash::client_options o;
        o.retry.max_retries = 0;
        client.emplace(ioc, o, t);
    }
    answer send(leash::request req) { return run(ioc, ask(*client, std::move(req))); }

    asio::io_context ioc;
    std::optional<leash::client> client;
};

} // namespace

TEST_CASE("httpbin: gzip and deflate responses are decoded")
{
    httpbin_client h;
    const auto gzip = h.send(leash::request::get(httpbin("/gzip")));
    REQUIRE_FALSE(gzip.ec);
    CHECK(gzip.decoded_from == "gzip");
    CHECK(gzip.json.value("gzipped", false));
    const auto deflate = h.send(leash::request::get(httpbin("/deflate")));
    REQUIRE_FALSE(deflate.ec);
    CHECK(deflate.decoded_from == "deflate");
    CHECK(deflate.json.value("deflated", false));
}

#if defined(LEASH_HAS_BROTLI) && LEASH_HAS_BROTLI
TEST_CASE("httpbin: a brotli response is decoded")
{
    httpbin_client h;
    const auto br = h.send(leash::request::get(httpbin("/brotli")));
    REQUIRE_FALSE(br.ec);
    CHECK(br.decoded_from == "br");
    CHECK(br.json.value("brotli", false));
}
#endif

TEST_CASE("httpbin: relative and absolute redirect chains are followed to the end")
{
    httpbin_client h;
    for (const char* path : {"/redirect/3", "/absolute-redirect/3", "/relative-redirect/2"}) {
        CAPTURE(path);
        const auto got = h.send(leash::request::get(httpbin(path)));
        REQUIRE_FALSE(got.ec);
        CHECK(got.status == 200);
        CHECK(got.url == httpbin("/get"));
        CHECK(got.redirects == (std::string_view(path).ends_with("2") ? 2u : 3u));
    }
}

TEST_CASE("httpbin: a 307 keeps the POST and its body; a 302 turns it into a GET")
{
    httpbin_client h;
    const auto target = leash::query_builder().add("url", "/anything").add("status_code", "307");
    const auto kept = h.send(leash::request::post(target.append_to(httpbin("/redirect-to")), R"({"k":1})"));
    REQUIRE_FALSE(kept.ec);
    CHECK(kept.json.value("method", "") == "POST");
    CHECK(kept.json.value("data", "") == R"({"k":1})");
    const auto found = leash::query_builder().add("url", "/anything").add("status_code", "302");
    const auto changed = h.send(leash::request::post(found.append_to(httpbin("/redirect-to")), R"({"k":1})"));
    REQUIRE_FALSE(changed.ec);
    CHECK(changed.json.value("method", "") == "GET");
    CHECK(changed.json.value("data", "x").empty());
}

TEST_CASE("httpbin: a multipart upload arrives as its fields and files")
{
    httpbin_client h;
    leash::multipart_form form;
    form.add_field("purpose", "fine-tune");
    form.add_file("file", "data.jsonl", "{\"a\":1}\n{\"b\":2}\n", "application/jsonl");
    auto req = leash::request::post(httpbin("/post"), "");
    std::move(form).attach_to(req);
    const auto got = h.send(std::move(req));
    REQUIRE_FALSE(got.ec);
    CHECK(got.json["form"].value("purpose", "") == "fine-tune");
    CHECK(got.json["files"].value("file", "") == "{\"a\":1}\n{\"b\":2}\n");
}

TEST_CASE("httpbin: basic auth built by basic_auth() is accepted")
{
    httpbin_client h;
    auto req = leash::request::get(httpbin("/basic-auth/aladdin/open%20sesame"));
    req.headers.set("Authorization", leash::basic_auth("aladdin", "open sesame"));
    const auto got = h.send(std::move(req));
    REQUIRE_FALSE(got.ec);
    CHECK(got.status == 200);
    CHECK(got.json.value("authenticated", false));
}
