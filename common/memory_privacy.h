// What ssh-agent does at start, for every process of ours that holds the
// PIN or access tokens (the agent, its signer helpers, the one-shot
// commands): no core file, and not dumpable, so that other processes of the
// same user can neither ptrace it nor read its /proc/PID/mem or environ.
#pragma once

#include "common/result.h"

namespace mpa {

// prctl(PR_SET_DUMPABLE, 0) and RLIMIT_CORE 0. Both are tried; an error
// names what failed and why (errno is kept for callers that word it).
Status keep_memory_private();

}  // namespace mpa
