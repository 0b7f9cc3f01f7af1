// Base64 (RFC 4648 section 4: the standard alphabet, "=" padding, no line breaks), for the
// value of a Basic credential. Encoding only. Without I/O.
#pragma once

#include <cstddef>
#include <string>
#include <string_view>

namespace leash::detail {

inline std::string base64_encode(std::string_view bytes)
{
    static constexpr char alphabet[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    std::string out;
    out.reserve((bytes.size() + 2) / 3 * 4);
    std::size_t i = 0;
    for (; i + 3 <= bytes.size(); i += 3) {  // each 3 bytes are 4 digits of 6 bits
        const unsigned group = static_cast<unsigned char>(bytes[i]) << 16
            | static_cast<unsigned char>(bytes[i + 1]) << 8 | static_cast<unsigned char>(bytes[i + 2]);
        for (int shift = 18; shift >= 0; shift -= 6)
            out += alphabet[(group >> shift) & 0x3f];
    }
    const std::size_t rest = bytes.size() - i;  // 0, 1 or 2 bytes: 0, 2 or 3 digits, then "="
    if (rest == 0)
        return out;
    unsigned group = static_cast<unsigned char>(bytes[i]) << 16;
    if (rest == 2)
        group |= static_cast<unsigned char>(bytes[i + 1]) << 8;
    out += alphabet[(group >> 18) & 0x3f];
    out += alphabet[(group >> 12) & 0x3f];
    out += rest == 2 ? alphabet[(group >> 6) & 0x3f] : '=';
    out += '=';
    return out;
}

} // namespace leash::detail
