#include "protocol/client.h"

#include <poll.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>

#include <cerrno>
#include <cstring>
#include <utility>

#include "common/clock.h"
#include "common/text.h"
#include "protocol/limits.h"
#include "protocol/server_check.h"

namespace mpa::protocol {
namespace {

using SteadyTime = std::chrono::steady_clock::time_point;

// Bytes read from the socket per recv().
constexpr std::size_t kReadChunkBytes = 4096;

Error unavailable(std::string message) {
  return make_error(ErrorCode::unavailable, std::move(message));
}

// Connect failures in words a person can act on.
Error connect_error(const std::string& path, int error) {
  switch (error) {
    case ENOENT:
      return unavailable(path + " does not exist; is the agent running? "
                         "(maskinporten-agent run --config FILE)");
    case ECONNREFUSED: {
      struct stat info {};
      if (::stat(path.c_str(), &info) == 0 && !S_ISSOCK(info.st_mode)) {
        return unavailable(path + " is not a socket; is --socket (or MASKINPORTEN_AGENT_SOCKET) right?");
      }
      return unavailable("no agent is listening on " + path +
                         ": connection refused (the agent stopped and left its socket behind?)");
    }
    case EACCES:
    case EPERM:
      return unavailable("permission denied on " + path +
                         ": the agent's socket is not open to this user (see socket_mode and "
                         "[[allow]] in the agent's configuration)");
    case EAGAIN:
      return unavailable("the agent on " + path +
                         " is not accepting connections now (its queue is full); try again");
    case ENOTDIR:
      return unavailable(path + ": a part of the path is not a directory");
    default:
      return unavailable("cannot connect to " + path + ": " + errno_text(error));
  }
}

// Milliseconds left until `deadline` for poll(), at least 0.
int millis_left(SteadyTime deadline) {
  const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - steady_now());
  return left.count() <= 0 ? 0 : static_cast<int>(left.count());
}

// Waits for `events` on `fd`; false on timeout. EINTR restarts the wait
// with the time that is left.
Result<bool> wait_for(int fd, short events, SteadyTime deadline) {
  for (;;) {
    pollfd entry{fd, events, 0};
    const int ready = ::poll(&entry, 1, millis_left(deadline));
    if (ready > 0) return true;
    if (ready == 0) return false;
    if (errno != EINTR) return unavailable(std::string("poll failed: ") + errno_text(errno));
  }
}

// Finishes a connect that did not complete at once.
Status finish_connect(int fd, const std::string& path, SteadyTime deadline) {
  auto writable = wait_for(fd, POLLOUT, deadline);
  if (!writable) return std::move(writable).error();
  if (!*writable) return unavailable("connecting to " + path + " timed out");
  int error = 0;
  socklen_t length = sizeof error;
  if (::getsockopt(fd, SOL_SOCKET, SO_ERROR, &error, &length) != 0) error = errno;
  if (error != 0) return connect_error(path, error);
  return {};
}

}  // namespace

Result<AgentClient> AgentClient::connect(const std::string& socket_path,
                                         std::chrono::milliseconds timeout) {
  sockaddr_un address{};
  address.sun_family = AF_UNIX;
  if (socket_path.empty()) return unavailable("the socket path is empty");
  if (socket_path.size() >= sizeof address.sun_path) {
    return unavailable("the socket path " + socket_path + " is longer than " +
                       std::to_string(sizeof address.sun_path - 1) + " bytes, too long for a Unix socket");
  }
  std::memcpy(address.sun_path, socket_path.data(), socket_path.size());

  UniqueFd socket(::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0));
  if (!socket.valid()) return unavailable(std::string("cannot make a socket: ") + errno_text(errno));
  const auto deadline = steady_now() + timeout;
  if (::connect(socket.get(), reinterpret_cast<const sockaddr*>(&address), sizeof address) != 0) {
    if (errno != EINPROGRESS && errno != EINTR) return connect_error(socket_path, errno);
    if (auto done = finish_connect(socket.get(), socket_path, deadline); !done) {
      return std::move(done).error();
    }
  }
  MPA_RETURN_IF_ERROR(check_agent_socket(socket.get(), socket_path));
  return AgentClient(std::move(socket), socket_path, timeout);
}

AgentClient::AgentClient(UniqueFd socket, std::string socket_path, std::chrono::milliseconds timeout)
    : socket_(std::move(socket)),
      socket_path_(std::move(socket_path)),
      timeout_(timeout),
      reader_(kMaxResponseLineBytes) {}

Error AgentClient::transport_error(const std::string& what) const {
  return unavailable("the agent on " + socket_path_ + " " + what);
}

Status AgentClient::send_raw(std::string_view bytes) {
  const auto deadline = steady_now() + timeout_;
  std::size_t sent = 0;
  while (sent < bytes.size()) {
    const ssize_t n = ::send(socket_.get(), bytes.data() + sent, bytes.size() - sent, MSG_NOSIGNAL);
    if (n > 0) {
      sent += static_cast<std::size_t>(n);
      continue;
    }
    if (n < 0 && errno == EINTR) continue;
    if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
      auto writable = wait_for(socket_.get(), POLLOUT, deadline);
      if (!writable) return std::move(writable).error();
      if (!*writable) return transport_error("did not take the request within the time limit");
      continue;
    }
    if (n < 0 && (errno == EPIPE || errno == ECONNRESET)) {
      return transport_error("closed the connection");
    }
    return unavailable("cannot send the request to the agent on " + socket_path_ + ": " +
                       errno_text(errno));
  }
  return {};
}

Result<std::string> AgentClient::read_line() {
  const auto deadline = steady_now() + timeout_;
  char chunk[kReadChunkBytes];
  for (;;) {
    if (auto line = reader_.next_line()) return std::move(*line);
    if (reader_.overflowed()) {
      return transport_error("sent an answer longer than " + std::to_string(kMaxResponseLineBytes) +
                             " bytes");
    }
    const ssize_t n = ::recv(socket_.get(), chunk, sizeof chunk, 0);
    if (n > 0) {
      reader_.feed(std::string_view(chunk, static_cast<std::size_t>(n)));
      continue;
    }
    if (n == 0) {
      return transport_error(reader_.buffered() == 0 ? "closed the connection without answering"
                                                     : "closed the connection in the middle of an answer");
    }
    if (errno == EINTR) continue;
    if (errno == EAGAIN || errno == EWOULDBLOCK) {
      auto readable = wait_for(socket_.get(), POLLIN, deadline);
      if (!readable) return std::move(readable).error();
      if (!*readable) {
        return transport_error("did not answer within " + std::to_string(timeout_.count()) + " ms");
      }
      continue;
    }
    if (errno == ECONNRESET) return transport_error("closed the connection without answering");
    return unavailable("cannot read the answer of the agent on " + socket_path_ + ": " +
                       errno_text(errno));
  }
}

Result<std::string> AgentClient::request(const Request& request) {
  if (auto sent = send_raw(encode_request(request)); !sent) return std::move(sent).error();
  return read_line();
}

}  // namespace mpa::protocol
