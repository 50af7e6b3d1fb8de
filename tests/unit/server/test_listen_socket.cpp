#include <boost/test/unit_test.hpp>

#include <fcntl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <cstring>
#include <filesystem>
#include <fstream>
#include <string>

#include "agent/server/listen_socket.h"
#include "unit/server/server_test_helpers.h"

using namespace mpa;
using namespace mpa::test;
namespace fs = std::filesystem;

BOOST_AUTO_TEST_SUITE(ListeningSocketFile)

// Each case's own fresh directory, as `dir`.
struct TempDir {
  mpa::test::TempDir temp{"mpa-server-test"};
  fs::path dir = temp.path;
};

// A socket file with nobody behind it, as a killed agent leaves.
void make_stale_socket(const std::string& path) {
  const int fd = ::socket(AF_UNIX, SOCK_STREAM, 0);
  sockaddr_un address{};
  address.sun_family = AF_UNIX;
  std::strncpy(address.sun_path, path.c_str(), sizeof address.sun_path - 1);
  BOOST_TEST_REQUIRE(::bind(fd, reinterpret_cast<sockaddr*>(&address), sizeof address) == 0);
  ::close(fd);
}

BOOST_FIXTURE_TEST_CASE(CreatesMissingDirectory0700AndSocket0600, TempDir) {
  const std::string path = (dir / "run" / "agent.sock").string();
  auto bound = ListeningSocket::bind_path(path, 0600);
  BOOST_TEST_REQUIRE(bound.ok(), why(bound));
  struct stat st{};
  BOOST_TEST_REQUIRE(::stat((dir / "run").c_str(), &st) == 0);
  BOOST_TEST((st.st_mode & 07777) == 0700u);
  BOOST_TEST_REQUIRE(::lstat(path.c_str(), &st) == 0);
  BOOST_TEST(S_ISSOCK(st.st_mode));
  BOOST_TEST((st.st_mode & 07777) == 0600u);
}

BOOST_FIXTURE_TEST_CASE(AppliesGroupSocketMode, TempDir) {
  const std::string path = (dir / "agent.sock").string();
  auto bound = ListeningSocket::bind_path(path, 0660);
  BOOST_TEST_REQUIRE(bound.ok(), why(bound));
  struct stat st{};
  BOOST_TEST_REQUIRE(::lstat(path.c_str(), &st) == 0);
  BOOST_TEST((st.st_mode & 07777) == 0660u);
}

BOOST_FIXTURE_TEST_CASE(GroupSocketGetsADirectory0750WithTheSocketsGroup, TempDir) {
  const fs::path run = dir / "run";
  const std::string path = (run / "agent.sock").string();
  const mode_t saved_umask = ::umask(0077);  // the daemon's
  auto bound = ListeningSocket::bind_path(path, 0660);
  ::umask(saved_umask);
  BOOST_TEST_REQUIRE(bound.ok(), why(bound));
  struct stat directory{};
  struct stat socket{};
  BOOST_TEST_REQUIRE(::stat(run.c_str(), &directory) == 0);
  BOOST_TEST_REQUIRE(::lstat(path.c_str(), &socket) == 0);
  BOOST_TEST((directory.st_mode & 07777) == 0750u);
  BOOST_TEST(directory.st_gid == socket.st_gid);
  BOOST_TEST((socket.st_mode & 07777) == 0660u);
}

BOOST_FIXTURE_TEST_CASE(RefusesStickyDirectoryOthersMayWriteTo, TempDir) {
  const fs::path shared_dir = dir / "tmp";
  fs::create_directory(shared_dir);
  ::chmod(shared_dir.c_str(), 01777);  // as /tmp
  auto bound = ListeningSocket::bind_path((shared_dir / "agent.sock").string(), 0600);
  BOOST_TEST_REQUIRE(!bound.ok());
  BOOST_TEST(contains(bound.error().message, "is writable by others (mode 1777)"), bound.error().message);
  BOOST_TEST(!fs::exists(fs::symlink_status(shared_dir / "agent.sock")));
}

