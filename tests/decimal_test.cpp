// Decimal numbers in protocol text: digits only, bounded by the type.
#include <leash/detail/decimal.hpp>

#include <catch2/catch.hpp>

#include <cstdint>

using leash::detail::decimal_parse;
using leash::detail::parse_decimal_digits;

TEST_CASE("decimal: a string of digits is read whole")
{
    long value = -1;
    CHECK(parse_decimal_digits("0", value) == decimal_parse::ok);
    CHECK(value == 0);
    CHECK(parse_decimal_digits("00120", value) == decimal_parse::ok);
    CHECK(value == 120);
}

TEST_CASE("decimal: a sign, a space, an empty string or any other byte is not a number")
{
    long value = 7;
    for (const char* text : {"", "-1", "+1", " 1", "1 ", "1a", "0x10", "1.5", "\xd9\xa1"})
        CHECK(parse_decimal_digits(text, value) == decimal_parse::not_digits);
    CHECK(value == 7);  // left alone
}

TEST_CASE("decimal: digits beyond the type's range are too large, not malformed")
{
    std::uint16_t port = 9;
    CHECK(parse_decimal_digits("65535", port) == decimal_parse::ok);
    CHECK(port == 65535);
    CHECK(parse_decimal_digits("65536", port) == decimal_parse::too_large);
    CHECK(parse_decimal_digits("99999999999999999999999", port) == decimal_parse::too_large);
    CHECK(parse_decimal_digits("99999999999999999999999x", port) == decimal_parse::not_digits);
    CHECK(port == 65535);
}

TEST_CASE("decimal: leading_digits is the run of digits a text starts with")
{
    CHECK(leash::detail::leading_digits("120.5s") == "120");
    CHECK(leash::detail::leading_digits("7") == "7");
    CHECK(leash::detail::leading_digits("-1").empty());
    CHECK(leash::detail::leading_digits("").empty());
}
