// Decoding content codings (detail/content_decoder.hpp), without sockets: every coding this
// build decodes, fed in pieces of every size, into output buffers of every size; the end of
// the coded stream and what may follow it; invalid data; and the bounds on what a body may
// decode to. The coded data is made with zlib, brotli's and zstd's own encoders
// (support/coded_bodies.hpp).
#include <leash/detail/content_decoder.hpp>

#include <catch2/catch.hpp>
#include <support/coded_bodies.hpp>

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <system_error>
#include <vector>

using leash::detail::accepted_encodings;
using leash::detail::content_coding;
using leash::detail::content_decoder;
using leash::detail::decode_limits;
using leash::detail::parse_content_coding;
using namespace leash::test;

namespace {

// A coding and how to make data of it.
struct codec {
    const char* name;
    content_coding coding;
    std::string (*encode)(std::string_view);
};

// Every coding (and, for deflate, both formats) this build decodes and can encode.
std::vector<codec> codecs()
{
    std::vector<codec> all{{"gzip", content_coding::gzip, gzip},
                           {"deflate (zlib)", content_coding::deflate, zlib_deflate},
                           {"deflate (raw)", content_coding::deflate, raw_deflate}};
#if LEASH_TEST_BROTLI
    all.push_back({"br", content_coding::br, [](std::string_view c) { return brotli(c); }});
#endif
#if LEASH_TEST_ZSTD
    all.push_back({"zstd", content_coding::zstd, [](std::string_view c) { return zstd(c); }});
#endif
    return all;
}

// Everything observable after decoding a body.
struct decoded {
    std::string content;
    std::error_code ec;  // the error decode() returned, if any
    bool finished = false;
    std::uint64_t coded_bytes = 0;
};

// Decodes `pieces` one after the other, then no input until no more output comes, into a
// buffer of out_size bytes; checks decode()'s contract on the way.
decoded decode_pieces(content_decoder& d, const std::vector<std::string_view>& pieces, std::size_t out_size)
{
    decoded r;
    std::vector<char> out(out_size);
    std::vector<std::string_view> inputs = pieces;
    inputs.emplace_back();
    for (std::string_view in : inputs) {
        for (;;) {
            const auto s = d.decode(in, out.data(), out.size());
            REQUIRE(s.consumed <= in.size());
            REQUIRE(s.produced <= out.size());
            r.content.append(out.data(), s.produced);
            in.remove_prefix(s.consumed);
            if (s.ec) {
                r.ec = s.ec;
                r.finished = d.finished();
                r.coded_bytes = d.coded_bytes();
                return r;
            }
            if (s.produced < out.size()) {
                REQUIRE(in.empty());
                break;
            }
        }
    }
    r.finished = d.finished();
    r.coded_bytes = d.coded_bytes();
    CHECK(d.decoded_bytes() == r.content.size());
    return r;
}

decoded decode_pieces(content_coding c, const std::vector<std::string_view>& pieces, std::size_t out_size = 4096,
                      decode_limits limits = {})
{
    content_decoder d(c, limits);
    return decode_pieces(d, pieces, out_size);
}

// `coded` in pieces of `piece` bytes.
std::vector<std::string_view> split(std::string_view coded, std::size_t piece)
{
    std::vector<std::string_view> pieces;
    for (std::size_t at = 0; at < coded.size(); at += piece)
        pieces.push_back(coded.substr(at, piece));
    return pieces;
}

decoded decode_whole(content_coding c, std::string_view coded, std::size_t out_size = 4096, decode_limits limits = {})
{
    return decode_pieces(c, {coded}, out_size, limits);
}

} // namespace

TEST_CASE("content_decoder: every coding decodes to the content it was made from")
{
    const std::string content = sample_text(200 * 1024);
    for (const codec& c : codecs()) {
        INFO(c.name);
        const std::string coded = c.encode(content);
        const decoded r = decode_whole(c.coding, coded);
        CHECK(!r.ec);
        CHECK(r.finished);
        CHECK(r.content == content);
        CHECK(r.coded_bytes == coded.size());
    }
}

