#include "pkcs11/refused_pins.h"

#include <fcntl.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/rand.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <fstream>
#include <sstream>
#include <vector>

namespace mpa::pkcs11 {
namespace {

// PBKDF2-HMAC-SHA256: a PIN is a few digits, so the hash must be slow to
// guess from a stolen record file; this is ~0.1 s per check.
constexpr int kIterations = 200'000;
constexpr std::size_t kSaltBytes = 16;
constexpr std::size_t kHashBytes = 32;
// A record file beyond this is not ours.
constexpr std::size_t kMaxRecordBytes = 64 * 1024;
constexpr const char* kRecordTag = "pbkdf2-sha256";

std::string hex(const unsigned char* data, std::size_t size) {
  static const char digits[] = "0123456789abcdef";
  std::string out;
  for (std::size_t i = 0; i < size; ++i) {
    out += digits[data[i] >> 4];
    out += digits[data[i] & 0xf];
  }
  return out;
}

std::vector<unsigned char> unhex(const std::string& text) {
  std::vector<unsigned char> out;
  if (text.size() % 2 != 0) return out;
  for (std::size_t i = 0; i < text.size(); i += 2) {
    const auto nibble = [](char c) -> int {
      if (c >= '0' && c <= '9') return c - '0';
      if (c >= 'a' && c <= 'f') return c - 'a' + 10;
      return -1;
    };
    const int hi = nibble(text[i]);
    const int lo = nibble(text[i + 1]);
    if (hi < 0 || lo < 0) return {};
    out.push_back(static_cast<unsigned char>(hi * 16 + lo));
  }
  return out;
}

bool derive(const SecretBytes& pin, const std::string& serial, const unsigned char* salt,
            unsigned char* out) {
  // The serial is in the salt's input, so a record copied to another
  // token's file never matches there.
  std::vector<unsigned char> full(salt, salt + kSaltBytes);
  full.insert(full.end(), serial.begin(), serial.end());
  return PKCS5_PBKDF2_HMAC(pin.data(), static_cast<int>(pin.size()), full.data(),
                           static_cast<int>(full.size()), kIterations, EVP_sha256(),
                           static_cast<int>(kHashBytes), out) == 1;
}

Status make_private_dirs(const std::string& path) {
  std::string at;
  std::stringstream parts(path);
  std::string part;
  while (std::getline(parts, part, '/')) {
    if (part.empty()) continue;
    at += "/" + part;
    if (::mkdir(at.c_str(), 0700) != 0 && errno != EEXIST) {
      return make_error(ErrorCode::internal,
                        "cannot create the state directory " + at + ": " + std::strerror(errno));
    }
  }
  return {};
}

}  // namespace

std::string RefusedPins::record_path(const std::string& serial) const {
  const auto* bytes = reinterpret_cast<const unsigned char*>(serial.data());
  return state_dir_ + "/refused-pin." + hex(bytes, serial.size());
}

Status RefusedPins::check(const std::string& serial, const std::string& label,
                          const SecretBytes& pin) const {
  if (state_dir_.empty()) return {};
  const std::string path = record_path(serial);
  std::ifstream in(path);
  if (!in) return {};
  std::string line;
  std::size_t read = 0;
  while (std::getline(in, line) && (read += line.size()) <= kMaxRecordBytes) {
    std::istringstream fields(line);
    std::string tag, salt_hex, hash_hex;
    if (!(fields >> tag >> salt_hex >> hash_hex) || tag != kRecordTag) continue;
    const auto salt = unhex(salt_hex);
    const auto hash = unhex(hash_hex);
    if (salt.size() != kSaltBytes || hash.size() != kHashBytes) continue;
    unsigned char derived[kHashBytes];
    if (!derive(pin, serial, salt.data(), derived)) continue;
    if (CRYPTO_memcmp(derived, hash.data(), kHashBytes) == 0) {
      return make_error(ErrorCode::hsm_error,
                        "not presenting the PIN to token \"" + label + "\" (serial " + serial +
                            "): it refused this PIN before (recorded in " + path +
                            "); put the right PIN in place, or delete that file to try this one again");
    }
  }
  return {};
}

Status RefusedPins::record(const std::string& serial, const SecretBytes& pin) const {
  if (state_dir_.empty()) return {};
  if (auto made = make_private_dirs(state_dir_); !made) return made;
  unsigned char salt[kSaltBytes];
  unsigned char hash[kHashBytes];
  if (RAND_bytes(salt, sizeof salt) != 1 || !derive(pin, serial, salt, hash)) {
    return make_error(ErrorCode::internal, "cannot hash the refused PIN for its record");
  }
  const std::string path = record_path(serial);
  const std::string line = std::string(kRecordTag) + " " + hex(salt, sizeof salt) + " " +
                           hex(hash, sizeof hash) + "\n";
  const int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC | O_NOFOLLOW, 0600);
  if (fd < 0) return make_error(ErrorCode::internal, "cannot write " + path + ": " + std::strerror(errno));
  const bool written = ::write(fd, line.data(), line.size()) == static_cast<ssize_t>(line.size());
  const bool synced = ::fsync(fd) == 0;
  ::close(fd);
  if (!written || !synced) return make_error(ErrorCode::internal, "cannot write " + path);
  return {};
}

}  // namespace mpa::pkcs11
