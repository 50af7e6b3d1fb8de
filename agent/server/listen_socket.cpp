#include "agent/server/listen_socket.h"

#include <fcntl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <systemd/sd-daemon.h>
#include <unistd.h>

#include <algorithm>

#include <cerrno>
#include <cstdio>
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
// A directory the agent creates for its socket; for a group socket
// (socket_mode "0660") the group may pass through, never write.
constexpr mode_t kSocketDirMode = 0700;
constexpr mode_t kGroupSocketDirMode = 0750;

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

mode_t directory_mode_for(std::uint32_t socket_mode) {
  return (socket_mode & 0060) != 0 ? kGroupSocketDirMode : kSocketDirMode;
}

std::string octal(mode_t mode) {
  char text[8];
  std::snprintf(text, sizeof text, "%04o", static_cast<unsigned>(mode & 07777));
  return text;
}

// A directory the agent makes must stay where it made it: in a parent that
// others may write to without the sticky bit, they could rename it away and
// put their own in its place.
Status check_parent_keeps_our_directory(const std::string& path, const std::string& dir) {
  const std::string parent = parent_of(dir);
  struct stat st{};
  // A parent that cannot be read is mkdir's to report, in its words.
  if (::stat(parent.c_str(), &st) != 0) return {};
  if ((st.st_mode & (S_IWGRP | S_IWOTH)) != 0 && (st.st_mode & S_ISVTX) == 0) {
    return config_error(path, "directory " + parent + " is writable by others and not sticky (mode " +
                                  octal(st.st_mode) + "), who could swap " + dir +
                                  " for their own; use a private directory");
  }
  return {};
}

// The socket's directory: created if missing (0700, or 0750 for a group
// socket: its members must pass through to the socket); an existing one is
// used as it is unless someone but its owner may write to it (even sticky,
// as /tmp: another user could have made the socket's name there first, and
// a client cannot tell our socket from theirs) or it belongs to another
// user. Sets `made` when the directory is ours.
Status prepare_directory(const std::string& path, std::uint32_t socket_mode, bool& made) {
  const std::string dir = parent_of(path);
  struct stat st{};
  if (::stat(dir.c_str(), &st) != 0) {
    if (errno != ENOENT) return config_error(path, "cannot use directory " + dir + ": " + errno_text(errno));
    MPA_RETURN_IF_ERROR(check_parent_keeps_our_directory(path, dir));
    const mode_t mode = directory_mode_for(socket_mode);
    if (::mkdir(dir.c_str(), mode) != 0) {
      return config_error(path, "cannot create directory " + dir + ": " + errno_text(errno));
    }
    // The process umask (0077) would take the group's search bit away.
    if (::chmod(dir.c_str(), mode) != 0) {
      return config_error(path, "cannot set the mode of " + dir + ": " + errno_text(errno));
    }
    made = true;
    log::info("created directory " + dir + " (mode " + octal(mode) + ")");
    return {};
  }
  if (!S_ISDIR(st.st_mode)) return config_error(path, dir + " is not a directory");
  if ((st.st_mode & (S_IWGRP | S_IWOTH)) != 0) {
    return config_error(path, "directory " + dir + " is writable by others (mode " + octal(st.st_mode) +
                                  "), who could put their own socket in the agent's place; "
                                  "use a directory only the agent's user may write to, "
                                  "e.g. /run/maskinporten-agent");
  }
  if (st.st_uid != ::geteuid() && st.st_uid != 0) {
    return config_error(path, "directory " + dir + " belongs to another user (uid " +
                                  std::to_string(st.st_uid) + ")");
  }
  return {};
}

// A directory the agent made for a group socket carries the socket's group,
// so that the group's members can reach the socket through it.
Status give_directory_the_socket_group(const std::string& path, gid_t socket_gid) {
  const std::string dir = parent_of(path);
  struct stat st{};
  if (::stat(dir.c_str(), &st) != 0) return config_error(path, "stat " + dir + ": " + errno_text(errno));
  if (st.st_gid == socket_gid) return {};
  if (::chown(dir.c_str(), static_cast<uid_t>(-1), socket_gid) != 0) {
    return config_error(path, "cannot give " + dir + " the socket's group (gid " +
                                  std::to_string(socket_gid) + "): " + errno_text(errno));
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
  bool made_directory = false;
  if (auto dir = prepare_directory(path, mode, made_directory); !dir) return dir.error();
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
  if (made_directory && (mode & 0060) != 0) {
    MPA_RETURN_IF_ERROR(give_directory_the_socket_group(path, st.st_gid));
  }
  if (::listen(made.fd(), kListenBacklog) != 0) {
    return config_error(path, "listen: " + errno_text(errno));
  }
  return made;
}

int ListeningSocket::systemd_fd_count() { return std::max(0, ::sd_listen_fds(0)); }

Result<std::optional<ListeningSocket>> ListeningSocket::from_systemd() {
  // 1: children do not inherit LISTEN_*; sd_listen_fds also makes the
  // passed descriptors close-on-exec.
  const int count = ::sd_listen_fds(1);
  if (count < 0) {
    return make_error(ErrorCode::invalid_config, "sd_listen_fds: " + errno_text(-count));
  }
  if (count == 0) return std::optional<ListeningSocket>();
  if (count != 1) {
    return make_error(ErrorCode::invalid_config,
                      "systemd passed " + std::to_string(count) +
                          " sockets; the agent listens on exactly one (one ListenStream=)");
  }
  const int fd = SD_LISTEN_FDS_START;
  if (::sd_is_socket_unix(fd, SOCK_STREAM, 1, nullptr, 0) <= 0) {
    return make_error(ErrorCode::invalid_config,
                      "the socket systemd passed is not a listening Unix stream socket "
                      "(the .socket unit needs ListenStream=/path)");
  }
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
