#include "common/file_read.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <optional>
#include <system_error>

namespace mpa {
namespace {

std::optional<FileProblem> mode_problem(const struct stat& st, FileModeCheck check) {
  using Kind = FileProblem::Kind;
  const unsigned mode = st.st_mode & 07777;
  if (check == FileModeCheck::not_writable_by_others && (mode & S_IWOTH) != 0) {
    return FileProblem{Kind::writable_by_others, 0, 0, mode};
  }
  if (check == FileModeCheck::only_we_may_change) {
    if ((mode & (S_IWGRP | S_IWOTH)) != 0) return FileProblem{Kind::writable_by_others, 0, 0, mode};
    if (st.st_uid != 0 && st.st_uid != ::geteuid()) {
      return FileProblem{Kind::owned_by_another_user, 0, 0, mode, static_cast<unsigned>(st.st_uid)};
    }
  }
  if (check == FileModeCheck::owner_only && (mode & (S_IRWXG | S_IRWXO)) != 0) {
    return FileProblem{Kind::readable_by_others, 0, 0, mode};
  }
  return std::nullopt;
}

// Reads up to max_bytes + 1 bytes: one past the limit tells a file that
// grew since fstat from one that fits exactly.
template <class Bytes>
FileRead<Bytes> read_bounded(const std::string& path, const FileLimits& limits) {
  auto opened = open_regular_file(path, limits);
  if (!opened) return opened.problem();
  const int fd = opened.bytes().get();
  struct stat st {};
  if (::fstat(fd, &st) == 0 && static_cast<std::uint64_t>(st.st_size) > limits.max_bytes) {
    return FileProblem{FileProblem::Kind::too_large, 0, static_cast<std::uint64_t>(st.st_size), 0};
  }
  Bytes bytes;
  bytes.resize(limits.max_bytes + 1);
  std::size_t used = 0;
  while (used < bytes.size()) {
    const ssize_t n = ::read(fd, bytes.data() + used, bytes.size() - used);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return FileProblem{FileProblem::Kind::cannot_read, errno, 0, 0};
    if (n == 0) break;
    used += static_cast<std::size_t>(n);
  }
  if (used > limits.max_bytes) return FileProblem{FileProblem::Kind::too_large, 0, used, 0};
  bytes.resize(used);
  return bytes;
}

}  // namespace

FileRead<UniqueFd> open_regular_file(const std::string& path, const FileLimits& limits) {
  const int flags = O_RDONLY | O_CLOEXEC | O_NONBLOCK | (limits.follow_symlinks ? 0 : O_NOFOLLOW);
  UniqueFd fd(::open(path.c_str(), flags));
  if (!fd.valid()) return FileProblem{FileProblem::Kind::cannot_open, errno, 0, 0};
  struct stat st {};
  if (::fstat(fd.get(), &st) != 0 || !S_ISREG(st.st_mode)) {
    return FileProblem{FileProblem::Kind::not_regular_file, 0, 0, 0};
  }
  if (auto problem = mode_problem(st, limits.mode_check)) return *problem;
  return fd;
}

FileRead<std::string> read_file(const std::string& path, const FileLimits& limits) {
  return read_bounded<std::string>(path, limits);
}

FileRead<SecretBytes> read_secret_file(const std::string& path, const FileLimits& limits) {
  return read_bounded<SecretBytes>(path, limits);
}

std::string mode_text(unsigned mode) {
  char text[8];
  std::snprintf(text, sizeof text, "%04o", mode & 07777);
  return text;
}

}  // namespace mpa
