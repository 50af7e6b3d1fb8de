// The last failed exchange of each client, when it failed, and whether an
// exchange for the client succeeded after it: what `status` says of a
// client's last error (a failure the token or Maskinporten has since got
// over is shown as past, not as the client's state now).
#pragma once

#include <cstdint>
#include <map>
#include <mutex>
#include <string>

#include "agent/maskinporten/maskinporten.h"
#include "common/clock.h"
#include "common/result.h"

namespace mpa {

class ExchangeOutcomes {
 public:
  explicit ExchangeOutcomes(Clock clock = Clock::system()) : clock_(std::move(clock)) {}

  struct LastError {
    std::string words;    // "<code>: <message>"
    std::string code;
    std::string owner;    // whom the exchange was for (TokenCache::FetchOrder::owner)
    std::int64_t at = 0;  // epoch seconds
    bool past = false;    // an exchange for the client succeeded since
  };

  // The end of one exchange for `client`, from any thread.
  void record(const std::string& client, const std::string& owner,
              const Result<AccessToken>& result);
  std::map<std::string, LastError> last_errors() const;

 private:
  Clock clock_;
  mutable std::mutex mutex_;
  std::map<std::string, LastError> errors_;
};

}  // namespace mpa
