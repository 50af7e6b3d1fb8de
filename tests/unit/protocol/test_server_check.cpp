#include <boost/test/unit_test.hpp>

#include <sys/stat.h>
#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <ostream>
#include <string>

#include "support/test_support.h"
#include "support/fake_agent.h"
#include "protocol/client.h"
#include "protocol/server_check.h"

using namespace mpa;
using namespace mpa::protocol;
namespace fs = std::filesystem;
using mpa::test::FakeAgent;
using mpa::test::TempDir;
using mpa::test::contains;
using mpa::test::why;

namespace {

constexpr uid_t kSomeoneElse = 4242;
constexpr uid_t kThirdUser = 4343;

// A directory under `dir` with `mode` (set after mkdir, so umask does not
// change it).
fs::path directory_with_mode(const fs::path& parent, const std::string& name, mode_t mode) {
  const fs::path path = parent / name;
  fs::create_directory(path);
  BOOST_TEST_REQUIRE(::chmod(path.c_str(), mode) == 0);
  return path;
}

// A file standing for the socket: the checks look at the directories only.
std::string socket_in(const fs::path& directory) {
  const fs::path path = directory / "agent.sock";
  std::ofstream(path) << "";
  return path.string();
}

}  // namespace

BOOST_AUTO_TEST_SUITE(SocketDirectory)

BOOST_AUTO_TEST_CASE(PrivateDirectoryIsTrustedAndItsOwnerReturned) {
  TempDir dir;
  auto owner = trusted_socket_directory_owner(socket_in(dir.path), ::geteuid());
  BOOST_TEST_REQUIRE(owner.ok(), why(owner));
  BOOST_TEST(*owner == ::geteuid());
}

BOOST_AUTO_TEST_CASE(DirectoryWritableByOthersIsRefusedWithItsMode) {
  TempDir dir;
  const std::string socket = socket_in(directory_with_mode(dir.path, "open", 0777));
  const auto result = trusted_socket_directory_owner(socket, ::geteuid());
  BOOST_TEST_REQUIRE(!result.ok());
  BOOST_TEST(result.error().code == ErrorCode::unavailable);
  BOOST_TEST(contains(why(result), "refusing the socket " + socket + ": its directory " +
                                       (dir.path / "open").string() + " is writable by others (mode 0777)"));
}

BOOST_AUTO_TEST_CASE(StickyDirectoryLikeTmpIsStillRefusedForTheSocketItself) {
  TempDir dir;
  const std::string socket = socket_in(directory_with_mode(dir.path, "tmp", 01777));
  BOOST_TEST(contains(why(trusted_socket_directory_owner(socket, ::geteuid())), "(mode 1777)"));
}

BOOST_AUTO_TEST_CASE(GroupWritableDirectoryIsRefused) {
  TempDir dir;
  const std::string socket = socket_in(directory_with_mode(dir.path, "group", 0770));
  BOOST_TEST(contains(why(trusted_socket_directory_owner(socket, ::geteuid())), "writable by others (mode 0770)"));
}

BOOST_AUTO_TEST_CASE(GroupReadableDirectoryForSocketModeGroupAccessIsTrusted) {
  TempDir dir;
  const std::string socket = socket_in(directory_with_mode(dir.path, "shared", 0750));
  BOOST_TEST(trusted_socket_directory_owner(socket, ::geteuid()).ok());
}

BOOST_AUTO_TEST_CASE(WritableDirectoryAboveThatIsNotStickyIsRefused) {
  TempDir dir;
  const fs::path open = directory_with_mode(dir.path, "open", 0777);
  const std::string socket = socket_in(directory_with_mode(open, "private", 0700));
  BOOST_TEST(contains(why(trusted_socket_directory_owner(socket, ::geteuid())),
                      open.string() + " on its path is writable by others (mode 0777) and not sticky"));
}

BOOST_AUTO_TEST_CASE(StickyDirectoryAboveIsTrusted) {
  TempDir dir;
  const fs::path sticky = directory_with_mode(dir.path, "sticky", 01777);
  const std::string socket = socket_in(directory_with_mode(sticky, "private", 0700));
  BOOST_TEST(trusted_socket_directory_owner(socket, ::geteuid()).ok());
}