TEST_CASE("content_decoder: the coded body split in two at any byte decodes the same")
{
    const std::string content = sample_text(700);
    for (const codec& c : codecs()) {
        const std::string coded = c.encode(content);
        for (std::size_t at = 0; at <= coded.size(); ++at) {
            INFO(c.name << ", split at " << at);
            const std::string_view all = coded;
            const decoded r = decode_pieces(c.coding, {all.substr(0, at), all.substr(at)}, 256);
            REQUIRE(!r.ec);
            REQUIRE(r.finished);
            REQUIRE(r.content == content);
        }
    }
}

TEST_CASE("content_decoder: the coded body fed one byte at a time decodes the same")
{
    const std::string content = sample_text(20 * 1024);
    for (const codec& c : codecs()) {
        INFO(c.name);
        const std::string coded = c.encode(content);
        const decoded r = decode_pieces(c.coding, split(coded, 1), 1000);
        CHECK(!r.ec);
        CHECK(r.finished);
        CHECK(r.content == content);
    }
}

TEST_CASE("content_decoder: an output buffer of one byte receives the whole content")
{
    const std::string content = sample_text(20 * 1024);
    for (const codec& c : codecs()) {
        INFO(c.name);
        const std::string coded = c.encode(content);
        const decoded whole = decode_whole(c.coding, coded, 1);
        CHECK(!whole.ec);
        CHECK(whole.finished);
        CHECK(whole.content == content);
        const decoded bytewise = decode_pieces(c.coding, split(coded, 1), 1);
        CHECK(!bytewise.ec);
        CHECK(bytewise.content == content);
    }
}

TEST_CASE("content_decoder: an empty body is finished and decodes to nothing")
{
    for (const codec& c : codecs()) {
        INFO(c.name);
        content_decoder d(c.coding, {});
        CHECK(d.finished());
        char out[16];
        const auto s = d.decode({}, out, sizeof out);
        CHECK(s.consumed == 0);
        CHECK(s.produced == 0);
        CHECK(!s.ec);
        CHECK(d.finished());
        CHECK(d.coded_bytes() == 0);
    }
}

TEST_CASE("content_decoder: coded empty content decodes to nothing and is finished")
{
    for (const codec& c : codecs()) {
        INFO(c.name);
        const decoded r = decode_whole(c.coding, c.encode(""));
        CHECK(!r.ec);
        CHECK(r.finished);
        CHECK(r.content.empty());
    }
}

TEST_CASE("content_decoder: a truncated coded body is not finished")
{
    const std::string content = sample_text(5000);
    for (const codec& c : codecs()) {
        const std::string coded = c.encode(content);
        for (const std::size_t cut : {std::size_t{1}, std::size_t{2}, coded.size() / 2, coded.size() - 1}) {
            INFO(c.name << ", cut to " << cut << " of " << coded.size());
            const decoded r = decode_whole(c.coding, std::string_view(coded).substr(0, cut));
            CHECK(!r.ec);
            CHECK(!r.finished);
            CHECK(content.starts_with(r.content));
        }
    }
}

TEST_CASE("content_decoder: data that is not of the coding is decoding_failed")
{
    const std::string content = sample_text(5000);
    std::string bad_gzip = gzip(content);
    bad_gzip[bad_gzip.size() - 6] ^= 0x40;  // the CRC-32
    std::string bad_zlib = zlib_deflate(content);
    bad_zlib[bad_zlib.size() - 2] ^= 0x40;  // the Adler-32
    std::vector<std::pair<content_coding, std::string>> cases{
        {content_coding::gzip, bad_gzip},
        {content_coding::gzip, "<html>not compressed</html>"},
        {content_coding::deflate, bad_zlib},
        {content_coding::deflate, "\x07 a raw deflate block of the reserved type 3"},
    };
#if LEASH_TEST_BROTLI
    cases.emplace_back(content_coding::br, "\x11 a reserved window size");
    cases.emplace_back(content_coding::br, std::string(64, '\xff'));
#endif
#if LEASH_TEST_ZSTD
    std::string bad_magic = zstd(content);
    bad_magic[0] ^= 0x01;
    cases.emplace_back(content_coding::zstd, bad_magic);
#endif
    for (std::size_t i = 0; i < cases.size(); ++i) {
        INFO("case " << i);
        CHECK(decode_whole(cases[i].first, cases[i].second).ec == leash::error::decoding_failed);
    }
}

