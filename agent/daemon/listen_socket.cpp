#include "agent/daemon/listen_socket.h"

#include <fcntl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>

#include "common/log.h"
#include "common/text.h"

namespace mpa {
namespace {

// The kernel's limit on a socket path, without the terminating NUL.
constexpr std::size_t kMaxSocketPathBytes = sizeof(sockaddr_un::sun_path) - 1;
// Connections the kernel queues before accept(); the server drains them fast.
constexpr int kListenBacklog = SOMAXCONN;
// The socket file is created with no permission beyond the owner's
// read/write; `socket_mode` is applied after bind.
constexpr mode_t kBindUmask = 0177;
// A directory the agent creates for its socket.
constexpr mode_t kSocketDirMode = 0700;

Error config_error(const std::string& path, const std::string& what) {
  return make_error(ErrorCode::invalid_config, "socket " + path + ": " + what);
}

Result<sockaddr_un> socket_address(const std::string& path) {
  if (path.empty()) return config_error(path, "the path is empty");
  if (path.front() != '/') return config_error(path, "the path must be absolute");
  if (path.size() > kMaxSocketPathBytes) {
    return config_error(path, "the path is longer than " + std::to_string(kMaxSocketPathBytes) +
                                  " bytes, the limit of a Unix socket address");
  }
  sockaddr_un address{};
  address.sun_family = AF_UNIX;
  std::memcpy(address.sun_path, path.data(), path.size());
  return address;
}

std::string parent_of(const std::string& path) {
  const std::size_t slash = path.rfind('/');
  return slash == 0 ? "/" : path.substr(0, slash);
}

// The socket's directory: created private if missing; an existing one is
// used as it is, unless others could swap the socket file under us.
Status prepare_directory(const std::string& path) {
  const std::string dir = parent_of(path);
  struct stat st{};
  if (::stat(dir.c_str(), &st) != 0) {
    if (errno != ENOENT) return config_error(path, "cannot use directory " + dir + ": " + errno_text(errno));
    if (::mkdir(dir.c_str(), kSocketDirMode) != 0) {
      return config_error(path, "cannot create directory " + dir + ": " + errno_text(errno));
    }
    log::info("created directory " + dir + " (mode 0700)");
    return {};
  }
  if (!S_ISDIR(st.st_mode)) return config_error(path, dir + " is not a directory");
  const bool others_may_write = (st.st_mode & (S_IWGRP | S_IWOTH)) != 0;
  if (others_may_write && (st.st_mode & S_ISVTX) == 0) {
    return config_error(path, "directory " + dir +
                                  " is writable by others and not sticky; use a private directory");
  }
  if (st.st_uid != ::geteuid() && st.st_uid != 0) {
    return config_error(path, "directory " + dir + " belongs to another user (uid " +
                                  std::to_string(st.st_uid) + ")");
  }
  return {};
}

// Whether an agent answers on the socket file at `path`.
Result<bool> someone_listens(const sockaddr_un& address, const std::string& path) {
  UniqueFd probe(::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0));
  if (probe.get() < 0) return make_error(ErrorCode::internal, "socket(): " + errno_text(errno));
  if (::connect(probe.get(), reinterpret_cast<const sockaddr*>(&address), sizeof address) == 0) {
    return true;
  }
  if (errno == ECONNREFUSED) return false;
  return config_error(path, "cannot tell whether an agent listens there: " + errno_text(errno));
}

// A leftover socket file from an agent that died is replaced; a live
// agent's socket and anything that is not a socket are never touched.
Status clear_stale_socket(const sockaddr_un& address, const std::string& path) {
  struct stat st{};
  if (::lstat(path.c_str(), &st) != 0) {
    if (errno == ENOENT) return {};
    return config_error(path, errno_text(errno));
  }
  if (!S_ISSOCK(st.st_mode)) {
    return config_error(path, "the path exists and is not a socket; not removing it");
  }
  auto live = someone_listens(address, path);
  if (!live) return live.error();
  if (*live) {
    return make_error(ErrorCode::invalid_config, "another agent is already listening on " + path);
  }
  if (::unlink(path.c_str()) != 0 && errno != ENOENT) {
    return config_error(path, "cannot remove the stale socket: " + errno_text(errno));
  }
  log::info("removed stale socket " + path);
  return {};
}

Status bind_private(int fd, const sockaddr_un& address, const std::string& path) {
  const mode_t old_umask = ::umask(kBindUmask);
  const int rc = ::bind(fd, reinterpret_cast<const sockaddr*>(&address), sizeof address);
  const int bind_errno = errno;
  ::umask(old_umask);
  if (rc != 0) {
    if (bind_errno == EADDRINUSE) {
      return make_error(ErrorCode::invalid_config, "another agent is already listening on " + path);
    }
    return config_error(path, "bind: " + errno_text(bind_errno));
  }
  return {};
}

std::optional<long> env_number(const char* name) {
  const char* text = std::getenv(name);
  if (text == nullptr || *text == '\0') return std::nullopt;
  char* end = nullptr;
  errno = 0;
  const long value = std::strtol(text, &end, 10);
  if (errno != 0 || *end != '\0') return std::nullopt;
  return value;
}

int socket_option(int fd, int option) {
  int value = -1;
  socklen_t length = sizeof value;
  if (::getsockopt(fd, SOL_SOCKET, option, &value, &length) != 0) return -1;
  return value;
}

std::string bound_path(int fd) {
  sockaddr_un address{};
  socklen_t length = sizeof address;
  if (::getsockname(fd, reinterpret_cast<sockaddr*>(&address), &length) != 0) return {};
  if (length <= offsetof(sockaddr_un, sun_path) || address.sun_path[0] == '\0') return {};
  return std::string(address.sun_path, ::strnlen(address.sun_path, sizeof address.sun_path));
}

}  // namespace

