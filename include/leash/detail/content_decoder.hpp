// Content codings of response bodies (RFC 9110 section 8.4.1), decoded without I/O: gzip and
// deflate with zlib, br with libbrotli (when built with LEASH_HAS_BROTLI), zstd with libzstd
// (when built with LEASH_HAS_ZSTD).
//
// content_decoder turns a coded body into its content incrementally, straight into the
// caller's buffer: it decodes only as far as that buffer holds (zstd alone decodes a block,
// at most 128 KiB, ahead into its own buffer), so the work done follows the output asked for.
// It bounds what a body may decode to, in total (decode_limits::max_decoded_bytes) and
// relative to its coded size (decode_limits::max_ratio), so that a small hostile body cannot
// make the client inflate gigabytes (a decompression bomb).
//
// What each coded stream is:
// - gzip: one or more gzip members (RFC 1952), back to back.
// - deflate: a zlib stream (RFC 1950) or, as some servers send, raw deflate data (RFC 1951),
//   told apart by the first two bytes.
// - br: one brotli stream (RFC 7932).
// - zstd: one or more zstd frames (RFC 8878), skippable frames included. A frame that needs a
//   window above 8 MiB is refused (RFC 9659 caps the window at 8 MiB for HTTP).
// Any other byte after the end of the stream makes the body invalid (error::decoding_failed).
#pragma once

#include <leash/error.hpp>
#include <leash/headers.hpp>

#include <zlib.h>
#if defined(LEASH_HAS_BROTLI) && LEASH_HAS_BROTLI
#include <brotli/decode.h>
#endif
#if defined(LEASH_HAS_ZSTD) && LEASH_HAS_ZSTD
#include <zstd.h>
#include <zstd_errors.h>
#endif

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <limits>
#include <memory>
#include <new>
#include <optional>
#include <stdexcept>
#include <string_view>
#include <system_error>

namespace leash::detail {

enum class content_coding { gzip, deflate, br, zstd };

// The coding a name stands for, if this build decodes it.
inline std::optional<content_coding> coding_named(std::string_view name) noexcept
{
    if (iequals(name, "gzip") || iequals(name, "x-gzip"))
        return content_coding::gzip;
    if (iequals(name, "deflate"))
        return content_coding::deflate;
#if defined(LEASH_HAS_BROTLI) && LEASH_HAS_BROTLI
    if (iequals(name, "br"))
        return content_coding::br;
#endif
#if defined(LEASH_HAS_ZSTD) && LEASH_HAS_ZSTD
    if (iequals(name, "zstd"))
        return content_coding::zstd;
#endif
    return std::nullopt;
}

// The single coding a Content-Encoding field value names, if this build decodes it: the name
// compared case-insensitively, with optional whitespace around it; "x-gzip" is gzip. Empty
// list elements are ignored (RFC 9110 section 5.6.1: "gzip," is gzip). nullopt for
// "identity", an empty value, an unknown coding, a name with parameters, or a list of several
// codings (e.g. "gzip, br"): such bodies are delivered as they came.
inline std::optional<content_coding> parse_content_coding(std::string_view field_value) noexcept
{
    std::string_view only;
    bool several = false;
    for_each_list_element(field_value, [&](std::string_view element) {
        several = several || !only.empty();
        only = element;
    });
    return several ? std::nullopt : coding_named(only);
}

// The Accept-Encoding field value naming every coding this build decodes.
inline std::string_view accepted_encodings() noexcept
{
#if defined(LEASH_HAS_BROTLI) && LEASH_HAS_BROTLI && defined(LEASH_HAS_ZSTD) && LEASH_HAS_ZSTD
    return "gzip, deflate, br, zstd";
#elif defined(LEASH_HAS_BROTLI) && LEASH_HAS_BROTLI
    return "gzip, deflate, br";
#elif defined(LEASH_HAS_ZSTD) && LEASH_HAS_ZSTD
    return "gzip, deflate, zstd";
#else
    return "gzip, deflate";
#endif
}

// Bounds on what one body may decode to.
struct decode_limits {
    // Decoded bytes in all; one more is error::body_too_large. Default 1 GiB.
    std::uint64_t max_decoded_bytes = std::uint64_t{1} << 30;
    // Decoded bytes may not exceed max_ratio times the coded bytes consumed so far
    // (error::decompression_ratio_exceeded) once more than ratio_grace_bytes were decoded.
    // Default 100: ordinary text and JSON compress 3 to 20 times; deflate cannot pass about
    // 1032 times, while brotli and zstd can go far beyond.
    std::uint64_t max_ratio = 100;
    // Decoded bytes before the ratio applies (small bodies of one repeated byte may compress
    // very well without harm). Default 1 MiB.
    std::uint64_t ratio_grace_bytes = std::uint64_t{1} << 20;
};

class content_decoder {
public:
    struct step {
        std::size_t consumed = 0;  // bytes taken from the input
        std::size_t produced = 0;  // bytes written to the output
        std::error_code ec;
    };

