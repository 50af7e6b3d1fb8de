// Small helpers shared by the socket server's tests.
#pragma once

#include <stdlib.h>

#include <boost/test/unit_test.hpp>
#include <filesystem>
#include <string>

#include "support/test_support.h"
#include "common/result.h"

namespace mpa::test {

inline std::filesystem::path make_temp_dir() {
  char tmpl[] = "/tmp/mpa-server-test-XXXXXX";
  BOOST_TEST_REQUIRE(::mkdtemp(tmpl) != nullptr);
  return tmpl;
}

}  // namespace mpa::test
