// A translation unit that includes Asio before any standard library header (see
// asio_config_test.cpp).
#include <asio/detail/config.hpp>

namespace leash::test {

bool asio_uses_aligned_alloc_when_included_first()
{
#if defined(ASIO_HAS_STD_ALIGNED_ALLOC)
    return true;
#else
    return false;
#endif
}

} // namespace leash::test
