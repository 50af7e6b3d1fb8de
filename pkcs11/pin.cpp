// Reading the PIN: from a file only its owner can read, or from the
// environment. The PIN is never in the configuration itself or in argv.
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>

#include "pkcs11/pkcs11.h"

namespace mpa::pkcs11 {
namespace {

// A PIN file larger than this is not a PIN file.
constexpr std::size_t kMaxPinBytes = 256;

void strip_trailing_newline(SecretBytes& pin) {
  while (!pin.empty() && (pin.back() == '\n' || pin.back() == '\r')) pin.pop_back();
}

std::string mode_text(mode_t mode) {
  char b[8];
  std::snprintf(b, sizeof b, "%04o", static_cast<unsigned>(mode & 07777));
  return b;
}

}  // namespace

Result<SecretBytes> read_pin_file(const std::string& path) {
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
  if (fd < 0) {
    return make_error(ErrorCode::invalid_config,
                      "cannot open pin_file " + path + ": " + std::strerror(errno));
  }
  struct stat st {};
  if (::fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
    ::close(fd);
    return make_error(ErrorCode::invalid_config, "pin_file " + path + " is not a regular file");
  }
  if ((st.st_mode & (S_IRWXG | S_IRWXO)) != 0) {
    ::close(fd);
    return make_error(ErrorCode::invalid_config,
                      "pin_file " + path + " is readable by group or others (mode " +
                          mode_text(st.st_mode) + "); make it 0400 or 0600");
  }
  SecretBytes pin(kMaxPinBytes + 1);
  std::size_t used = 0;
  for (;;) {
    const ssize_t n = ::read(fd, pin.data() + used, pin.size() - used);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) {
      const int saved = errno;
      ::close(fd);
      return make_error(ErrorCode::invalid_config,
                        "cannot read pin_file " + path + ": " + std::strerror(saved));
    }
    if (n == 0) break;
    used += static_cast<std::size_t>(n);
    if (used == pin.size()) break;
  }
  ::close(fd);
  if (used > kMaxPinBytes) {
    return make_error(ErrorCode::invalid_config,
                      "pin_file " + path + " is longer than " + std::to_string(kMaxPinBytes) +
                          " bytes; it should hold only the PIN");
  }
  pin.resize(used);
  strip_trailing_newline(pin);
  if (pin.empty()) {
    return make_error(ErrorCode::invalid_config, "pin_file " + path + " is empty");
  }
  return pin;
}

Result<SecretBytes> read_pin_env(const std::string& name) {
  const char* value = std::getenv(name.c_str());
  if (value == nullptr) {
    return make_error(ErrorCode::invalid_config,
                      "pin_env names " + name + ", but that environment variable is not set");
  }
  const std::size_t n = std::strlen(value);
  if (n == 0 || n > kMaxPinBytes) {
    return make_error(ErrorCode::invalid_config, "environment variable " + name +
                                                     " is empty or longer than " +
                                                     std::to_string(kMaxPinBytes) + " bytes");
  }
  SecretBytes pin(value, value + n);
  strip_trailing_newline(pin);
  if (pin.empty()) {
    return make_error(ErrorCode::invalid_config,
                      "environment variable " + name + " holds only a newline, no PIN");
  }
  return pin;
}

}  // namespace mpa::pkcs11
