#include <leash/headers.hpp>

#include <catch2/catch.hpp>

#include <string_view>
#include <vector>

using leash::headers;

TEST_CASE("headers: lookup is case-insensitive and keeps the spelling")
{
    headers h;
    h.add("Content-Type", "text/plain");
    CHECK(h.get("content-type") == "text/plain");
    CHECK(h.begin()->name == "Content-Type");
    CHECK_FALSE(h.get("Accept"));
}

TEST_CASE("headers: add keeps several values, set replaces them all")
{
    headers h;
    h.add("Accept", "a");
    h.add("accept", "b");
    CHECK(h.get_all("ACCEPT") == std::vector<std::string_view>{"a", "b"});
    h.set("Accept", "c");
    CHECK(h.get_all("accept") == std::vector<std::string_view>{"c"});
    CHECK(h.erase("accept") == 1);
    CHECK(h.empty());
}

TEST_CASE("headers: values are trimmed of surrounding whitespace")
{
    headers h;
    h.add("X", " \t v w \t");
    CHECK(h.get("x") == "v w");
}

TEST_CASE("headers: CR, LF, NUL and control characters in values are refused")
{
    for (std::string value : {std::string("a\r\nX-Evil: 1"), std::string("a\nb"), std::string("a\rb"),
                              std::string("a\0b", 3), std::string("a\x7f"), std::string("\x01")}) {
        headers h;
        std::error_code ec;
        h.add("X", value, ec);
        CHECK(ec == leash::error::invalid_header_value);
        CHECK(h.empty());
        CHECK_THROWS_AS(h.set("X", value), std::system_error);
    }
}

TEST_CASE("headers: names must be tokens")
{
    for (std::string name : {"", "a b", "a:b", "a\r\n", "(x)", "x\"", "\xc3\xa9"}) {
        headers h;
        std::error_code ec;
        h.add(name, "v", ec);
        CHECK(ec == leash::error::invalid_header_name);
        CHECK(h.empty());
    }
    headers h;
    std::error_code ec;
    h.add("X-Custom_Header!#$%&'*+.^`|~", "v", ec);
    CHECK_FALSE(ec);
}

TEST_CASE("headers: has_token finds a token in comma-separated lists")
{
    headers h;
    h.add("Connection", "keep-alive, Close");
    CHECK(h.has_token("connection", "close"));
    CHECK_FALSE(h.has_token("connection", "upgrade"));
}

TEST_CASE("headers: has_token looks in every field of the name")
{
    headers h;
    h.add("Connection", "keep-alive");
    h.add("Accept", "close");
    h.add("Connection", "\tUpgrade ,");
    CHECK(h.has_token("Connection", "upgrade"));
    CHECK_FALSE(h.has_token("Connection", "close"));
}

TEST_CASE("headers: a list field's elements come in order, OWS trimmed, empty elements skipped")
{
    std::vector<std::string_view> elements;
    leash::detail::for_each_list_element(" a ,,\tb;q=1 , ,c", [&](std::string_view e) { elements.push_back(e); });
    CHECK(elements == std::vector<std::string_view>{"a", "b;q=1", "c"});
    elements.clear();
    leash::detail::for_each_list_element(" , ", [&](std::string_view e) { elements.push_back(e); });
    CHECK(elements.empty());
}
