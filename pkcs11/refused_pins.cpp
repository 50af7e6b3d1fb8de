#include "pkcs11/refused_pins.h"

#include <fcntl.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/rand.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <sstream>
#include <utility>
#include <vector>

#include "common/file_read.h"

namespace mpa::pkcs11 {
namespace {

// PBKDF2-HMAC-SHA256: a PIN is a few digits, so the hash must be slow to
// guess from a stolen record file; this is ~0.1 s per check.
constexpr int kIterations = 200'000;
constexpr std::size_t kSaltBytes = 16;
constexpr std::size_t kHashBytes = 32;
// Each record costs a slow hash at every login, and the helper must be up
// within its start deadline: a token that refused this many PINs is locked
// long since, so a file with more was not written by us.
constexpr std::size_t kMaxRecords = 64;
// A record line is 111 bytes.
constexpr std::size_t kMaxLineBytes = 256;
constexpr std::size_t kMaxRecordBytes = kMaxRecords * (kMaxLineBytes + 1);
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

// `token_key` is in the salt's input, so a record copied to another
// token's file never matches there.
bool derive(const SecretBytes& pin, const std::string& token_key, const unsigned char* salt,
            unsigned char* out) {
  std::vector<unsigned char> full(salt, salt + kSaltBytes);
  full.insert(full.end(), token_key.begin(), token_key.end());
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

Error not_ours(const std::string& path, const std::string& what) {
  return make_error(ErrorCode::hsm_error,
                    "the refused-PIN records " + path + " " + what +
                        ": not a file the agent wrote; not presenting the PIN until that file is "
                        "checked: delete it (the PINs it held may then be tried once more)");
}

// The lines of the record file `path`, read bounded (each line costs a
// slow hash later); none if there is no such file.
Result<std::vector<std::string>> read_records(const std::string& path) {
  auto read = read_file(path, {kMaxRecordBytes, FileModeCheck::none, true});
  if (!read) {
    const FileProblem& problem = read.problem();
    if (problem.kind == FileProblem::Kind::cannot_open) return std::vector<std::string>{};
    if (problem.kind == FileProblem::Kind::too_large) {
      return not_ours(path, "hold more than " + std::to_string(kMaxRecordBytes) + " bytes");
    }
    if (problem.kind == FileProblem::Kind::not_regular_file) {
      return not_ours(path, "are not a regular file");
    }
    return make_error(ErrorCode::hsm_error, "cannot read the refused-PIN records " + path + ": " +
                                                errno_text(problem.error_number));
  }
  std::vector<std::string> lines;
  std::istringstream in(read.bytes());
  for (std::string line; std::getline(in, line);) {
    if (line.size() > kMaxLineBytes) {
      return not_ours(path, "have a line longer than " + std::to_string(kMaxLineBytes) + " bytes");
    }
    if (line.empty()) continue;
    if (lines.size() == kMaxRecords) {
      return not_ours(path, "hold more than " + std::to_string(kMaxRecords) + " records");
    }
    lines.push_back(std::move(line));
  }
  return lines;
}

// One string of the token's identity: each field with its length, so that
// no two identities give the same string.
std::string token_key(const TokenIdentity& token) {
  std::string key = "token";
  for (const std::string* field : {&token.manufacturer, &token.model, &token.serial, &token.label}) {
    key += " " + std::to_string(field->size()) + ":" + *field;
  }
  return key;
}

// Whether a record in `path`, made with `key`, holds `pin`; an error if the
// file holds more than is ever written.
Result<bool> holds(const std::string& path, const std::string& key, const SecretBytes& pin) {
  MPA_ASSIGN_OR_RETURN(auto lines, read_records(path));
  for (const std::string& line : lines) {
    std::istringstream fields(line);
    std::string tag, salt_hex, hash_hex;
    if (!(fields >> tag >> salt_hex >> hash_hex) || tag != kRecordTag) continue;
    const auto salt = unhex(salt_hex);
    const auto hash = unhex(hash_hex);
    if (salt.size() != kSaltBytes || hash.size() != kHashBytes) continue;
    unsigned char derived[kHashBytes];
    if (!derive(pin, key, salt.data(), derived)) continue;
    if (CRYPTO_memcmp(derived, hash.data(), kHashBytes) == 0) return true;
  }
  return false;
}

}  // namespace

std::string RefusedPins::record_path(const TokenIdentity& token) const {
  const std::string key = token_key(token);
  unsigned char digest[EVP_MAX_MD_SIZE];
  unsigned int size = 0;
  if (EVP_Digest(key.data(), key.size(), digest, &size, EVP_sha256(), nullptr) != 1) size = 0;
  return state_dir_ + "/refused-pin." + hex(digest, size);
}

std::string RefusedPins::serial_record_path(const std::string& serial) const {
  const auto* bytes = reinterpret_cast<const unsigned char*>(serial.data());
  return state_dir_ + "/refused-pin." + hex(bytes, serial.size());
}

Status RefusedPins::check(const TokenIdentity& token, const SecretBytes& pin) const {
  if (state_dir_.empty()) return {};
  const std::pair<std::string, std::string> records[] = {
      {record_path(token), token_key(token)},
      {serial_record_path(token.serial), token.serial},
  };
  for (const auto& [path, key] : records) {
    MPA_ASSIGN_OR_RETURN(const bool refused, holds(path, key, pin));
    if (!refused) continue;
    return make_error(ErrorCode::hsm_error,
                      "not presenting the PIN to token \"" + token.label + "\" (serial " +
                          token.serial + "): it refused this PIN before (recorded in " + path +
                          "); put the right PIN in place, or delete that file to try this one again");
  }
  return {};
}

Status RefusedPins::record(const TokenIdentity& token, const SecretBytes& pin) const {
  if (state_dir_.empty()) return {};
  if (auto made = make_private_dirs(state_dir_); !made) return made;
  unsigned char salt[kSaltBytes];
  unsigned char hash[kHashBytes];
  if (RAND_bytes(salt, sizeof salt) != 1 || !derive(pin, token_key(token), salt, hash)) {
    return make_error(ErrorCode::internal, "cannot hash the refused PIN for its record");
  }
  const std::string path = record_path(token);
  auto lines = read_records(path);
  if (!lines) return make_error(ErrorCode::internal, lines.error().message);
  if (lines->size() >= kMaxRecords) {
    return make_error(ErrorCode::internal, "the refused-PIN records " + path + " hold " +
                                               std::to_string(kMaxRecords) +
                                               " records already, as many as are read");
  }
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
