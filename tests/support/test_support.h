// What the unit tests share: checks on a message's words, a printer for
// ErrorCode, the source tree, reading a file back and a temporary directory.
// Bring the helpers in by name (`using mpa::test::contains;`) so that a
// reader sees where they come from.
#pragma once

#include <stdlib.h>

#include <boost/test/unit_test.hpp>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <ostream>
#include <string>
#include <system_error>

#include "common/result.h"

namespace mpa {

// Lets BOOST_TEST, and messages streamed into it, print an ErrorCode by its
// wire spelling instead of a number. In namespace mpa for lookup by argument.
inline std::ostream& operator<<(std::ostream& out, ErrorCode code) { return out << to_string(code); }

}  // namespace mpa

namespace mpa::test {

inline bool contains(const std::string& text, const std::string& part) {
  return text.find(part) != std::string::npos;
}

// The message of a failed result, empty for a success: for the text of a
// failing check, or for checks on the message's words.
template <class T>
std::string why(const Result<T>& result) {
  return result.ok() ? std::string() : result.error().message;
}

// The source tree, for the scripts and fixtures in it: ctest sets
// MPA_SOURCE_DIR for every test.
inline std::string source_dir() {
  const char* source = std::getenv("MPA_SOURCE_DIR");
  BOOST_TEST_REQUIRE(source != nullptr, "MPA_SOURCE_DIR is not set (run through ctest)");
  return source;
}

// The whole content of the file at `path`; empty when it cannot be read.
inline std::string read_text(const std::filesystem::path& path) {
  std::ifstream in(path, std::ios::binary);
  return std::string(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
}

// A fresh directory under /tmp (short enough for a Unix socket's path),
// removed with all it holds when this goes.
class TempDir {
 public:
  explicit TempDir(const std::string& prefix = "mpa-test") {
    std::string pattern = "/tmp/" + prefix + "-XXXXXX";
    BOOST_TEST_REQUIRE(::mkdtemp(pattern.data()) != nullptr, "mkdtemp " << pattern);
    path = pattern;
  }
  ~TempDir() {
    std::error_code ignored;
    std::filesystem::remove_all(path, ignored);
  }
  TempDir(const TempDir&) = delete;  // owns the directory
  TempDir& operator=(const TempDir&) = delete;

  // Writes `text` to the file `name` in the directory; returns its path.
  std::filesystem::path write(const std::string& name, const std::string& text) const {
    const std::filesystem::path file = path / name;
    std::ofstream(file, std::ios::binary) << text;
    return file;
  }

  std::filesystem::path path;
};

}  // namespace mpa::test
