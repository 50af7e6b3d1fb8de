#include "agent/service/hardening.h"

#include <fcntl.h>
#include <malloc.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <systemd/sd-daemon.h>
#include <unistd.h>

#include <cerrno>
#include <csignal>

#include "agent/server/listen_socket.h"
#include "common/log.h"
#include "common/memory_privacy.h"
#include "common/unique_fd.h"

namespace mpa {
namespace {

// Files the agent creates (the socket's directory) are private.
constexpr mode_t kProcessUmask = 0077;
// See harden_process().
constexpr int kMallocArenas = 1;

// As ssh-agent's sanitise_stdfd: descriptors 0, 1 and 2 are open (on
// /dev/null when whoever started us closed them), so that nothing the agent
// opens later (the socket, the PIN file) becomes "stderr" for log lines.
void open_standard_descriptors() {
  for (int fd = STDIN_FILENO; fd <= STDERR_FILENO; ++fd) {
    if (::fcntl(fd, F_GETFD) != -1 || errno != EBADF) continue;
    UniqueFd null(::open("/dev/null", O_RDWR));
    if (!null.valid()) continue;
    if (null.get() == fd) {
      (void)null.release();  // it became the missing descriptor itself: keep it open
      continue;
    }
    ::dup2(null.get(), fd);
  }
}

// Descriptors inherited from whoever started us (a shell's open files, a
// parent's sockets) have no business in the agent; those systemd passed
// (LISTEN_FDS, from fd 3 on) are kept for socket activation.
void close_inherited_descriptors() {
  const int first_stray = SD_LISTEN_FDS_START + ListeningSocket::systemd_fd_count();
  ::close_range(static_cast<unsigned>(first_stray), ~0U, 0);
}

// With the default soft limit of 1,024, one uid's idle connections could
// leave a PKCS#11 module without descriptors (EMFILE inside C_Sign). The
// hard limit is what the administrator allows; take all of it.
void raise_open_file_limit() {
  rlimit files{};
  if (::getrlimit(RLIMIT_NOFILE, &files) != 0 || files.rlim_cur >= files.rlim_max) return;
  files.rlim_cur = files.rlim_max;
  if (::setrlimit(RLIMIT_NOFILE, &files) != 0) log::warning("setrlimit(RLIMIT_NOFILE) to the hard limit failed");
}

}  // namespace

// As ssh-agent does: no core dumps or ptrace by other processes of the
// same user (they could read the PIN and tokens from memory), and a
// client that hangs up never kills us with SIGPIPE.
void harden_process() {
  open_standard_descriptors();
  close_inherited_descriptors();
  if (const Status kept = keep_memory_private(); !kept) log::warning(kept.error().message);
  std::signal(SIGPIPE, SIG_IGN);
  ::umask(kProcessUmask);
  // glibc gives each thread that allocates its own arena; with a few
  // workers doing TLS handshakes that is megabytes of freed but kept
  // memory for a daemon that mostly sits idle. One arena is enough: the
  // I/O thread does nearly all allocation, workers mostly wait on HTTP.
  ::mallopt(M_ARENA_MAX, kMallocArenas);
  raise_open_file_limit();
}

}  // namespace mpa