TEST_CASE("content_decoder: a decoder that failed reports the same error again")
{
    content_decoder d(content_coding::gzip, {});
    char out[64];
    const std::string_view junk = "not gzip at all";
    CHECK(d.decode(junk, out, sizeof out).ec == leash::error::decoding_failed);
    const std::string coded = gzip("fine");
    const auto again = d.decode(coded, out, sizeof out);
    CHECK(again.ec == leash::error::decoding_failed);
    CHECK(again.consumed == 0);
    CHECK(again.produced == 0);
}

TEST_CASE("content_decoder: bytes after the end of the coded stream are decoding_failed")
{
    const std::string content = sample_text(3000);
    for (const codec& c : codecs()) {
        const std::string coded = c.encode(content);
        const std::vector<std::string> trailers{"garbage", std::string(1, '\0'), "\x1f\x8b junk after a gzip magic",
                                                "\x28 junk after a zstd magic's first byte"};
        for (std::size_t i = 0; i < trailers.size(); ++i) {
            INFO(c.name << ", trailer " << i);
            const decoded together = decode_whole(c.coding, coded + trailers[i]);
            CHECK(together.ec == leash::error::decoding_failed);
            CHECK(together.content == content);
            const decoded later = decode_pieces(c.coding, {coded, trailers[i]});
            CHECK(later.ec == leash::error::decoding_failed);
            CHECK(later.content == content);
        }
    }
}

TEST_CASE("content_decoder: concatenated gzip members decode to all their contents")
{
    const std::string coded = gzip("first member, ") + gzip("") + gzip("second member, ") + gzip(sample_text(3000));
    const std::string content = "first member, second member, " + sample_text(3000);
    const decoded whole = decode_whole(content_coding::gzip, coded);
    CHECK(!whole.ec);
    CHECK(whole.finished);
    CHECK(whole.content == content);
    const decoded bytewise = decode_pieces(content_coding::gzip, split(coded, 1), 7);
    CHECK(!bytewise.ec);
    CHECK(bytewise.finished);
    CHECK(bytewise.content == content);
}

TEST_CASE("content_decoder: a body ending inside a further gzip member is not finished")
{
    const std::string second = gzip("second");
    const decoded r = decode_whole(content_coding::gzip, gzip("first") + second.substr(0, 5));
    CHECK(!r.ec);
    CHECK(!r.finished);
    CHECK(r.content == "first");
}

#if LEASH_TEST_ZSTD
TEST_CASE("content_decoder: concatenated zstd frames, skippable ones included, decode to all their contents")
{
    const std::string skippable("\x50\x2a\x4d\x18\x03\x00\x00\x00xyz", 11);  // magic, size 3, content
    const std::string coded = zstd("first frame, ") + skippable + zstd("second frame");
    const decoded whole = decode_whole(content_coding::zstd, coded);
    CHECK(!whole.ec);
    CHECK(whole.finished);
    CHECK(whole.content == "first frame, second frame");
    const decoded bytewise = decode_pieces(content_coding::zstd, split(coded, 1), 3);
    CHECK(!bytewise.ec);
    CHECK(bytewise.content == "first frame, second frame");
}

TEST_CASE("content_decoder: a zstd frame needing a window above 8 MiB is decoding_failed")
{
    // (Streamed with the size unknown, or the encoder would shrink the window to the content.)
    const std::string content = sample_text(64 * 1024);
    ZSTD_CCtx* cctx = ZSTD_createCCtx();
    REQUIRE(!ZSTD_isError(ZSTD_CCtx_setParameter(cctx, ZSTD_c_windowLog, 24)));
    std::string coded(ZSTD_compressBound(content.size()) + 64, '\0');
    ZSTD_outBuffer out{coded.data(), coded.size(), 0};
    ZSTD_inBuffer in{content.data(), content.size(), 0};
    REQUIRE(!ZSTD_isError(ZSTD_compressStream2(cctx, &out, &in, ZSTD_e_continue)));
    std::size_t left = 1;
    while (left != 0) {
        left = ZSTD_compressStream2(cctx, &out, &in, ZSTD_e_end);
        REQUIRE(!ZSTD_isError(left));
    }
    ZSTD_freeCCtx(cctx);
    coded.resize(out.pos);
    REQUIRE(ZSTD_getFrameContentSize(coded.data(), coded.size()) == ZSTD_CONTENTSIZE_UNKNOWN);
    CHECK(decode_whole(content_coding::zstd, coded).ec == leash::error::decoding_failed);
}
#endif

