// The optional HTTP listener for a Prometheus scraper ([metrics] listen):
// GET /metrics answers the OpenMetrics text; any other path is 404 and any
// other method 405. Made with Boost.Beast on a thread of its own, so that
// a slow scraper or a token that is slow to say its certificate never
// holds up the socket's I/O thread.
#pragma once

#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <thread>

#include "agent/config/config.h"
#include "common/result.h"

namespace mpa {

// A request's line and headers are at most this long; /metrics needs far
// less, and nothing is buffered past it.
inline constexpr std::size_t kMaxMetricsRequestBytes = 8 * 1024;
// A connection that sends no whole request for this long is closed.
inline constexpr std::chrono::seconds kMetricsIdleTimeout{10};
// Scrapers are few; past this many connections at once a new one is closed.
inline constexpr std::size_t kMaxMetricsConnections = 16;

struct MetricsListenerOptions {
  std::chrono::milliseconds idle_timeout = kMetricsIdleTimeout;
  std::size_t max_connections = kMaxMetricsConnections;
};

class MetricsListener final {
 public:
  using Render = std::function<std::string()>;

  // Binds `where` now (an error in words if it cannot) and serves from a
  // thread of its own until destroyed. Port 0 takes a free port (tests).
  static Result<std::unique_ptr<MetricsListener>> start(const MetricsListen& where, Render render,
                                                        MetricsListenerOptions options = {});
  // Stops the thread; every connection is closed.
  ~MetricsListener();
  // The thread and the sessions point at this.
  MetricsListener(const MetricsListener&) = delete;
  MetricsListener& operator=(const MetricsListener&) = delete;

  std::uint16_t port() const { return port_; }

  struct Shared;

 private:
  MetricsListener() = default;

  std::unique_ptr<Shared> shared_;
  std::thread thread_;
  std::uint16_t port_ = 0;
};

}  // namespace mpa