    // Throws std::invalid_argument for a coding this build does not decode (br without
    // LEASH_HAS_BROTLI, zstd without LEASH_HAS_ZSTD), std::bad_alloc when the codec's state
    // cannot be allocated.
    explicit content_decoder(content_coding c, decode_limits limits = {}) : coding_(c), limits_(limits) { open_codec(); }

    // Movable; a decoder moved from may only be destroyed or assigned to.
    content_decoder(content_decoder&&) noexcept = default;
    content_decoder& operator=(content_decoder&&) noexcept = default;

    // Decodes from `in` into out[0, out_size). Consumes as much of `in` as it can and fills as
    // much of `out` as it can. When produced < out_size (and no error), all of `in` was
    // consumed: bytes after the end of a gzip member or zstd frame are decoded as the next
    // one, and any other bytes after the end of the coded stream are an error. When produced
    // == out_size, more output may be pending: call again with the rest of the input
    // (possibly none). Never produces more than max_decoded_bytes in all.
    // Errors, after which the decoder is unusable (every later call reports the same error,
    // consuming and producing nothing): error::decoding_failed (invalid data, or bytes after
    // the end of the coded stream that start no further gzip member or zstd frame),
    // error::decompression_ratio_exceeded, error::body_too_large. With an error, consumed and
    // produced count what was done before it. Throws std::bad_alloc when the codec runs out
    // of memory.
    step decode(std::string_view in, char* out, std::size_t out_size)
    {
        step s;
        if (failed_) {
            s.ec = failed_;
            return s;
        }
        if (coding_ == content_coding::deflate && !deflate_format_known_) {
            s.consumed = choose_deflate_format(in, s.ec);
            if (!deflate_format_known_)
                return s;  // all of `in` (one byte at most) was kept
        }
        while (!s.ec && s.produced < out_size)
            if (!decode_slice(in, out, out_size, s))
                break;
        failed_ = s.ec;
        return s;
    }

    // The coded stream ended, or no byte was ever given (an empty body is an empty body).
    bool finished() const noexcept { return ended_ || coded_ == 0; }

    std::uint64_t coded_bytes() const noexcept { return coded_; }
    std::uint64_t decoded_bytes() const noexcept { return decoded_; }
    content_coding coding() const noexcept { return coding_; }

private:
    // Decoded between two checks of the limits: bounds what a call may produce past them.
    static constexpr std::size_t slice_bytes = 64 * 1024;

    // What one call into the codec did.
    struct codec_step {
        std::size_t consumed = 0;
        std::size_t produced = 0;
        bool ended = false;  // the coded stream (member, frame) ended
        std::error_code ec;
    };

    struct zlib_closer {
        void operator()(z_stream* z) const noexcept
        {
            inflateEnd(z);
            delete z;
        }
    };
#if defined(LEASH_HAS_BROTLI) && LEASH_HAS_BROTLI
    struct brotli_closer {
        void operator()(BrotliDecoderState* b) const noexcept { BrotliDecoderDestroyInstance(b); }
    };
#endif
#if defined(LEASH_HAS_ZSTD) && LEASH_HAS_ZSTD
    struct zstd_closer {
        void operator()(ZSTD_DCtx* z) const noexcept { ZSTD_freeDCtx(z); }
    };
#endif

    void open_codec()
    {
        switch (coding_) {
        case content_coding::gzip:
            return open_zlib(16 + MAX_WBITS);  // gzip wrapper only
        case content_coding::deflate:
            return open_zlib(MAX_WBITS);  // zlib wrapper; raw once the first bytes say so
        case content_coding::br:
            return open_brotli();
        case content_coding::zstd:
            return open_zstd();
        }
    }

    void open_zlib(int window_bits)
    {
        std::unique_ptr<z_stream> z(new z_stream{});
        const int rc = inflateInit2(z.get(), window_bits);
        if (rc == Z_MEM_ERROR)
            throw std::bad_alloc();
        if (rc != Z_OK)
            throw std::runtime_error("leash: zlib's inflateInit2 failed");
        zlib_.reset(z.release());
    }

    void open_brotli()
    {
#if defined(LEASH_HAS_BROTLI) && LEASH_HAS_BROTLI
        brotli_.reset(BrotliDecoderCreateInstance(nullptr, nullptr, nullptr));
        if (!brotli_)
            throw std::bad_alloc();
#else
        throw std::invalid_argument("leash: this build does not decode br (built without LEASH_HAS_BROTLI)");
#endif
    }