TEST_CASE("content_decoder: deflate takes zlib streams and raw deflate data, whose first byte may come alone")
{
    const std::string content = sample_text(4000);
    for (const auto& [name, coded] : {std::pair{"zlib", zlib_deflate(content)}, std::pair{"raw", raw_deflate(content)}}) {
        INFO(name);
        content_decoder d(content_coding::deflate, {});
        char out[8192];
        const auto first = d.decode(std::string_view(coded).substr(0, 1), out, sizeof out);
        CHECK(first.consumed == 1);
        CHECK(first.produced == 0);
        CHECK(!first.ec);
        CHECK(!d.finished());
        const decoded rest = decode_pieces(d, {std::string_view(coded).substr(1)}, sizeof out);
        CHECK(!rest.ec);
        CHECK(rest.finished);
        CHECK(rest.content == content);
    }
}

TEST_CASE("content_decoder: a deflate body of one byte is not finished")
{
    const decoded r = decode_whole(content_coding::deflate, "\x78");
    CHECK(!r.ec);
    CHECK(!r.finished);
    CHECK(r.coded_bytes == 1);
}

TEST_CASE("content_decoder: a decompression bomb stops soon after the grace with decompression_ratio_exceeded")
{
    // 64 MiB of zeros in about 64 KiB: a ratio above 1000.
    const std::string zeros(1 << 20, '\0');
    const std::string bomb = zlib_encode(zeros, 16 + MAX_WBITS, 64, Z_RLE);
    REQUIRE(bomb.size() < 128 * 1024);
    decode_limits limits;
    limits.max_ratio = 100;
    limits.ratio_grace_bytes = 1 << 20;
    const std::size_t out_size = 64 * 1024;
    const decoded r = decode_whole(content_coding::gzip, bomb, out_size, limits);
    CHECK(r.ec == leash::error::decompression_ratio_exceeded);
    CHECK(r.content.size() > limits.ratio_grace_bytes);
    CHECK(r.content.size() <= limits.ratio_grace_bytes + 2 * out_size);
    CHECK(r.coded_bytes < bomb.size() / 8);  // it stopped early in the coded data too
}

TEST_CASE("content_decoder: a bomb in one large output buffer is stopped just as soon")
{
    const std::string zeros(1 << 20, '\0');
    const std::string bomb = zlib_encode(zeros, 16 + MAX_WBITS, 16, Z_RLE);
    content_decoder d(content_coding::gzip, {});
    std::vector<char> out(16 << 20);
    const auto s = d.decode(bomb, out.data(), out.size());
    CHECK(s.ec == leash::error::decompression_ratio_exceeded);
    CHECK(s.produced <= (1 << 20) + 128 * 1024);
}

#if LEASH_TEST_ZSTD
TEST_CASE("content_decoder: a zstd bomb is stopped by the ratio as well")
{
    const std::string zeros(16 << 20, '\0');
    const std::string bomb = zstd(zeros, 1);
    const decoded r = decode_whole(content_coding::zstd, bomb, 64 * 1024);
    CHECK(r.ec == leash::error::decompression_ratio_exceeded);
    CHECK(r.content.size() <= (1 << 20) + 256 * 1024);
}
#endif

TEST_CASE("content_decoder: a body compressed like ordinary text passes the ratio guard")
{
    const std::string content = sample_text(4 << 20);
    for (const codec& c : codecs()) {
        INFO(c.name);
        const std::string coded = c.encode(content);
        INFO("ratio " << content.size() / coded.size());
        CHECK(content.size() / coded.size() >= 5);
        const decoded r = decode_whole(c.coding, coded, 64 * 1024);
        CHECK(!r.ec);
        CHECK(r.finished);
        CHECK(r.content.size() == content.size());
        CHECK(r.content == content);
    }
}

TEST_CASE("content_decoder: a highly compressed body within the grace passes")
{
    const std::string zeros(1 << 20, '\0');
    const decoded r = decode_whole(content_coding::gzip, gzip(zeros), 64 * 1024);
    CHECK(!r.ec);
    CHECK(r.content == zeros);
}

