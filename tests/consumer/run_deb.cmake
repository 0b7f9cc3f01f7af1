# cmake -P script behind the `consumer.deb` test (see consumer_test.cmake): builds the Debian
# package libleash-dev with cpack (CPackConfig.cmake of LEASH_BINARY_DIR), unpacks it with
# `dpkg-deb -x` into a directory (nothing is installed on the system), and then does what
# `consumer.find_package` does with that tree's usr/ as the prefix.

include(${CMAKE_CURRENT_LIST_DIR}/steps.cmake)
require_vars(LEASH_BINARY_DIR DEB_DIR CPACK DPKG_DEB)

file(REMOVE_RECURSE "${DEB_DIR}")
set(cpack_args --config "${LEASH_BINARY_DIR}/CPackConfig.cmake" -G DEB -B "${DEB_DIR}/package")
if(CONSUMER_CONFIG)
  list(APPEND cpack_args -C "${CONSUMER_CONFIG}")
endif()
string(REPLACE ";" " " shown "${cpack_args}")
message(STATUS "deb package: ${CPACK} ${shown}")
execute_process(COMMAND "${CPACK}" ${cpack_args} WORKING_DIRECTORY "${LEASH_BINARY_DIR}"
  RESULT_VARIABLE result TIMEOUT 240)
if(NOT result EQUAL 0)
  message(FATAL_ERROR "cpack failed: ${result}")
endif()
file(GLOB debs "${DEB_DIR}/package/libleash-dev_*.deb")
list(LENGTH debs count)
if(NOT count EQUAL 1)
  message(FATAL_ERROR "cpack made ${count} libleash-dev packages in ${DEB_DIR}/package: ${debs}")
endif()
run_step(extract "${DPKG_DEB}" -x "${debs}" "${DEB_DIR}/root")
execute_process(COMMAND "${DPKG_DEB}" --field "${debs}" Package Version Depends TIMEOUT 60)

set(LEASH_PREFIX "${DEB_DIR}/root/usr")
include("${CMAKE_CURRENT_LIST_DIR}/run_find_package.cmake")
