// The agent's listening Unix socket: made by the agent in a private
// directory (DESIGN.md [agent] socket), or handed over by systemd (socket
// activation, sd_listen_fds(3)).
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <optional>
#include <string>
#include <utility>

#include "common/result.h"
#include "common/unique_fd.h"

namespace mpa {

class ListeningSocket final {
 public:
  // Creates the parent directory if missing, 0700, or 0750 with the
  // socket's group when `mode` lets a group in (an existing one must not be
  // writable by group or others, sticky or not, and must be the agent's
  // user's or root's), replaces a stale socket file left
  // by a dead agent, refuses to take over a live agent's socket or to remove
  // anything that is not a socket, binds under umask 0177, then sets `mode`.
  // Errors: invalid_config / internal, in words naming the path.
  static Result<ListeningSocket> bind_path(const std::string& path, std::uint32_t mode);

  // The socket systemd passed (LISTEN_PID is us, LISTEN_FDS = 1), checked to
  // be a listening Unix stream socket; nullopt when not socket-activated.
  // Clears the LISTEN_* variables so that children do not inherit them.
  static Result<std::optional<ListeningSocket>> from_systemd();

  // How many descriptors systemd passed to this process (LISTEN_FDS, when
  // LISTEN_PID is us), from fd 3 on; 0 when not socket-activated. Reads the
  // variables without clearing them.
  static int systemd_fd_count();

  ListeningSocket(ListeningSocket&& other) noexcept;
  ListeningSocket& operator=(ListeningSocket&& other) noexcept;
  // One owner of the descriptor and of the file.
  ListeningSocket(const ListeningSocket&) = delete;
  ListeningSocket& operator=(const ListeningSocket&) = delete;
  // Closes the descriptor if still owned and removes the file we made.
  ~ListeningSocket();

  int fd() const { return fd_.get(); }
  const std::string& path() const { return path_; }
  bool activated() const { return activated_; }

  // Gives the descriptor to the caller (the server); the file stays ours.
  int release_fd();

  // Removes the socket file if this process made it and it is still the
  // same file (a newer agent's socket at the same path is left alone).
  // Never removes a socket systemd passed. Idempotent.
  void remove_file() noexcept;

 private:
  ListeningSocket(UniqueFd fd, std::string path, bool activated, dev_t dev, ino_t ino)
      : fd_(std::move(fd)),
        path_(std::move(path)),
        activated_(activated),
        file_owned_(!activated),
        dev_(dev),
        ino_(ino) {}

  UniqueFd fd_;
  std::string path_;
  bool activated_ = false;
  bool file_owned_ = false;
  dev_t dev_ = 0;
  ino_t ino_ = 0;
};

}  // namespace mpa
