// The socket server (DESIGN.md "Socket protocol, version 1"): JSON lines
// on a Unix stream socket, answered in request order per connection.
//
// Threading: everything here runs on the one thread that runs the
// io_context (socket I/O only). The RequestHandler is called on that
// thread and must not block: anything that signs or does HTTP goes to a
// worker pool, and the reply comes back from there; the server posts it
// to the I/O thread. Replies must not be sent after the io_context is
// destroyed: stop the workers first.
#pragma once

#include <boost/asio/io_context.hpp>

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>

#include "agent/server/peer_credentials.h"
#include "common/clock.h"
#include "protocol/limits.h"
#include "protocol/messages.h"

namespace mpa {

// Requests one connection may have waiting for an answer; past this the
// server stops reading from it until one is answered (pipelining bound).
inline constexpr std::size_t kMaxPendingPerConnection = 64;
// Answered bytes not yet taken by the client; past this the server stops
// reading from it (a client must read its answers).
inline constexpr std::size_t kReadPauseUnsentBytes = 64 * 1024;
// Unsent bytes past which a client that does not read is dropped.
inline constexpr std::size_t kMaxUnsentBytes = 1024 * 1024;
// DESIGN.md: beyond this many connections a client is refused with words.
inline constexpr std::size_t kDefaultMaxConnections = 256;
// DESIGN.md [agent] max_connections_per_uid: one uid's share of them, so
// that one uid's idle connections cannot lock every other uid out.
inline constexpr std::size_t kDefaultMaxConnectionsPerUid = 64;
// Of max_connections, this many (at most a quarter of it) are kept for
// the peers ServerOptions::reserved_for names: a flood of a tenant's
// connections leaves the agent's own uid and root room to look in.
inline constexpr std::size_t kReservedConnections = 4;
// A refused client gets its one line, then the server lingers this long
// reading what it sent, so that it reads the reason and not a reset.
inline constexpr std::chrono::milliseconds kRefusedLinger{500};
// Refused connections lingering at once; past this a refusal is written
// without waiting and closed at once, so that a flood of refused clients
// holds no more than this many of the agent's descriptors.
inline constexpr std::size_t kMaxLingeringRefusals = 16;
// Bytes taken from the socket per read.
inline constexpr std::size_t kReadChunkBytes = 16 * 1024;

// Sends one response line (ending in '\n'). Call exactly once, from any
// thread. Dropping it uncalled answers `internal` (a bug of the handler).
using Reply = std::function<void(std::string response_line)>;

class RequestHandler {
 public:
  virtual ~RequestHandler() = default;
  // Called on the I/O thread; must not block.
  virtual void handle(const PeerCredentials& peer, protocol::Request request, Reply reply) = 0;
};

struct ServerOptions {
  std::size_t max_connections = kDefaultMaxConnections;
  std::size_t max_connections_per_uid = kDefaultMaxConnectionsPerUid;
  std::chrono::milliseconds refused_linger = kRefusedLinger;
  std::size_t max_lingering_refusals = kMaxLingeringRefusals;
  int idle_timeout_seconds = protocol::kIdleTimeoutSeconds;
  std::size_t max_line_bytes = protocol::kMaxRequestLineBytes;
  std::size_t max_pending_per_connection = kMaxPendingPerConnection;
  // Who may connect at all; empty: everyone the socket's mode lets in.
  std::function<bool(const PeerCredentials&)> may_connect;
  // Who may use the reserved connections; empty: the server's own
  // effective uid (the agent's) and root.
  std::function<bool(const PeerCredentials&)> reserved_for;
  std::size_t reserved_connections = kReservedConnections;
  // Called on the I/O thread after each idle check of a connection (when
  // set), so that a test can wait for checks instead of sleeping past them.
  std::function<void()> idle_checked;
  // Steady time for idle checks; a test sets it instead of waiting.
  Clock clock = Clock::system();
};

// Counted since the server started, for status and metrics.
struct ServerStats {
  std::size_t connections = 0;
  std::uint64_t refused = 0;                 // every refusal: [[allow]], max_connections, per uid
  std::uint64_t refused_per_uid = 0;         // of those, for max_connections_per_uid
  std::uint64_t refused_closed_at_once = 0;  // refusals past the lingering budget
  std::uint64_t closed_for_descriptors = 0;  // accepted on the reserve descriptor and closed (EMFILE)
};

class Server final {
 public:
  // Serves on `listen_fd`, a listening Unix stream socket that the server
  // now owns. Call start() to begin accepting.
  Server(boost::asio::io_context& io, int listen_fd, std::shared_ptr<RequestHandler> handler,
         ServerOptions options);
  // Closes the listening socket and every connection.
  ~Server();
  // Connections point back into the server's state.
  Server(const Server&) = delete;
  Server& operator=(const Server&) = delete;

  void start();

  // On the I/O thread: a new limit for connections accepted from now on.
  void set_max_connections(std::size_t max_connections);
  void set_max_connections_per_uid(std::size_t max_connections_per_uid);

  // Graceful stop: no new connections, no new requests; requests already
  // read are answered and written, then each connection closes. `drained`
  // runs on the I/O thread once no connection is left.
  void shut_down(std::function<void()> drained);
  // Closes every connection now (after a bounded wait for shut_down).
  void close_all();

  std::size_t connection_count() const;
  // On the I/O thread.
  ServerStats stats() const;

  struct Shared;

 private:
  std::shared_ptr<Shared> shared_;
};

}  // namespace mpa