TEST_CASE("content_decoder: more than max_decoded_bytes is body_too_large, without producing a byte more")
{
    const std::string content = sample_text(300 * 1024);
    decode_limits limits;
    limits.max_decoded_bytes = 100 * 1000 + 7;
    for (const codec& c : codecs()) {
        const std::string coded = c.encode(content);
        for (const std::size_t out_size : {std::size_t{1}, std::size_t{4096}, std::size_t{1} << 20}) {
            INFO(c.name << ", output buffer " << out_size);
            const decoded r = decode_pieces(c.coding, split(coded, 1000), out_size, limits);
            CHECK(r.ec == leash::error::body_too_large);
            CHECK(r.content.size() == limits.max_decoded_bytes);
            CHECK(content.starts_with(r.content));
        }
    }
}

TEST_CASE("content_decoder: content of exactly max_decoded_bytes passes")
{
    const std::string content = sample_text(100 * 1000);
    decode_limits limits;
    limits.max_decoded_bytes = content.size();
    for (const codec& c : codecs()) {
        INFO(c.name);
        const std::string coded = c.encode(content);
        const decoded exact = decode_whole(c.coding, coded, content.size(), limits);
        CHECK(!exact.ec);
        CHECK(exact.finished);
        CHECK(exact.content == content);
        const decoded chunked = decode_pieces(c.coding, split(coded, 100), 333, limits);
        CHECK(!chunked.ec);
        CHECK(chunked.content == content);
    }
}

TEST_CASE("content_decoder: a decoder moved from goes on in the one it was moved to")
{
    const std::string content = sample_text(10000);
    const std::string coded = gzip(content);
    content_decoder first(content_coding::gzip, {});
    std::string got(content.size(), '\0');
    const auto s = first.decode(std::string_view(coded).substr(0, coded.size() / 2), got.data(), got.size());
    content_decoder second(std::move(first));
    const auto t = second.decode(std::string_view(coded).substr(s.consumed), got.data() + s.produced,
                                 got.size() - s.produced);
    CHECK(!t.ec);
    CHECK(s.produced + t.produced == content.size());
    CHECK(second.finished());
    CHECK(got == content);
}

TEST_CASE("content_decoder: parse_content_coding names a single coding this build decodes")
{
    using c = content_coding;
    const std::optional<c> br =
#if LEASH_HAS_BROTLI
        c::br;
#else
        std::nullopt;
#endif
    const std::optional<c> zstd_coding =
#if LEASH_TEST_ZSTD
        c::zstd;
#else
        std::nullopt;
#endif
    const std::vector<std::pair<std::string_view, std::optional<c>>> table{
        {"gzip", c::gzip},     {"GZIP", c::gzip},         {" gzip ", c::gzip},       {"\tgzip", c::gzip},
        {"x-gzip", c::gzip},   {"X-GZip", c::gzip},       {"gzip,", c::gzip},        {", gzip ,", c::gzip},
        {"deflate", c::deflate}, {"Deflate", c::deflate}, {"br", br},                {"BR", br},
        {"zstd", zstd_coding}, {"identity", std::nullopt}, {"", std::nullopt},      {"  ", std::nullopt},
        {",", std::nullopt},   {"gzip, br", std::nullopt}, {"gzip, gzip", std::nullopt},
        {"identity, gzip", std::nullopt}, {"compress", std::nullopt}, {"x-compress", std::nullopt},
        {"gzip;q=1", std::nullopt}, {"gz ip", std::nullopt}, {"gzipx", std::nullopt}, {"x-deflate", std::nullopt},
    };
    for (const auto& [value, expected] : table) {
        INFO('"' << std::string(value) << '"');
        CHECK(parse_content_coding(value) == expected);
    }
}

TEST_CASE("content_decoder: accepted_encodings names exactly the codings this build decodes")
{
    std::string expected = "gzip, deflate";
#if LEASH_HAS_BROTLI
    expected += ", br";
#endif
#if LEASH_TEST_ZSTD
    expected += ", zstd";
#endif
    CHECK(accepted_encodings() == expected);
    std::string_view rest = accepted_encodings();
    while (!rest.empty()) {
        const std::size_t comma = rest.find(',');
        const std::string_view name = rest.substr(0, comma);
        INFO(std::string(name));
        CHECK(parse_content_coding(name));
        rest = comma == std::string_view::npos ? std::string_view{} : rest.substr(comma + 1);
    }
}