    void open_zstd()
    {
#if defined(LEASH_HAS_ZSTD) && LEASH_HAS_ZSTD
        zstd_.reset(ZSTD_createDCtx());
        if (!zstd_)
            throw std::bad_alloc();
        ZSTD_DCtx_setParameter(zstd_.get(), ZSTD_d_windowLogMax, 23);  // 8 MiB
#else
        throw std::invalid_argument("leash: this build does not decode zstd (built without LEASH_HAS_ZSTD)");
#endif
    }

    // A zlib header (RFC 1950): compression method 8, a window of at most 32 KiB, and a
    // check of the two bytes.
    static bool is_zlib_header(unsigned char cmf, unsigned char flg) noexcept
    {
        return (cmf & 0x0f) == 8 && (cmf >> 4) <= 7 && (cmf * 256 + flg) % 31 == 0;
    }

    // deflate: keeps the first byte until the second one tells a zlib stream from raw deflate
    // data, then hands the kept byte to zlib. Returns how much of `in` it took.
    std::size_t choose_deflate_format(std::string_view in, std::error_code& ec)
    {
        std::size_t taken = 0;
        if (!first_byte_ && !in.empty()) {
            first_byte_ = in.front();
            taken = 1;
            ++coded_;
        }
        if (in.size() == taken)
            return taken;
        const auto cmf = static_cast<unsigned char>(*first_byte_);
        if (!is_zlib_header(cmf, static_cast<unsigned char>(in[taken])))
            inflateReset2(zlib_.get(), -MAX_WBITS);
        deflate_format_known_ = true;
        // One byte of either format completes no output and no stream: zlib takes it whole.
        const codec_step r = run_zlib(std::string_view(&*first_byte_, 1), nullptr, 0);
        if (r.ec || r.consumed != 1)
            ec = error::decoding_failed;
        return taken;
    }

    // Decodes one slice of at most slice_bytes from in[s.consumed...] into out[s.produced...],
    // and checks the limits. Returns false when there is nothing more to do in this call.
    bool decode_slice(std::string_view in, char* out, std::size_t out_size, step& s)
    {
        const std::string_view rest = in.substr(s.consumed);
        if (ended_) {
            if (rest.empty())
                return false;
            s.ec = continue_after_end(static_cast<unsigned char>(rest.front()));
            return !s.ec;
        }
        // At max_decoded_bytes, one byte of output is asked for but kept: if it comes, the
        // body is too large.
        const std::uint64_t left = limits_.max_decoded_bytes - decoded_;
        const bool at_limit = left == 0;
        char probe = 0;
        const std::size_t n = at_limit
            ? 1
            : static_cast<std::size_t>(std::min<std::uint64_t>({out_size - s.produced, slice_bytes, left}));
        const codec_step r = run_codec(rest, at_limit ? &probe : out + s.produced, n);
        s.consumed += r.consumed;
        coded_ += r.consumed;
        ended_ = r.ended;
        if (r.ec || (at_limit && r.produced > 0)) {
            s.ec = r.ec ? r.ec : make_error_code(error::body_too_large);
            return false;
        }
        s.produced += r.produced;
        decoded_ += r.produced;
        if (ratio_exceeded()) {
            s.ec = error::decompression_ratio_exceeded;
            return false;
        }
        if (r.ended)
            return true;
        // Room left in the output means all input was consumed, but for input beyond what
        // one call into the codec takes.
        return r.produced == n || (r.consumed > 0 && s.consumed < in.size());
    }

    bool ratio_exceeded() const noexcept
    {
        if (decoded_ <= limits_.ratio_grace_bytes)
            return false;
        if (coded_ != 0 && limits_.max_ratio > std::numeric_limits<std::uint64_t>::max() / coded_)
            return false;  // the bound is beyond any count
        return decoded_ > limits_.max_ratio * coded_;
    }

    // `next` follows the end of the coded stream: the start of a further gzip member (0x1f)
    // or zstd frame (magic number 0xFD2FB528 or a skippable frame's 0x184D2A5?, little-endian)
    // continues it; anything else is invalid.
    std::error_code continue_after_end(unsigned char next)
    {
        if (coding_ == content_coding::gzip && next == 0x1f) {
            inflateReset(zlib_.get());
            ended_ = false;
            return {};
        }
        if (coding_ == content_coding::zstd && (next == 0x28 || (next & 0xf0) == 0x50)) {
            ended_ = false;
            return {};
        }
        return error::decoding_failed;
    }

