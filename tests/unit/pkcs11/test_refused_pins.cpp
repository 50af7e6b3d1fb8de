#include <boost/test/unit_test.hpp>

#include <sys/stat.h>
#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "support/test_support.h"
#include "pkcs11/refused_pins.h"

using namespace mpa;
using namespace mpa::pkcs11;
namespace fs = std::filesystem;

namespace {

// The agent reads PINs from a file or the environment only; a test has its
// PIN in hand.
SecretBytes secret_of(std::string_view text) { return SecretBytes(text.begin(), text.end()); }

}  // namespace

using mpa::test::read_text;
using mpa::test::TempDir;

BOOST_AUTO_TEST_CASE(ARecordedPinIsRefusedForThatTokenOnly) {
  TempDir dir;
  const RefusedPins pins((dir.path / "state").string());
  BOOST_TEST(pins.check("serial-1", "T", secret_of("1234")).ok());
  BOOST_REQUIRE(pins.record("serial-1", secret_of("1234")).ok());
  const Status again = pins.check("serial-1", "T", secret_of("1234"));
  BOOST_REQUIRE(!again.ok());
  BOOST_TEST((again.error().code == ErrorCode::hsm_error));
  BOOST_TEST(again.error().message.find("it refused this PIN before (recorded in " +
                                        pins.record_path("serial-1") + ")") != std::string::npos,
             again.error().message);
  BOOST_TEST(again.error().message.find("delete that file") != std::string::npos);
  BOOST_TEST(pins.check("serial-1", "T", secret_of("5678")).ok(), "another PIN is tried");
  BOOST_TEST(pins.check("serial-2", "T", secret_of("1234")).ok(), "another token is tried");
}

BOOST_AUTO_TEST_CASE(TheRecordHoldsNoPinAndIsPrivate) {
  TempDir dir;
  const RefusedPins pins((dir.path / "state").string());
  BOOST_REQUIRE(pins.record("s", secret_of("98765432")).ok());
  const std::string path = pins.record_path("s");
  BOOST_TEST(read_text(path).find("98765432") == std::string::npos);
  struct stat st {};
  BOOST_REQUIRE(::stat(path.c_str(), &st) == 0);
  BOOST_TEST((st.st_mode & 0777) == 0600u);
  BOOST_REQUIRE(::stat((dir.path / "state").c_str(), &st) == 0);
  BOOST_TEST((st.st_mode & 0777) == 0700u);
}

BOOST_AUTO_TEST_CASE(DeletingTheRecordClearsIt) {
  TempDir dir;
  const RefusedPins pins(dir.path.string());
  BOOST_REQUIRE(pins.record("s", secret_of("1")).ok());
  BOOST_TEST(!pins.check("s", "T", secret_of("1")).ok());
  fs::remove(pins.record_path("s"));
  BOOST_TEST(pins.check("s", "T", secret_of("1")).ok());
}

BOOST_AUTO_TEST_CASE(GarbageInTheRecordIsIgnoredNotTrusted) {
  TempDir dir;
  const RefusedPins pins(dir.path.string());
  std::ofstream(pins.record_path("s")) << "nonsense\npbkdf2-sha256 zz 11\n";
  BOOST_TEST(pins.check("s", "T", secret_of("1")).ok());
}

BOOST_AUTO_TEST_CASE(NoStateDirMeansNoRecords) {
  const RefusedPins pins("");
  BOOST_TEST(pins.record("s", secret_of("1")).ok());
  BOOST_TEST(pins.check("s", "T", secret_of("1")).ok());
}
