// The version macros: one version, in agreement with the CMake project's, and in the default
// User-Agent.
#include <leash/transport_options.hpp>
#include <leash/version.hpp>

#include <catch2/catch.hpp>

#include <string>

TEST_CASE("version: the macros agree with each other and with the CMake project version")
{
    const std::string parts = std::to_string(LEASH_VERSION_MAJOR) + "." + std::to_string(LEASH_VERSION_MINOR) + "." +
                              std::to_string(LEASH_VERSION_PATCH);
    CHECK(parts == LEASH_VERSION_STRING);
    CHECK(std::string(LEASH_VERSION_STRING) == LEASH_TEST_PROJECT_VERSION);
}

TEST_CASE("version: the default User-Agent is leash/ and the version")
{
    CHECK(leash::transport_options{}.user_agent == std::string("leash/") + LEASH_VERSION_STRING);
}