    codec_step run_codec(std::string_view in, char* out, std::size_t n)
    {
        switch (coding_) {
        case content_coding::gzip:
        case content_coding::deflate:
            return run_zlib(in, out, n);
        case content_coding::br:
            return run_brotli(in, out, n);
        case content_coding::zstd:
            return run_zstd(in, out, n);
        }
        return {};
    }

    // n: at most slice_bytes (fits zlib's 32-bit counts).
    codec_step run_zlib(std::string_view in, char* out, std::size_t n)
    {
        z_stream& z = *zlib_;
        const auto in_n = static_cast<uInt>(std::min<std::size_t>(in.size(), std::numeric_limits<uInt>::max()));
        char scratch = 0;  // (zlib refuses a null output pointer, even for no room)
        z.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(in.data()));
        z.avail_in = in_n;
        z.next_out = reinterpret_cast<Bytef*>(out ? out : &scratch);
        z.avail_out = static_cast<uInt>(n);
        const int rc = inflate(&z, Z_NO_FLUSH);
        codec_step r{in_n - z.avail_in, n - z.avail_out, rc == Z_STREAM_END, {}};
        if (rc == Z_MEM_ERROR)
            throw std::bad_alloc();
        if (rc != Z_OK && rc != Z_STREAM_END && rc != Z_BUF_ERROR)
            r.ec = error::decoding_failed;  // Z_DATA_ERROR, or Z_NEED_DICT (HTTP has no dictionaries)
        return r;
    }

    codec_step run_brotli([[maybe_unused]] std::string_view in, [[maybe_unused]] char* out,
                          [[maybe_unused]] std::size_t n)
    {
#if defined(LEASH_HAS_BROTLI) && LEASH_HAS_BROTLI
        std::size_t in_left = in.size();
        auto next_in = reinterpret_cast<const std::uint8_t*>(in.data());
        std::size_t out_left = n;
        auto next_out = reinterpret_cast<std::uint8_t*>(out);
        const auto rc = BrotliDecoderDecompressStream(brotli_.get(), &in_left, &next_in, &out_left, &next_out, nullptr);
        codec_step r{in.size() - in_left, n - out_left, rc == BROTLI_DECODER_RESULT_SUCCESS, {}};
        if (rc == BROTLI_DECODER_RESULT_ERROR) {
            const int code = BrotliDecoderGetErrorCode(brotli_.get());
            if (code <= BROTLI_DECODER_ERROR_ALLOC_CONTEXT_MODES && code >= BROTLI_DECODER_ERROR_ALLOC_BLOCK_TYPE_TREES)
                throw std::bad_alloc();
            r.ec = error::decoding_failed;
        }
        return r;
#else
        return {0, 0, false, make_error_code(error::decoding_failed)};
#endif
    }

    codec_step run_zstd([[maybe_unused]] std::string_view in, [[maybe_unused]] char* out,
                        [[maybe_unused]] std::size_t n)
    {
#if defined(LEASH_HAS_ZSTD) && LEASH_HAS_ZSTD
        ZSTD_inBuffer zin{in.data(), in.size(), 0};
        ZSTD_outBuffer zout{out, n, 0};
        const std::size_t rc = ZSTD_decompressStream(zstd_.get(), &zout, &zin);
        if (ZSTD_isError(rc)) {
            if (ZSTD_getErrorCode(rc) == ZSTD_error_memory_allocation)
                throw std::bad_alloc();
            return {zin.pos, zout.pos, false, make_error_code(error::decoding_failed)};
        }
        return {zin.pos, zout.pos, rc == 0, {}};  // 0: a frame ended, its output all handed out
#else
        return {0, 0, false, make_error_code(error::decoding_failed)};
#endif
    }

    content_coding coding_;
    decode_limits limits_;
    std::unique_ptr<z_stream, zlib_closer> zlib_;
#if defined(LEASH_HAS_BROTLI) && LEASH_HAS_BROTLI
    std::unique_ptr<BrotliDecoderState, brotli_closer> brotli_;
#endif
#if defined(LEASH_HAS_ZSTD) && LEASH_HAS_ZSTD
    std::unique_ptr<ZSTD_DCtx, zstd_closer> zstd_;
#endif
    std::optional<char> first_byte_;     // deflate: the first byte, until the second arrives
    bool deflate_format_known_ = false;  // deflate: zlib or raw was chosen
    bool ended_ = false;                 // the coded stream ended (so far: gzip and zstd may go on)
    std::uint64_t coded_ = 0;
    std::uint64_t decoded_ = 0;
    std::error_code failed_;
};

} // namespace leash::detail
