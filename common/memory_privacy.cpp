#include "common/memory_privacy.h"

#include <sys/prctl.h>
#include <sys/resource.h>

#include <cerrno>
#include <string>

#include "common/text.h"

namespace mpa {

Status keep_memory_private() {
  std::string failed;
  int first_error = 0;
  if (::prctl(PR_SET_DUMPABLE, 0, 0, 0, 0) != 0) {
    first_error = errno;
    failed = "prctl(PR_SET_DUMPABLE, 0) failed: " + errno_text(errno);
  }
  const rlimit no_core{0, 0};
  if (::setrlimit(RLIMIT_CORE, &no_core) != 0) {
    if (first_error == 0) first_error = errno;
    failed += (failed.empty() ? "" : "; ") + std::string("setrlimit(RLIMIT_CORE, 0) failed: ") + errno_text(errno);
  }
  if (failed.empty()) return {};
  Error error = make_error(ErrorCode::internal, failed);
  errno = first_error;
  return error;
}

}  // namespace mpa
