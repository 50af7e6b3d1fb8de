// The client side of socket protocol v1 (DESIGN.md): connects to a running
// agent's Unix socket and asks it things, one request at a time. Used by the
// `token`, `status` and `invalidate` commands and by the tests; the answer
// lines are read with the decoders of protocol/messages.h and status.h.
#pragma once

#include <chrono>
#include <string>
#include <string_view>

#include "common/result.h"
#include "protocol/line_reader.h"
#include "protocol/messages.h"
#include "common/unique_fd.h"

namespace mpa::protocol {

class AgentClient final {
 public:
  // Connects to the agent's socket. `timeout` bounds the connect and then
  // each request (sending it and reading the whole answer). Failures are
  // `unavailable`, in words ("... does not exist; is the agent running?").
  // A socket others could have put there, or a server that is neither
  // root, this user, nor the owner of the socket's directory, is refused
  // before anything is sent (protocol/server_check.h).
  static Result<AgentClient> connect(const std::string& socket_path,
                                     std::chrono::milliseconds timeout);

  AgentClient(AgentClient&&) noexcept = default;
  AgentClient& operator=(AgentClient&&) noexcept = default;

  // Sends the request and returns the answer line (without '\n'), whether
  // it says ok or not. Transport failures are `unavailable`.
  Result<std::string> request(const Request& request);

  // Raw access for tests of the agent: sends `bytes` exactly as given, and
  // reads one answer line.
  Status send_raw(std::string_view bytes);
  Result<std::string> read_line();

  const std::string& socket_path() const { return socket_path_; }

 private:
  AgentClient(UniqueFd socket, std::string socket_path, std::chrono::milliseconds timeout);

  Error transport_error(const std::string& what) const;

  UniqueFd socket_;
  std::string socket_path_;
  std::chrono::milliseconds timeout_;
  LineReader reader_;
};

}  // namespace mpa::protocol
