// Small helpers shared by the socket server's tests.
#pragma once

#include <stdlib.h>

#include <boost/test/unit_test.hpp>
#include <filesystem>
#include <string>

#include "common/result.h"

namespace mpa::test {

// The message of a failed result, for test output.
template <class T>
std::string why(const Result<T>& r) {
  return r.ok() ? std::string() : r.error().message;
}

inline bool contains(const std::string& text, const std::string& part) {
  return text.find(part) != std::string::npos;
}

inline std::filesystem::path make_temp_dir() {
  char tmpl[] = "/tmp/mpa-server-test-XXXXXX";
  BOOST_TEST_REQUIRE(::mkdtemp(tmpl) != nullptr);
  return tmpl;
}

}  // namespace mpa::test
