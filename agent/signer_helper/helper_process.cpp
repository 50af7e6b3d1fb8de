// What the helper does to itself before it reads anything: the same
// hardening as the agent (and as ssh-agent does for ssh-pkcs11-helper's
// parent), plus dying with its parent.
#include <signal.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <initializer_list>

#include "agent/signer_helper/helper_process.h"
#include "common/memory_privacy.h"

namespace mpa::signer_helper {
namespace {

bool close_from(unsigned first, unsigned last) {
  if (first > last) return true;
  return ::syscall(SYS_close_range, first, last, 0) == 0;
}

}  // namespace

bool harden_helper_process(int keep_fd) {
  // The agent stops the helper by closing the socket (EOF) or by SIGKILL;
  // a terminal's ^C or systemd's SIGTERM to the group must not cut a
  // signature short while the agent finishes requests in flight.
  for (int sig : {SIGPIPE, SIGINT, SIGHUP, SIGTERM}) ::signal(sig, SIG_IGN);
  if (!keep_memory_private()) return false;
  if (::prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0) return false;
  // PDEATHSIG fires when the thread that started us ends; the supervisor
  // starts helpers from its own thread, which lives as long as the helper
  // should. A parent gone before this line left the socket closed: the
  // first read sees EOF and the helper exits.
  if (::prctl(PR_SET_PDEATHSIG, SIGKILL, 0, 0, 0) != 0) return false;
  if (keep_fd < 3) return false;
  const auto keep = static_cast<unsigned>(keep_fd);
  return close_from(3, keep - 1) && close_from(keep + 1, ~0U);
}

}  // namespace mpa::signer_helper
