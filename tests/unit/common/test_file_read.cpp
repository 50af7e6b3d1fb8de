#include <sys/stat.h>
#include <unistd.h>

#include <boost/test/unit_test.hpp>
#include <cerrno>
#include <filesystem>
#include <fstream>
#include <string>

#include "support/test_support.h"
#include "common/file_read.h"

using namespace mpa;
namespace fs = std::filesystem;

namespace {

// A fresh directory whose files get the mode a case asks for (0600 unless told).
struct ModeDir : mpa::test::TempDir {
  std::string write(const std::string& name, const std::string& text, unsigned mode = 0600) const {
    const fs::path file = TempDir::write(name, text);
    fs::permissions(file, static_cast<fs::perms>(mode));
    return file.string();
  }
};

using Kind = FileProblem::Kind;

}  // namespace

BOOST_AUTO_TEST_SUITE(FileReader)

BOOST_AUTO_TEST_CASE(ReadsAFileWithinTheLimit) {
  ModeDir dir;
  auto read = read_file(dir.write("a", "hello"), {5});
  BOOST_TEST_REQUIRE(read.ok());
  BOOST_TEST(read.bytes() == "hello");
}

BOOST_AUTO_TEST_CASE(RefusesAFileOverTheLimitWithItsSize) {
  ModeDir dir;
  auto read = read_file(dir.write("a", "hello!"), {5});
  BOOST_TEST_REQUIRE(!read.ok());
  BOOST_TEST(static_cast<int>(read.problem().kind) == static_cast<int>(Kind::too_large));
  BOOST_TEST(read.problem().size == 6u);
}

BOOST_AUTO_TEST_CASE(MissingFileIsCannotOpenWithErrno) {
  ModeDir dir;
  auto read = read_file((dir.path / "none").string(), {64});
  BOOST_TEST_REQUIRE(!read.ok());
  BOOST_TEST(static_cast<int>(read.problem().kind) == static_cast<int>(Kind::cannot_open));
  BOOST_TEST(read.problem().error_number == ENOENT);
  BOOST_TEST(errno_text(ENOENT) == "No such file or directory");
}

BOOST_AUTO_TEST_CASE(DirectoryIsNotARegularFile) {
  ModeDir dir;
  auto read = read_file(dir.path.string(), {64});
  BOOST_TEST_REQUIRE(!read.ok());
  BOOST_TEST(static_cast<int>(read.problem().kind) == static_cast<int>(Kind::not_regular_file));
}

BOOST_AUTO_TEST_CASE(FifoIsRefusedWithoutHanging) {
  ModeDir dir;
  const std::string fifo = (dir.path / "fifo").string();
  BOOST_TEST_REQUIRE(::mkfifo(fifo.c_str(), 0600) == 0);
  auto read = read_file(fifo, {64});
  BOOST_TEST_REQUIRE(!read.ok());
  BOOST_TEST(static_cast<int>(read.problem().kind) == static_cast<int>(Kind::not_regular_file));
}

BOOST_AUTO_TEST_CASE(SymlinkIsRefusedUnlessFollowed) {
  ModeDir dir;
  const std::string target = dir.write("target", "x");
  const fs::path link = dir.path / "link";
  fs::create_symlink(target, link);
  auto refused = read_file(link.string(), {64});
  BOOST_TEST_REQUIRE(!refused.ok());
  BOOST_TEST(refused.problem().error_number == ELOOP);
  auto followed = read_file(link.string(), {64, FileModeCheck::none, true});
  BOOST_TEST_REQUIRE(followed.ok());
  BOOST_TEST(followed.bytes() == "x");
}

BOOST_AUTO_TEST_CASE(OwnerOnlyRefusesGroupReadableWithTheMode) {
  ModeDir dir;
  auto read = read_secret_file(dir.write("pin", "1234", 0640), {64, FileModeCheck::owner_only});
  BOOST_TEST_REQUIRE(!read.ok());
  BOOST_TEST(static_cast<int>(read.problem().kind) == static_cast<int>(Kind::readable_by_others));
  BOOST_TEST(mode_text(read.problem().mode) == "0640");
}

BOOST_AUTO_TEST_CASE(OwnerOnlyReadsASecret) {
  ModeDir dir;
  auto read = read_secret_file(dir.write("pin", "1234\n", 0400), {64, FileModeCheck::owner_only});
  BOOST_TEST_REQUIRE(read.ok());
  BOOST_TEST(std::string(view(read.bytes())) == "1234\n");
}

BOOST_AUTO_TEST_CASE(NotWritableByOthersRefusesWorldWritable) {
  ModeDir dir;
  auto read = read_file(dir.write("c", "x", 0646), {64, FileModeCheck::not_writable_by_others});
  BOOST_TEST_REQUIRE(!read.ok());
  BOOST_TEST(static_cast<int>(read.problem().kind) == static_cast<int>(Kind::writable_by_others));
  BOOST_TEST(
      read_file(dir.write("d", "x", 0644), {64, FileModeCheck::not_writable_by_others}).ok());
}

BOOST_AUTO_TEST_SUITE_END()
