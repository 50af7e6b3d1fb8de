// Starting a signer helper: a socketpair and posix_spawn of this very
// executable (/proc/self/exe) as `signer-helper --fd 3`. The launcher is a
// function so that tests can start a fake helper instead.
#pragma once

#include <sys/types.h>

#include <functional>
#include <string>

#include "common/result.h"
#include "common/unique_fd.h"

namespace mpa::signer_helper {

struct HelperChild {
  pid_t pid = -1;
  UniqueFd fd;  // the agent's end of the socketpair
};

using HelperLauncher = std::function<Result<HelperChild>()>;

// The descriptor the helper finds its end of the socketpair on.
inline constexpr int kHelperFd = 3;

// Spawns `executable signer-helper --fd 3` with the agent's environment
// (the modules read SOFTHSM2_CONF, TPM2_PKCS11_TCTI, ...) and an empty
// signal mask; only the socket's end is passed (every other descriptor is
// close-on-exec or closed by the helper). Errors: internal.
Result<HelperChild> launch_helper_process(const std::string& executable = "/proc/self/exe");

// SIGKILL, then waitpid. Words for how it ended ("exited with status 4",
// "killed by signal 9").
std::string kill_and_reap(pid_t pid);
// waitpid without killing; the same words.
std::string reap(pid_t pid);

}  // namespace mpa::signer_helper