BOOST_FIXTURE_TEST_CASE(MakesItsDirectoryInAStickyParentButNotInAnOpenOne, TempDir) {
  const fs::path sticky = dir / "sticky";
  const fs::path open = dir / "open";
  fs::create_directory(sticky);
  fs::create_directory(open);
  ::chmod(sticky.c_str(), 01777);
  ::chmod(open.c_str(), 0777);
  auto in_sticky = ListeningSocket::bind_path((sticky / "mpa" / "agent.sock").string(), 0600);
  BOOST_TEST(in_sticky.ok(), why(in_sticky));
  auto in_open = ListeningSocket::bind_path((open / "mpa" / "agent.sock").string(), 0600);
  BOOST_TEST_REQUIRE(!in_open.ok());
  BOOST_TEST(contains(in_open.error().message, "is writable by others and not sticky (mode 0777)"),
             in_open.error().message);
  BOOST_TEST(!fs::exists(open / "mpa"));
}

BOOST_FIXTURE_TEST_CASE(RefusesGroupWritableDirectory, TempDir) {
  const fs::path group_dir = dir / "group";
  fs::create_directory(group_dir);
  ::chmod(group_dir.c_str(), 0770);
  auto bound = ListeningSocket::bind_path((group_dir / "agent.sock").string(), 0600);
  BOOST_TEST_REQUIRE(!bound.ok());
  BOOST_TEST(contains(bound.error().message, "is writable by others (mode 0770)"), bound.error().message);
}

BOOST_FIXTURE_TEST_CASE(ReplacesStaleSocket, TempDir) {
  const std::string path = (dir / "agent.sock").string();
  make_stale_socket(path);
  auto bound = ListeningSocket::bind_path(path, 0600);
  BOOST_TEST(bound.ok(), why(bound));
}

BOOST_FIXTURE_TEST_CASE(DoesNotStealLiveAgentsSocket, TempDir) {
  const std::string path = (dir / "agent.sock").string();
  auto first = ListeningSocket::bind_path(path, 0600);
  BOOST_TEST_REQUIRE(first.ok(), why(first));
  auto second = ListeningSocket::bind_path(path, 0600);
  BOOST_TEST_REQUIRE(!second.ok());
  BOOST_TEST(second.error().message == "another agent is already listening on " + path);
  struct stat st{};
  BOOST_TEST(::lstat(path.c_str(), &st) == 0);
}

BOOST_FIXTURE_TEST_CASE(DoesNotRemoveNonSocketFile, TempDir) {
  const std::string path = (dir / "agent.sock").string();
  std::ofstream(path) << "precious";
  auto bound = ListeningSocket::bind_path(path, 0600);
  BOOST_TEST_REQUIRE(!bound.ok());
  BOOST_TEST(contains(bound.error().message, "is not a socket"));
  std::ifstream in(path);
  std::string text;
  in >> text;
  BOOST_TEST(text == "precious");
}

BOOST_FIXTURE_TEST_CASE(RefusesDirectoryWritableByOthers, TempDir) {
  const fs::path open_dir = dir / "open";
  fs::create_directory(open_dir);
  ::chmod(open_dir.c_str(), 0777);
  auto bound = ListeningSocket::bind_path((open_dir / "agent.sock").string(), 0600);
  BOOST_TEST_REQUIRE(!bound.ok());
  BOOST_TEST(contains(bound.error().message, "writable by others"));
}

BOOST_FIXTURE_TEST_CASE(RefusesRelativeAndOverlongPaths, TempDir) {
  BOOST_TEST(!ListeningSocket::bind_path("agent.sock", 0600).ok());
  auto long_path = ListeningSocket::bind_path("/tmp/" + std::string(200, 'a'), 0600);
  BOOST_TEST_REQUIRE(!long_path.ok());
  BOOST_TEST(contains(long_path.error().message, "longer than 107 bytes"));
}

BOOST_FIXTURE_TEST_CASE(RemovesItsOwnSocketFileOnClose, TempDir) {
  const std::string path = (dir / "agent.sock").string();
  {
    auto bound = ListeningSocket::bind_path(path, 0600);
    BOOST_TEST_REQUIRE(bound.ok(), why(bound));
  }
  BOOST_TEST(!fs::exists(fs::symlink_status(path)));
}

BOOST_FIXTURE_TEST_CASE(LeavesANewerSocketAtTheSamePathAlone, TempDir) {
  const std::string path = (dir / "agent.sock").string();
  auto bound = ListeningSocket::bind_path(path, 0600);
  BOOST_TEST_REQUIRE(bound.ok(), why(bound));
  ::unlink(path.c_str());
  make_stale_socket(path);  // somebody else's file now
  bound->remove_file();
  BOOST_TEST(fs::exists(fs::symlink_status(path)));
}

