#include "agent/signer_helper/helper_launch.h"

#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <sys/socket.h>
#include <sys/wait.h>

#include <cerrno>
#include <cstring>

#include "common/log.h"

extern char** environ;

namespace mpa::signer_helper {
namespace {

Error spawn_error(const std::string& what, int error) {
  return make_error(ErrorCode::internal,
                    "cannot start the signer helper: " + what + ": " + std::strerror(error));
}

// posix_spawn's dup2 onto the same number would keep close-on-exec set on
// older C libraries, so the child's end is moved above kHelperFd first.
Result<UniqueFd> above_helper_fd(UniqueFd fd) {
  if (fd.get() > kHelperFd) return fd;
  const int moved = ::fcntl(fd.get(), F_DUPFD_CLOEXEC, kHelperFd + 1);
  if (moved < 0) return spawn_error("fcntl", errno);
  return UniqueFd(moved);
}

std::string describe_status(int status) {
  if (WIFEXITED(status)) return "exited with status " + std::to_string(WEXITSTATUS(status));
  if (WIFSIGNALED(status)) {
    const int sig = WTERMSIG(status);
    const char* name = ::sigabbrev_np(sig);
    return "killed by signal " + std::to_string(sig) + (name ? std::string(" (SIG") + name + ")" : "");
  }
  return "ended";
}

}  // namespace

Result<HelperChild> launch_helper_process(const std::string& executable) {
  int fds[2];
  if (::socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, fds) != 0) {
    return spawn_error("socketpair", errno);
  }
  UniqueFd ours(fds[0]);
  auto theirs = above_helper_fd(UniqueFd(fds[1]));
  if (!theirs) return std::move(theirs).error();

  posix_spawn_file_actions_t actions;
  posix_spawnattr_t attr;
  posix_spawn_file_actions_init(&actions);
  posix_spawnattr_init(&attr);
  posix_spawn_file_actions_adddup2(&actions, theirs->get(), kHelperFd);
  sigset_t none;
  sigemptyset(&none);
  sigset_t defaults;
  sigemptyset(&defaults);
  for (int sig : {SIGHUP, SIGINT, SIGTERM, SIGCHLD}) sigaddset(&defaults, sig);
  posix_spawnattr_setsigmask(&attr, &none);
  posix_spawnattr_setsigdefault(&attr, &defaults);
  posix_spawnattr_setflags(&attr, POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF);

  const std::string fd_text = std::to_string(kHelperFd);
  // The helper writes to the agent's stderr: in JSON too, when the agent does.
  const bool json_log = log::current_format() == log::Format::json;
  char* argv[] = {const_cast<char*>("maskinporten-agent"), const_cast<char*>("signer-helper"),
                  const_cast<char*>("--fd"), const_cast<char*>(fd_text.c_str()),
                  json_log ? const_cast<char*>("--log-format") : nullptr,
                  const_cast<char*>("json"), nullptr};
  pid_t pid = -1;
  const int rc = ::posix_spawn(&pid, executable.c_str(), &actions, &attr, argv, environ);
  posix_spawn_file_actions_destroy(&actions);
  posix_spawnattr_destroy(&attr);
  if (rc != 0) return spawn_error(executable, rc);
  return HelperChild{pid, std::move(ours)};
}

std::string reap(pid_t pid) {
  int status = 0;
  for (;;) {
    const pid_t got = ::waitpid(pid, &status, 0);
    if (got == pid) return describe_status(status);
    if (got < 0 && errno == EINTR) continue;
    return "ended (not reaped: " + std::string(std::strerror(errno)) + ")";
  }
}

std::string kill_and_reap(pid_t pid) {
  ::kill(pid, SIGKILL);
  return reap(pid);
}

}  // namespace mpa::signer_helper
