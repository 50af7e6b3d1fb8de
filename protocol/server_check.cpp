#include "protocol/server_check.h"

#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <filesystem>

#include "common/text.h"

namespace mpa::protocol {
namespace {

namespace fs = std::filesystem;

Error refusal(const std::string& socket_path, const std::string& why) {
  return make_error(ErrorCode::unavailable, "refusing the socket " + socket_path + ": " + why);
}

std::string mode_text(mode_t mode) {
  char text[8];
  std::snprintf(text, sizeof text, "%04o", static_cast<unsigned>(mode & 07777));
  return text;
}

bool others_may_write(const struct stat& info) { return (info.st_mode & (S_IWGRP | S_IWOTH)) != 0; }

std::string who(uid_t uid, uid_t caller) {
  return "uid " + std::to_string(uid) + (uid == caller ? " (you)" : "");
}

// The socket path with every symbolic link resolved, as connect() saw it.
Result<fs::path> resolved(const std::string& socket_path) {
  std::error_code error;
  fs::path real = fs::canonical(socket_path, error);
  if (error) return refusal(socket_path, "cannot resolve its path: " + errno_text(error.value()));
  return real;
}

Result<struct stat> status_of(const std::string& socket_path, const fs::path& directory, bool follow) {
  struct stat info {};
  if ((follow ? ::stat(directory.c_str(), &info) : ::lstat(directory.c_str(), &info)) != 0) {
    return refusal(socket_path, "cannot check " + directory.string() + " on its path: " + errno_text(errno));
  }
  return info;
}

bool trusted_owner(uid_t owner, uid_t caller, uid_t socket_directory_owner) {
  return owner == 0 || owner == caller || owner == socket_directory_owner;
}

// A directory (or a symbolic link) on the way to the socket's directory:
// others may write to a directory only if it is sticky, so that what is
// ours in it cannot be renamed or replaced; and its owner could replace
// what is below it, so it is someone the caller trusts as the agent.
Status check_on_the_way(const std::string& socket_path, const fs::path& step, bool follow, uid_t caller,
                        uid_t socket_directory_owner) {
  MPA_ASSIGN_OR_RETURN(const struct stat info, status_of(socket_path, step, follow));
  if (S_ISDIR(info.st_mode) && others_may_write(info) && (info.st_mode & S_ISVTX) == 0) {
    return refusal(socket_path, step.string() + " on its path is writable by others (mode " +
                                    mode_text(info.st_mode) +
                                    ") and not sticky, so another user could replace what is below it");
  }
  if (!trusted_owner(info.st_uid, caller, socket_directory_owner)) {
    return refusal(socket_path, step.string() + " on its path belongs to " + who(info.st_uid, caller) +
                                    ", neither root, you, nor the owner of the socket's directory");
  }
  return {};
}

// Every step from `directory` up to /. `follow` false checks a symbolic
// link itself (the path as given), true the directory it leads to.
Status check_the_way_up(const std::string& socket_path, fs::path directory, bool follow, uid_t caller,
                        uid_t socket_directory_owner) {
  for (;; directory = directory.parent_path()) {
    MPA_RETURN_IF_ERROR(check_on_the_way(socket_path, directory, follow, caller, socket_directory_owner));
    if (directory == directory.root_path() || directory.empty()) return {};
  }
}

}  // namespace

Result<uid_t> trusted_socket_directory_owner(const std::string& socket_path, uid_t caller) {
  MPA_ASSIGN_OR_RETURN(const fs::path real, resolved(socket_path));
  const fs::path directory = real.parent_path();
  MPA_ASSIGN_OR_RETURN(const struct stat info, status_of(socket_path, directory, true));
  if (others_may_write(info)) {
    return refusal(socket_path, "its directory " + directory.string() + " is writable by others (mode " +
                                    mode_text(info.st_mode) +
                                    "), so anyone could have put a socket there; keep the agent's socket in "
                                    "a directory only its owner may write to (the agent's default under "
                                    "$XDG_RUNTIME_DIR or /run/maskinporten-agent is)");
  }
  const uid_t owner = info.st_uid;
  MPA_RETURN_IF_ERROR(check_the_way_up(socket_path, directory.parent_path(), true, caller, owner));
  const fs::path as_given = fs::absolute(fs::path(socket_path)).lexically_normal().parent_path();
  if (as_given != directory) MPA_RETURN_IF_ERROR(check_the_way_up(socket_path, as_given, false, caller, owner));
  return owner;
}

Status check_server_uid(const std::string& socket_path, uid_t server, uid_t caller, uid_t directory_owner) {
  if (server == 0 || server == caller || server == directory_owner) return {};
  return make_error(ErrorCode::unavailable,
                    "refusing the agent on " + socket_path + ": it runs as " + who(server, caller) +
                        ", which is neither root, you (uid " + std::to_string(caller) +
                        "), nor the owner of the socket's directory (uid " + std::to_string(directory_owner) +
                        "); another user may be posing as the agent");
}

Status check_agent_socket(int connected_fd, const std::string& socket_path) {
  const uid_t caller = ::geteuid();
  MPA_ASSIGN_OR_RETURN(const uid_t directory_owner, trusted_socket_directory_owner(socket_path, caller));
  struct ucred peer {};
  socklen_t length = sizeof peer;
  if (::getsockopt(connected_fd, SOL_SOCKET, SO_PEERCRED, &peer, &length) != 0) {
    return refusal(socket_path, "cannot learn who serves it (SO_PEERCRED): " + errno_text(errno));
  }
  return check_server_uid(socket_path, peer.uid, caller, directory_owner);
}

}  // namespace mpa::protocol
