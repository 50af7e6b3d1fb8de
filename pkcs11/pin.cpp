// Reading the PIN: from a file only its owner can read, or from the
// environment. The PIN is never in the configuration itself or in argv.
#include <openssl/crypto.h>
#include <unistd.h>

#include <cstdlib>
#include <cstring>
#include <utility>

#include "common/file_read.h"
#include "pkcs11/pkcs11.h"

namespace mpa::pkcs11 {
namespace {

// A PIN file larger than this is not a PIN file.
constexpr std::size_t kMaxPinBytes = 256;

// The "NAME=VALUE" string of `name` in this process's environment, or null.
char* environment_entry(const std::string& name) {
  for (char** entry = environ; entry != nullptr && *entry != nullptr; ++entry) {
    if (std::strncmp(*entry, name.c_str(), name.size()) == 0 && (*entry)[name.size()] == '=') return *entry;
  }
  return nullptr;
}

void strip_trailing_newline(SecretBytes& pin) {
  while (!pin.empty() && (pin.back() == '\n' || pin.back() == '\r')) pin.pop_back();
}

}  // namespace

Result<SecretBytes> read_pin_file(const std::string& path) {
  const auto refuse = [](const std::string& what) {
    return make_error(ErrorCode::invalid_config, what);
  };
  auto read = read_secret_file(path, {kMaxPinBytes, FileModeCheck::owner_only, false});
  if (!read) {
    const FileProblem& problem = read.problem();
    switch (problem.kind) {
      case FileProblem::Kind::cannot_open:
        return refuse("cannot open pin_file " + path + ": " + errno_text(problem.error_number));
      case FileProblem::Kind::cannot_read:
        return refuse("cannot read pin_file " + path + ": " + errno_text(problem.error_number));
      case FileProblem::Kind::too_large:
        return refuse("pin_file " + path + " is longer than " + std::to_string(kMaxPinBytes) +
                      " bytes; it should hold only the PIN");
      case FileProblem::Kind::readable_by_others:
      case FileProblem::Kind::writable_by_others:
      case FileProblem::Kind::owned_by_another_user:  // not checked for the PIN file
        return refuse("pin_file " + path + " is readable by group or others (mode " +
                      mode_text(problem.mode) + "); make it 0400 or 0600");
      case FileProblem::Kind::not_regular_file:
        break;
    }
    return refuse("pin_file " + path + " is not a regular file");
  }
  SecretBytes pin = std::move(read.bytes());
  strip_trailing_newline(pin);
  if (pin.empty()) return refuse("pin_file " + path + " is empty");
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

// unsetenv() alone leaves the bytes where the kernel put them at exec, and
// /proc/PID/environ (and `ps e`) show that block: the value is wiped there.
void remove_pin_env(const std::string& name) {
  char* entry = environment_entry(name);
  if (entry == nullptr) return;
  ::unsetenv(name.c_str());
  OPENSSL_cleanse(entry, std::strlen(entry));
}

void move_pin_env_out_of_sight(const std::string& name) {
  char* entry = environment_entry(name);
  if (entry == nullptr) return;
  const char* value = entry + name.size() + 1;
  // setenv copies into memory of its own and repoints environ at the copy.
  if (::setenv(name.c_str(), value, 1) != 0) return;
  if (environment_entry(name) != entry) OPENSSL_cleanse(entry, std::strlen(entry));
}

}  // namespace mpa::pkcs11
