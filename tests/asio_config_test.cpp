// Every translation unit that uses leash configures Asio alike, whatever it includes first:
// otherwise Asio's inline allocation functions differ between units (aligned_alloc and free
// in one, operator new and delete in another) and memory is freed the wrong way.
#include <string>

#include <asio/detail/config.hpp>
#include <catch2/catch.hpp>

namespace leash::test {
bool asio_uses_aligned_alloc_when_included_first();
}

TEST_CASE("asio configuration: aligned allocation is decided alike whether Asio or the standard library comes first")
{
#if defined(ASIO_HAS_STD_ALIGNED_ALLOC)
    const bool here = true;
#else
    const bool here = false;
#endif
    CHECK(here == leash::test::asio_uses_aligned_alloc_when_included_first());
}
