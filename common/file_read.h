// One bounded reader for the small files the agent reads: its
// configuration, the PIN file, CA and certificate files. Regular files only,
// opened O_CLOEXEC | O_NONBLOCK (a FIFO put there by mistake must not hang
// us) and, unless a caller says otherwise, O_NOFOLLOW; never more than
// `max_bytes` read. The reader reports what went wrong (FileProblem); each
// caller puts it in its own words, which name the file's role.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <utility>
#include <variant>

#include "common/result.h"
#include "common/secret.h"
#include "common/text.h"  // errno_text, for callers that word a FileProblem
#include "common/unique_fd.h"

namespace mpa {

enum class FileModeCheck {
  none,
  not_writable_by_others,  // whoever can write it controls what we load
  owner_only,              // no group or other bits at all (secrets)
  // Writable by neither group nor other, and owned by root or this
  // process's effective uid: the configuration and the PKCS#11 module,
  // which decide what runs in the process that holds the PIN.
  only_we_may_change,
};

struct FileLimits {
  std::size_t max_bytes = 0;
  FileModeCheck mode_check = FileModeCheck::none;
  // Certificates and configuration are often symlinks (/etc/ssl/certs);
  // a secret is read only from the file named.
  bool follow_symlinks = false;
};

struct FileProblem {
  enum class Kind {
    cannot_open,  // error_number says why
    not_regular_file,
    writable_by_others,  // mode says how
    readable_by_others,  // group or other bits set; mode says which
    owned_by_another_user,  // owner says whose
    too_large,           // size is what was seen (fstat, or bytes read)
    cannot_read,         // error_number says why
  };
  Kind kind = Kind::cannot_open;
  int error_number = 0;
  std::uint64_t size = 0;
  unsigned mode = 0;  // st_mode & 07777
  unsigned owner = 0;  // st_uid
};

// The bytes of a file, or what stopped us reading them.
template <class Bytes>
class [[nodiscard]] FileRead {
 public:
  FileRead(Bytes bytes) : v_(std::move(bytes)) {}            // NOLINT implicit
  FileRead(FileProblem problem) : v_(std::move(problem)) {}  // NOLINT implicit

  bool ok() const { return v_.index() == 0; }
  explicit operator bool() const { return ok(); }
  Bytes& bytes() { return std::get<0>(v_); }
  const FileProblem& problem() const { return std::get<1>(v_); }

 private:
  std::variant<Bytes, FileProblem> v_;
};

// Opens `path` read-only and checks it is a regular file that passes the
// mode check; reads nothing (max_bytes is not checked here).
FileRead<UniqueFd> open_regular_file(const std::string& path, const FileLimits& limits);

FileRead<std::string> read_file(const std::string& path, const FileLimits& limits);
// The same into memory that is wiped when freed (the PIN).
FileRead<SecretBytes> read_secret_file(const std::string& path, const FileLimits& limits);

// "0640": the permission bits of a mode, as chmod takes them.
std::string mode_text(unsigned mode);

}  // namespace mpa
