// Many HTTPS requests at once without a thread each: one thread runs a
// libcurl multi handle, its connection cache (keep-alive, and HTTP/2
// multiplexing where the server offers it) and a timer queue. The trust
// (the system's CAs and one ca_file) is loaded once, at create(); a
// configuration makes one AsyncHttp per distinct ca_file, so a connection
// verified under one trust is never reused under another.
//
// Callbacks run on the HTTP thread and must not block: hand signing and
// other slow work to a thread of its own.
#pragma once

#include <chrono>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "agent/http/http.h"
#include "common/result.h"

namespace mpa {

// How many transfers one AsyncHttp runs at once; more wait in its queue.
inline constexpr std::size_t kMaxTransfersInFlight = 256;

class AsyncHttp {
 public:
  using Done = std::function<void(Result<HttpResponse>)>;

  // Loads the trust and starts the thread. Errors: invalid_config when
  // ca_file cannot be read, internal when libcurl cannot start.
  static Result<std::shared_ptr<AsyncHttp>> create(const std::optional<std::string>& ca_file);
  // Stops the thread; requests not answered yet get `unavailable`
  // ("the agent is stopping"). May be called from a callback.
  ~AsyncHttp();
  // The same, now: after it returns (unless called from a callback) the
  // HTTP thread has ended, so a process may exit. Idempotent.
  void shutdown();
  AsyncHttp(const AsyncHttp&) = delete;
  AsyncHttp& operator=(const AsyncHttp&) = delete;

  // `done` is called exactly once, on the HTTP thread. options.ca_file must
  // be the one this AsyncHttp was made for (else invalid_config).
  void post_form(const std::string& url, const std::string& form_body, const HttpOptions& options,
                 Done done);
  void get(const std::string& url, const std::vector<std::string>& headers,
           const HttpOptions& options, Done done);

  // Runs `job` on the HTTP thread after `delay`: a retry's back-off is a
  // timer, never a sleeping thread. Dropped unrun when stopping.
  void after(std::chrono::milliseconds delay, std::function<void()> job);

  struct Stats {
    std::size_t in_flight = 0;   // transfers libcurl is running
    std::size_t queued = 0;      // waiting for room
    std::size_t timers = 0;      // retries waiting for their back-off
  };
  Stats stats() const;

 private:
  struct Impl;
  explicit AsyncHttp(std::shared_ptr<Impl> impl) : impl_(std::move(impl)) {}
  std::shared_ptr<Impl> impl_;
};

}  // namespace mpa
