#include <boost/test/unit_test.hpp>

#include <sys/stat.h>
#include <openssl/evp.h>
#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <chrono>
#include <sstream>
#include <string>
#include <vector>

#include "support/test_support.h"
#include "pkcs11/refused_pins.h"

using namespace mpa;
using namespace mpa::pkcs11;
namespace fs = std::filesystem;

namespace {

// The agent reads PINs from a file or the environment only; a test has its
// PIN in hand.
SecretBytes secret_of(std::string_view text) { return SecretBytes(text.begin(), text.end()); }

// A token that differs from another only where the test says.
TokenIdentity token_of(std::string serial, std::string label = "T", std::string model = "M") {
  return TokenIdentity{"Manufacturer", std::move(model), std::move(serial), std::move(label)};
}

}  // namespace

using mpa::test::contains;
using mpa::test::read_text;
using mpa::test::TempDir;

BOOST_AUTO_TEST_CASE(ARecordedPinIsRefusedForThatTokenOnly) {
  TempDir dir;
  const RefusedPins pins((dir.path / "state").string());
  BOOST_TEST(pins.check(token_of("serial-1"), secret_of("1234")).ok());
  BOOST_REQUIRE(pins.record(token_of("serial-1"), secret_of("1234")).ok());
  const Status again = pins.check(token_of("serial-1"), secret_of("1234"));
  BOOST_REQUIRE(!again.ok());
  BOOST_TEST((again.error().code == ErrorCode::hsm_error));
  BOOST_TEST(again.error().message.find("it refused this PIN before (recorded in " +
                                        pins.record_path(token_of("serial-1")) + ")") != std::string::npos,
             again.error().message);
  BOOST_TEST(again.error().message.find("delete that file") != std::string::npos);
  BOOST_TEST(pins.check(token_of("serial-1"), secret_of("5678")).ok(), "another PIN is tried");
  BOOST_TEST(pins.check(token_of("serial-2"), secret_of("1234")).ok(), "another token is tried");
}

BOOST_AUTO_TEST_CASE(TheRecordHoldsNoPinAndIsPrivate) {
  TempDir dir;
  const RefusedPins pins((dir.path / "state").string());
  BOOST_REQUIRE(pins.record(token_of("s"), secret_of("98765432")).ok());
  const std::string path = pins.record_path(token_of("s"));
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
  BOOST_REQUIRE(pins.record(token_of("s"), secret_of("1")).ok());
  BOOST_TEST(!pins.check(token_of("s"), secret_of("1")).ok());
  fs::remove(pins.record_path(token_of("s")));
  BOOST_TEST(pins.check(token_of("s"), secret_of("1")).ok());
}

BOOST_AUTO_TEST_CASE(GarbageInTheRecordIsIgnoredNotTrusted) {
  TempDir dir;
  const RefusedPins pins(dir.path.string());
  std::ofstream(pins.record_path(token_of("s"))) << "nonsense\npbkdf2-sha256 zz 11\n";
  BOOST_TEST(pins.check(token_of("s"), secret_of("1")).ok());
}

BOOST_AUTO_TEST_CASE(NoStateDirMeansNoRecords) {
  const RefusedPins pins("");
  BOOST_TEST(pins.record(token_of("s"), secret_of("1")).ok());
  BOOST_TEST(pins.check(token_of("s"), secret_of("1")).ok());
}

// Each record costs a slow hash at every login: a file with more records
// than the agent writes is refused, in words naming it, before any hash
// (the helper must be up within its start deadline).
BOOST_AUTO_TEST_CASE(AFileWithMoreRecordsThanTheAgentWritesIsRefusedAtOnce) {
  TempDir dir;
  const RefusedPins pins(dir.path.string());
  const std::string record = "pbkdf2-sha256 " + std::string(32, 'a') + " " + std::string(64, 'b') + "\n";
  {
    std::ofstream out(pins.record_path(token_of("s")));
    for (int i = 0; i < 65; ++i) out << record;
  }
  const auto start = std::chrono::steady_clock::now();
  const Status checked = pins.check(token_of("s"), secret_of("1"));
  const auto took = std::chrono::steady_clock::now() - start;
  BOOST_REQUIRE(!checked.ok());
  BOOST_TEST((checked.error().code == ErrorCode::hsm_error));
  BOOST_TEST(contains(checked.error().message, "the refused-PIN records " + pins.record_path(token_of("s")) +
                                                   " hold more than 64 records: not a file the agent wrote"),
             checked.error().message);
  BOOST_TEST(took < std::chrono::seconds(1), "no slow hash before the refusal");
}