BOOST_AUTO_TEST_CASE(NotSocketActivatedWithoutListenPid) {
  ::unsetenv("LISTEN_PID");
  ::setenv("LISTEN_FDS", "1", 1);
  auto activated = ListeningSocket::from_systemd();
  BOOST_TEST_REQUIRE(activated.ok());
  BOOST_TEST(!activated->has_value());
  ::unsetenv("LISTEN_FDS");
}

BOOST_AUTO_TEST_CASE(RefusesActivationWithTwoSockets) {
  // Two passed descriptors, 3 and 4, open as systemd would leave them.
  std::vector<int> opened;
  for (int fd = 3; fd <= 4; ++fd) {
    if (::fcntl(fd, F_GETFD) != -1) continue;
    const int null = ::open("/dev/null", O_RDONLY);
    if (null != fd) {
      ::dup2(null, fd);
      ::close(null);
    }
    opened.push_back(fd);
  }
  ::setenv("LISTEN_PID", std::to_string(::getpid()).c_str(), 1);
  ::setenv("LISTEN_FDS", "2", 1);
  auto activated = ListeningSocket::from_systemd();
  for (const int fd : opened) ::close(fd);
  BOOST_TEST_REQUIRE(!activated.ok());
  BOOST_TEST(contains(activated.error().message, "exactly one"));
  BOOST_TEST(std::getenv("LISTEN_PID") == nullptr);
}

BOOST_AUTO_TEST_CASE(RefusesActivatedDescriptorThatIsNotAListeningUnixSocket) {
  // fd 3 as a plain pipe end stands in for a wrong ListenStream=.
  const int saved = ::dup(3);
  int pipe_fds[2];
  BOOST_TEST_REQUIRE(::pipe(pipe_fds) == 0);
  if (pipe_fds[0] != 3) ::dup2(pipe_fds[0], 3);
  ::setenv("LISTEN_PID", std::to_string(::getpid()).c_str(), 1);
  ::setenv("LISTEN_FDS", "1", 1);
  auto activated = ListeningSocket::from_systemd();
  if (saved >= 0) {
    ::dup2(saved, 3);
    ::close(saved);
  } else {
    ::close(3);
  }
  if (pipe_fds[0] != 3) ::close(pipe_fds[0]);
  ::close(pipe_fds[1]);
  BOOST_TEST_REQUIRE(!activated.ok());
  BOOST_TEST(contains(activated.error().message, "not a listening Unix stream socket"));
}

BOOST_AUTO_TEST_CASE(AcceptsActivatedListeningUnixSocket) {
  const fs::path dir = make_temp_dir();
  const std::string path = (dir / "agent.sock").string();
  const int saved = ::dup(3);
  const int fd = ::socket(AF_UNIX, SOCK_STREAM, 0);
  sockaddr_un address{};
  address.sun_family = AF_UNIX;
  std::strncpy(address.sun_path, path.c_str(), sizeof address.sun_path - 1);
  BOOST_TEST_REQUIRE(::bind(fd, reinterpret_cast<sockaddr*>(&address), sizeof address) == 0);
  BOOST_TEST_REQUIRE(::listen(fd, 4) == 0);
  if (fd != 3) {
    ::dup2(fd, 3);
    ::close(fd);
  }
  ::setenv("LISTEN_PID", std::to_string(::getpid()).c_str(), 1);
  ::setenv("LISTEN_FDS", "1", 1);
  {
    auto activated = ListeningSocket::from_systemd();
    BOOST_TEST_REQUIRE(activated.ok(), why(activated));
    BOOST_TEST_REQUIRE(activated->has_value());
    BOOST_TEST((*activated)->path() == path);
    BOOST_TEST((*activated)->activated());
  }
  // Not ours to remove: systemd made it.
  BOOST_TEST(fs::exists(fs::symlink_status(path)));
  if (saved >= 0) {
    ::dup2(saved, 3);
    ::close(saved);
  }
  std::error_code ignored;
  fs::remove_all(dir, ignored);
}

BOOST_AUTO_TEST_SUITE_END()
