#include <boost/test/unit_test.hpp>

#include <sys/stat.h>
#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <chrono>
#include <sstream>
#include <string>

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

using mpa::test::contains;
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

// Each record costs a slow hash at every login: a file with more records
// than the agent writes is refused, in words naming it, before any hash
// (the helper must be up within its start deadline).
BOOST_AUTO_TEST_CASE(AFileWithMoreRecordsThanTheAgentWritesIsRefusedAtOnce) {
  TempDir dir;
  const RefusedPins pins(dir.path.string());
  const std::string record = "pbkdf2-sha256 " + std::string(32, 'a') + " " + std::string(64, 'b') + "\n";
  {
    std::ofstream out(pins.record_path("s"));
    for (int i = 0; i < 65; ++i) out << record;
  }
  const auto start = std::chrono::steady_clock::now();
  const Status checked = pins.check("s", "T", secret_of("1"));
  const auto took = std::chrono::steady_clock::now() - start;
  BOOST_REQUIRE(!checked.ok());
  BOOST_TEST((checked.error().code == ErrorCode::hsm_error));
  BOOST_TEST(contains(checked.error().message, "the refused-PIN records " + pins.record_path("s") +
                                                   " hold more than 64 records: not a file the agent wrote"),
             checked.error().message);
  BOOST_TEST(took < std::chrono::seconds(1), "no slow hash before the refusal");
}

BOOST_AUTO_TEST_CASE(SixtyFourRecordsAreRead) {
  TempDir dir;
  const RefusedPins pins(dir.path.string());
  {
    std::ofstream out(pins.record_path("s"));
    for (int i = 0; i < 63; ++i) out << "not-a-record\n";
  }
  BOOST_REQUIRE(pins.record("s", secret_of("1")).ok());
  BOOST_TEST(!pins.check("s", "T", secret_of("1")).ok(), "the 64th record counts");
  const Status more = pins.record("s", secret_of("2"));
  BOOST_REQUIRE(!more.ok(), "no 65th record is written");
  BOOST_TEST(contains(more.error().message, pins.record_path("s")), more.error().message);
  BOOST_TEST(!pins.check("s", "T", secret_of("1")).ok(), "the file stays readable");
}

// A line without a newline is not read whole before it is judged.
BOOST_AUTO_TEST_CASE(ALongLineIsRefusedNamingTheFile) {
  TempDir dir;
  const RefusedPins pins(dir.path.string());
  std::ofstream(pins.record_path("s")) << std::string(300, 'x') << "\n";
  const Status line = pins.check("s", "T", secret_of("1"));
  BOOST_REQUIRE(!line.ok());
  BOOST_TEST(contains(line.error().message, pins.record_path("s") +
                                                " have a line longer than 256 bytes"),
             line.error().message);
  std::ofstream(pins.record_path("t")) << std::string(8 * 1024 * 1024, 'x');
  const Status huge = pins.check("t", "T", secret_of("1"));
  BOOST_REQUIRE(!huge.ok());
  BOOST_TEST(contains(huge.error().message, "the refused-PIN records " + pins.record_path("t")),
             huge.error().message);
}