BOOST_AUTO_TEST_CASE(SixtyFourRecordsAreRead) {
  TempDir dir;
  const RefusedPins pins(dir.path.string());
  {
    std::ofstream out(pins.record_path(token_of("s")));
    for (int i = 0; i < 63; ++i) out << "not-a-record\n";
  }
  BOOST_REQUIRE(pins.record(token_of("s"), secret_of("1")).ok());
  BOOST_TEST(!pins.check(token_of("s"), secret_of("1")).ok(), "the 64th record counts");
  const Status more = pins.record(token_of("s"), secret_of("2"));
  BOOST_REQUIRE_MESSAGE(!more.ok(), "no 65th record is written");
  BOOST_TEST(contains(more.error().message, pins.record_path(token_of("s"))), more.error().message);
  BOOST_TEST(!pins.check(token_of("s"), secret_of("1")).ok(), "the file stays readable");
}

// A line without a newline is not read whole before it is judged.
BOOST_AUTO_TEST_CASE(ALongLineIsRefusedNamingTheFile) {
  TempDir dir;
  const RefusedPins pins(dir.path.string());
  std::ofstream(pins.record_path(token_of("s"))) << std::string(300, 'x') << "\n";
  const Status line = pins.check(token_of("s"), secret_of("1"));
  BOOST_REQUIRE(!line.ok());
  BOOST_TEST(contains(line.error().message, pins.record_path(token_of("s")) +
                                                " have a line longer than 256 bytes"),
             line.error().message);
  std::ofstream(pins.record_path(token_of("t"))) << std::string(8 * 1024 * 1024, 'x');
  const Status huge = pins.check(token_of("t"), secret_of("1"));
  BOOST_REQUIRE(!huge.ok());
  BOOST_TEST(contains(huge.error().message, "the refused-PIN records " + pins.record_path(token_of("t"))),
             huge.error().message);
}

// All of openCryptoki's soft tokens report serial 123: a record names the
// token by manufacturer, model, serial and label together.
BOOST_AUTO_TEST_CASE(TokensWithTheSameSerialAreToldApart) {
  TempDir dir;
  const RefusedPins pins(dir.path.string());
  BOOST_REQUIRE(pins.record(token_of("123", "payroll"), secret_of("1234")).ok());
  BOOST_TEST(!pins.check(token_of("123", "payroll"), secret_of("1234")).ok());
  BOOST_TEST(pins.check(token_of("123", "billing"), secret_of("1234")).ok(), "another label");
  BOOST_TEST(pins.check(token_of("123", "payroll", "other model"), secret_of("1234")).ok(),
             "another model");
  BOOST_TEST(pins.check(TokenIdentity{"Other", "M", "123", "payroll"}, secret_of("1234")).ok(),
             "another manufacturer");
  BOOST_TEST(pins.record_path(token_of("123", "payroll")) != pins.record_path(token_of("123", "billing")));
  // The fields are kept apart: moving text from one into the next is another token.
  BOOST_TEST(pins.record_path(TokenIdentity{"ab", "c", "1", "L"}) !=
             pins.record_path(TokenIdentity{"a", "bc", "1", "L"}));
}

// Records of versions that keyed them by the serial alone are still read.
BOOST_AUTO_TEST_CASE(ARecordKeyedByTheSerialAloneIsStillHonoured) {
  TempDir dir;
  const RefusedPins pins(dir.path.string());
  const std::string legacy = pins.serial_record_path("s");
  BOOST_TEST(legacy == dir.path.string() + "/refused-pin.73");
  // As those versions wrote it: PBKDF2-HMAC-SHA256 over the PIN, with the
  // salt followed by the serial, 200,000 rounds.
  const unsigned char salt[16] = {1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16};
  std::vector<unsigned char> salted(salt, salt + sizeof salt);
  salted.push_back('s');
  unsigned char hash[32];
  BOOST_REQUIRE(PKCS5_PBKDF2_HMAC("1", 1, salted.data(), static_cast<int>(salted.size()), 200'000,
                                  EVP_sha256(), sizeof hash, hash) == 1);
  const auto hex = [](const unsigned char* data, std::size_t n) {
    std::string out;
    for (std::size_t i = 0; i < n; ++i) {
      out += "0123456789abcdef"[data[i] >> 4];
      out += "0123456789abcdef"[data[i] & 0xf];
    }
    return out;
  };
  std::ofstream(legacy) << "pbkdf2-sha256 " << hex(salt, sizeof salt) << " " << hex(hash, sizeof hash) << "\n";
  const Status refused = pins.check(token_of("s"), secret_of("1"));
  BOOST_REQUIRE(!refused.ok());
  BOOST_TEST(contains(refused.error().message, "it refused this PIN before (recorded in " + legacy + ")"),
             refused.error().message);
  BOOST_TEST(pins.check(token_of("s"), secret_of("2")).ok(), "another PIN is tried");
  BOOST_TEST(pins.check(token_of("t"), secret_of("1")).ok(), "another serial is tried");
  std::ofstream(legacy, std::ios::app) << std::string(300, 'x') << "\n";
  const Status bounded = pins.check(token_of("s"), secret_of("2"));
  BOOST_REQUIRE_MESSAGE(!bounded.ok(), "the old file is read bounded too");
  BOOST_TEST(contains(bounded.error().message, legacy), bounded.error().message);
}
