// Coded bodies for the tests and the test tools: content compressed with zlib, libbrotli and
// libzstd's own encoders, whole or piece by piece (a deflate stream flushed after each piece,
// as a server streaming events does). brotli's encoder needs leash_test_codecs
// (cmake/LeashDependencies.cmake), which says LEASH_TEST_NO_BROTLI_ENCODER without it.
#pragma once

#include <zlib.h>
#if defined(LEASH_HAS_BROTLI) && LEASH_HAS_BROTLI && !defined(LEASH_TEST_NO_BROTLI_ENCODER)
#include <brotli/encode.h>
#define LEASH_TEST_BROTLI 1
#endif
#if defined(LEASH_HAS_ZSTD) && LEASH_HAS_ZSTD
#include <zstd.h>
#define LEASH_TEST_ZSTD 1
#endif

#include <cstdint>
#include <iterator>
#include <memory>
#include <stdexcept>
#include <string>
#include <string_view>

namespace leash::test {

// A zlib deflate stream (window_bits: 16 + 15 gzip, 15 zlib, -15 raw deflate) fed piece by
// piece.
class deflate_stream {
public:
    explicit deflate_stream(int window_bits, int level = 6, int strategy = Z_DEFAULT_STRATEGY)
        : z_(std::make_unique<z_stream>())
    {
        *z_ = {};
        if (deflateInit2(z_.get(), level, Z_DEFLATED, window_bits, 8, strategy) != Z_OK)
            throw std::runtime_error("deflateInit2 failed");
    }
    deflate_stream(const deflate_stream&) = delete;
    deflate_stream& operator=(const deflate_stream&) = delete;
    ~deflate_stream() { deflateEnd(z_.get()); }

    // The coded bytes of `content` that are ready (the encoder may keep some back).
    std::string more(std::string_view content) { return run(content, Z_NO_FLUSH); }
    // The coded bytes of `content`, flushed (Z_SYNC_FLUSH): a decoder can give it all back.
    std::string piece(std::string_view content) { return run(content, Z_SYNC_FLUSH); }
    // The coded bytes that end the stream.
    std::string finish() { return run({}, Z_FINISH); }

private:
    std::string run(std::string_view content, int flush)
    {
        std::string out;
        z_->next_in = reinterpret_cast<Bytef*>(const_cast<char*>(content.data()));
        z_->avail_in = static_cast<uInt>(content.size());
        for (;;) {
            char buffer[16384];
            z_->next_out = reinterpret_cast<Bytef*>(buffer);
            z_->avail_out = sizeof buffer;
            const int rc = deflate(z_.get(), flush);
            if (rc == Z_STREAM_ERROR)
                throw std::runtime_error("deflate failed");
            out.append(buffer, sizeof buffer - z_->avail_out);
            if (z_->avail_out != 0 && z_->avail_in == 0 && (flush != Z_FINISH || rc == Z_STREAM_END))
                return out;
        }
    }

    std::unique_ptr<z_stream> z_;
};

// zlib's deflate with the given window bits of `content` given `repeat` times.
inline std::string zlib_encode(std::string_view content, int window_bits, int repeat = 1,
                               int strategy = Z_DEFAULT_STRATEGY, int level = 6)
{
    deflate_stream s(window_bits, level, strategy);
    std::string out;
    for (int i = 0; i < repeat; ++i)
        out += s.more(content);
    return out + s.finish();
}

inline std::string gzip(std::string_view content) { return zlib_encode(content, 16 + MAX_WBITS); }
inline std::string zlib_deflate(std::string_view content) { return zlib_encode(content, MAX_WBITS); }
inline std::string raw_deflate(std::string_view content) { return zlib_encode(content, -MAX_WBITS); }

#if LEASH_TEST_BROTLI
inline std::string brotli(std::string_view content, int quality = 5)
{
    std::string coded(BrotliEncoderMaxCompressedSize(content.size()), '\0');
    std::size_t size = coded.size();
    if (!BrotliEncoderCompress(quality, BROTLI_DEFAULT_WINDOW, BROTLI_MODE_GENERIC, content.size(),
                               reinterpret_cast<const std::uint8_t*>(content.data()), &size,
                               reinterpret_cast<std::uint8_t*>(coded.data())))
        throw std::runtime_error("BrotliEncoderCompress failed");
    coded.resize(size);
    return coded;
}
#endif

#if LEASH_TEST_ZSTD
inline std::string zstd(std::string_view content, int level = 3)
{
    std::string coded(ZSTD_compressBound(content.size()), '\0');
    const std::size_t size = ZSTD_compress(coded.data(), coded.size(), content.data(), content.size(), level);
    if (ZSTD_isError(size))
        throw std::runtime_error("ZSTD_compress failed");
    coded.resize(size);
    return coded;
}
#endif

// Lines of JSON that compress about 10 times, as a JSON API's answers do.
inline std::string sample_text(std::size_t size)
{
    static constexpr std::string_view names[] = {"leash", "asio", "openssl", "llhttp", "catch2", "zlib", "brotli", "zstd"};
    static constexpr std::string_view tags[] = {"http", "client", "tls", "proxy", "redirect", "pool"};
    std::string text;
    std::uint32_t x = 12345;
    for (int id = 1; text.size() < size; ++id) {
        x = x * 1664525u + 1013904223u;
        text += "{\"id\": " + std::to_string(id) + ", \"name\": \"" + std::string(names[(x >> 24) % std::size(names)])
            + "\", \"tags\": [\"" + std::string(tags[(x >> 16) % std::size(tags)]) + "\"], \"score\": "
            + std::to_string((x >> 8) % 1000) + "}\n";
    }
    text.resize(size);
    return text;
}

// A gzip bomb: `members` gzip members of `member_size` zero bytes each, back to back.
inline std::string gzip_bomb(std::size_t member_size, std::size_t members)
{
    const auto one = zlib_encode(std::string(member_size, '\0'), 16 + MAX_WBITS, 1, Z_DEFAULT_STRATEGY, 9);
    std::string out;
    out.reserve(one.size() * members);
    for (std::size_t i = 0; i < members; ++i)
        out += one;
    return out;
}

} // namespace leash::test
