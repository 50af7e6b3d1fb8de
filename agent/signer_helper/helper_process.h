// The signer helper: the process that alone loads the PKCS#11 module,
// reads the PIN, logs in and signs (DESIGN.md "The signer process"). The
// agent starts one per token as `maskinporten-agent signer-helper --fd N`
// over a socketpair and speaks agent/signer_helper/wire.h to it.
#pragma once

namespace mpa::signer_helper {

// Exit statuses the supervisor tells apart.
inline constexpr int kHelperExitOk = 0;            // the agent closed the socket
inline constexpr int kHelperExitSetupFailed = 1;   // could not open/log in/find keys
inline constexpr int kHelperExitProtocol = 3;      // the agent broke the wire
inline constexpr int kHelperExitPinRefused = 4;    // the token refused the PIN

// Hardens the process, then serves `fd` until the agent closes it or breaks
// the wire. Returns the exit status.
int run_signer_helper(int fd);

// The hardening alone (also for tests): not dumpable, no core files, no new
// privileges, killed when the parent goes, SIGPIPE/SIGINT/SIGHUP/SIGTERM
// ignored (the agent stops it by closing the socket), every descriptor but
// 0-2 and `keep_fd` closed. Returns false with errno set on failure.
bool harden_helper_process(int keep_fd);

}  // namespace mpa::signer_helper
