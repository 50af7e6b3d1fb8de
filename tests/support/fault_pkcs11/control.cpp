#include "control.h"

#include <fcntl.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <charconv>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <thread>

namespace mpa_fault {
namespace {

constexpr const char* kCounterLock = ".counters.lock";
constexpr std::chrono::milliseconds kPollInterval{10};

std::string trim(const std::string& text) {
  const char* space = " \t\r\n";
  const auto first = text.find_first_not_of(space);
  if (first == std::string::npos) return "";
  const auto last = text.find_last_not_of(space);
  return text.substr(first, last - first + 1);
}

std::string errno_text() { return std::strerror(errno); }

// write() until everything is written or a real error occurs.
bool write_all(int fd, const std::string& data) {
  std::size_t done = 0;
  while (done < data.size()) {
    const ssize_t n = ::write(fd, data.data() + done, data.size() - done);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return false;
    done += static_cast<std::size_t>(n);
  }
  return true;
}

}  // namespace

void complain(const std::string& message) {
  // One fprintf per message, so that lines from threads do not mix.
  std::fprintf(stderr, "mpa_fault_pkcs11: %s\n", message.c_str());
}

bool ControlDir::has(const char* name) const {
  if (!enabled()) return false;
  struct stat st;
  return ::stat(file(name).c_str(), &st) == 0;
}

std::optional<std::string> ControlDir::read(const char* name) const {
  if (!enabled()) return std::nullopt;
  const int fd = ::open(file(name).c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) {
    if (errno != ENOENT) complain("cannot open " + file(name) + ": " + errno_text());
    return std::nullopt;
  }
  char buf[4096];
  std::string text;
  ssize_t n;
  while (text.size() < sizeof buf && (n = ::read(fd, buf, sizeof buf - text.size())) != 0) {
    if (n < 0) {
      if (errno == EINTR) continue;
      complain("cannot read " + file(name) + ": " + errno_text());
      break;
    }
    text.append(buf, static_cast<std::size_t>(n));
  }
  ::close(fd);
  return trim(text);
}

std::optional<std::string> ControlDir::read_value(const char* name) const {
  auto text = read(name);
  if (text && text->empty()) return std::nullopt;
  return text;
}

void ControlDir::wait_while_present(const char* name) const {
  while (has(name)) std::this_thread::sleep_for(kPollInterval);
}

std::uint64_t ControlDir::read_counter(const char* name) const {
  const auto text = read(name);
  if (!text) return 0;
  std::uint64_t value = 0;
  const auto [end, ec] = std::from_chars(text->data(), text->data() + text->size(), value);
  if (ec != std::errc() || end != text->data() + text->size()) {
    complain("counter " + file(name) + " holds \"" + *text + "\", not a number; restarting at 0");
    return 0;
  }
  return value;
}

void ControlDir::bump(const char* name) const {
  if (!enabled()) return;
  const Lock lock(*this, kCounterLock);
  const std::string value = std::to_string(read_counter(name) + 1) + "\n";
  // The lock makes this process the only writer, so a fixed temporary name
  // cannot collide with another writer's.
  const std::string tmp = file(name) + ".tmp";
  const int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (fd < 0) {
    complain("cannot write " + tmp + ": " + errno_text());
    return;
  }
  const bool written = write_all(fd, value);
  ::close(fd);
  if (!written || ::rename(tmp.c_str(), file(name).c_str()) != 0) {
    complain("cannot update " + file(name) + ": " + errno_text());
    ::unlink(tmp.c_str());
  }
}

void ControlDir::append_line(const char* name, const std::string& line) const {
  if (!enabled()) return;
  const int fd = ::open(file(name).c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
  if (fd < 0) {
    complain("cannot append to " + file(name) + ": " + errno_text());
    return;
  }
  // One write() call: O_APPEND makes "seek to the end and write" atomic, so
  // the whole line lands in one piece (lines are far below any pipe or
  // filesystem limit where a write could be split).
  const std::string data = line + "\n";
  const ssize_t n = ::write(fd, data.data(), data.size());
  if (n != static_cast<ssize_t>(data.size())) {
    complain("cannot append to " + file(name) + ": " + errno_text());
  }
  ::close(fd);
}

ControlDir::Lock::Lock(const ControlDir& dir, const char* name) {
  if (!dir.enabled()) return;
  fd_ = ::open(dir.file(name).c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0644);
  if (fd_ < 0) {
    complain("cannot open lock file " + dir.file(name) + ": " + errno_text());
    return;
  }
  while (::flock(fd_, LOCK_EX) != 0) {
    if (errno == EINTR) continue;
    complain("cannot lock " + dir.file(name) + ": " + errno_text());
    break;
  }
}

ControlDir::Lock::~Lock() {
  if (fd_ >= 0) ::close(fd_);  // closing the only descriptor releases the flock
}

}  // namespace mpa_fault