Result<ListeningSocket> ListeningSocket::bind_path(const std::string& path, std::uint32_t mode) {
  auto address = socket_address(path);
  if (!address) return address.error();
  if (auto dir = prepare_directory(path); !dir) return dir.error();
  if (auto stale = clear_stale_socket(*address, path); !stale) return stale.error();

  UniqueFd fd(::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0));
  if (fd.get() < 0) return make_error(ErrorCode::internal, "socket(): " + errno_text(errno));
  if (auto bound = bind_private(fd.get(), *address, path); !bound) return bound.error();

  struct stat st{};
  if (::lstat(path.c_str(), &st) != 0) {
    const int saved = errno;
    ::unlink(path.c_str());
    return config_error(path, "the socket vanished after bind: " + errno_text(saved));
  }
  // From here on the destructor removes the file on every failure.
  ListeningSocket made(std::move(fd), path, false, st.st_dev, st.st_ino);
  if (::chmod(path.c_str(), static_cast<mode_t>(mode)) != 0) {
    return config_error(path, "chmod: " + errno_text(errno));
  }
  if (::listen(made.fd(), kListenBacklog) != 0) {
    return config_error(path, "listen: " + errno_text(errno));
  }
  return made;
}

int ListeningSocket::systemd_fd_count() {
  const auto pid = env_number("LISTEN_PID");
  const auto count = env_number("LISTEN_FDS");
  if (!pid || *pid != static_cast<long>(::getpid()) || !count) return 0;
  return static_cast<int>(*count);
}

Result<std::optional<ListeningSocket>> ListeningSocket::from_systemd() {
  const auto pid = env_number("LISTEN_PID");
  const auto count = env_number("LISTEN_FDS");
  if (!pid || *pid != static_cast<long>(::getpid())) return std::optional<ListeningSocket>();
  ::unsetenv("LISTEN_PID");
  ::unsetenv("LISTEN_FDS");
  ::unsetenv("LISTEN_FDNAMES");
  if (!count || *count == 0) return std::optional<ListeningSocket>();
  if (*count != 1) {
    return make_error(ErrorCode::invalid_config,
                      "systemd passed " + std::to_string(*count) +
                          " sockets; the agent listens on exactly one (one ListenStream=)");
  }
  const int fd = kSystemdFirstListenFd;
  struct stat st{};
  if (::fstat(fd, &st) != 0 || !S_ISSOCK(st.st_mode) || socket_option(fd, SO_DOMAIN) != AF_UNIX ||
      socket_option(fd, SO_TYPE) != SOCK_STREAM || socket_option(fd, SO_ACCEPTCONN) != 1) {
    return make_error(ErrorCode::invalid_config,
                      "the socket systemd passed is not a listening Unix stream socket "
                      "(the .socket unit needs ListenStream=/path)");
  }
  ::fcntl(fd, F_SETFD, FD_CLOEXEC);
  return std::optional<ListeningSocket>(ListeningSocket(UniqueFd(fd), bound_path(fd), true, 0, 0));
}

ListeningSocket::ListeningSocket(ListeningSocket&& other) noexcept
    : fd_(std::move(other.fd_)),
      path_(std::move(other.path_)),
      activated_(other.activated_),
      file_owned_(std::exchange(other.file_owned_, false)),
      dev_(other.dev_),
      ino_(other.ino_) {}

ListeningSocket& ListeningSocket::operator=(ListeningSocket&& other) noexcept {
  if (this != &other) {
    remove_file();
    fd_ = std::move(other.fd_);
    path_ = std::move(other.path_);
    activated_ = other.activated_;
    file_owned_ = std::exchange(other.file_owned_, false);
    dev_ = other.dev_;
    ino_ = other.ino_;
  }
  return *this;
}

ListeningSocket::~ListeningSocket() {
  remove_file();
}

int ListeningSocket::release_fd() { return fd_.release(); }

void ListeningSocket::remove_file() noexcept {
  if (!file_owned_) return;
  file_owned_ = false;
  struct stat st{};
  if (::lstat(path_.c_str(), &st) != 0) return;
  if (!S_ISSOCK(st.st_mode) || st.st_dev != dev_ || st.st_ino != ino_) return;
  ::unlink(path_.c_str());
}

}  // namespace mpa