BOOST_AUTO_TEST_CASE(SymbolicLinkIsFollowedToTheDirectoryItLeadsTo) {
  TempDir dir;
  const fs::path open = directory_with_mode(dir.path, "open", 0777);
  fs::create_directory_symlink(open, dir.path / "link");
  socket_in(open);
  BOOST_TEST(contains(why(trusted_socket_directory_owner((dir.path / "link" / "agent.sock").string(), ::geteuid())),
                      "its directory " + open.string() + " is writable by others"));
}

BOOST_AUTO_TEST_CASE(DirectoryAboveOwnedByAnotherUserIsRefused) {
  if (::geteuid() != 0) return;  // chown needs root; the integration test covers the rest
  TempDir dir;
  const fs::path theirs = directory_with_mode(dir.path, "theirs", 0755);
  BOOST_TEST_REQUIRE(::chown(theirs.c_str(), kThirdUser, kThirdUser) == 0);
  const std::string socket = socket_in(directory_with_mode(theirs, "mine", 0700));
  BOOST_TEST_REQUIRE(::chown((theirs / "mine").c_str(), kSomeoneElse, kSomeoneElse) == 0);
  BOOST_TEST(contains(why(trusted_socket_directory_owner(socket, kSomeoneElse)),
                      theirs.string() + " on its path belongs to uid 4343, neither root, you, nor the owner"));
}

BOOST_AUTO_TEST_CASE(MissingSocketSaysItCannotBeResolved) {
  TempDir dir;
  BOOST_TEST(contains(why(trusted_socket_directory_owner((dir.path / "none.sock").string(), ::geteuid())),
                      "cannot resolve its path: No such file or directory"));
}

BOOST_AUTO_TEST_SUITE_END()

BOOST_AUTO_TEST_SUITE(ServerUid)

BOOST_AUTO_TEST_CASE(RootTheCallerAndTheDirectoryOwnerAreTrusted) {
  BOOST_TEST(check_server_uid("/s", 0, kSomeoneElse, kThirdUser).ok());
  BOOST_TEST(check_server_uid("/s", kSomeoneElse, kSomeoneElse, kThirdUser).ok());
  BOOST_TEST(check_server_uid("/s", kThirdUser, kSomeoneElse, kThirdUser).ok());
}

BOOST_AUTO_TEST_CASE(AnyoneElseIsRefusedSayingWhoServesAndWhoWasExpected) {
  const Status status = check_server_uid("/run/a.sock", 65534, kSomeoneElse, kThirdUser);
  BOOST_TEST_REQUIRE(!status.ok());
  BOOST_TEST(status.error().code == ErrorCode::unavailable);
  BOOST_TEST(why(status) ==
             "refusing the agent on /run/a.sock: it runs as uid 65534, which is neither root, you (uid 4242), "
             "nor the owner of the socket's directory (uid 4343); another user may be posing as the agent");
}

BOOST_AUTO_TEST_SUITE_END()

BOOST_AUTO_TEST_SUITE(ClientConnect)

BOOST_AUTO_TEST_CASE(ConnectRefusesAnAgentWhoseDirectoryOthersMayWrite) {
  FakeAgent agent({});
  const fs::path directory = fs::path(agent.path()).parent_path();
  BOOST_TEST_REQUIRE(::chmod(directory.c_str(), 0777) == 0);
  auto client = AgentClient::connect(agent.path(), std::chrono::seconds(5));
  BOOST_TEST_REQUIRE(!client.ok());
  BOOST_TEST(contains(why(client), "its directory " + directory.string() + " is writable by others"));
}

BOOST_AUTO_TEST_CASE(ConnectTrustsAnAgentOfThisUserInAPrivateDirectory) {
  FakeAgent agent({});
  auto client = AgentClient::connect(agent.path(), std::chrono::seconds(5));
  BOOST_TEST(client.ok(), why(client));
}

BOOST_AUTO_TEST_SUITE_END()
