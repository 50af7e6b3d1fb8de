#include "agent/ops/exchange_outcomes.h"

#include <utility>

namespace mpa {

void ExchangeOutcomes::record(const std::string& client, const std::string& owner,
                              const Result<AccessToken>& result) {
  if (result.ok()) {
    std::lock_guard lock(mutex_);
    if (const auto it = errors_.find(client); it != errors_.end()) it->second.past = true;
    return;
  }
  const Error& error = result.error();
  LastError last{std::string(to_string(error.code)) + ": " + error.message,
                 std::string(to_string(error.code)), owner, clock_.epoch_seconds(), false};
  std::lock_guard lock(mutex_);
  errors_[client] = std::move(last);
}

std::map<std::string, ExchangeOutcomes::LastError> ExchangeOutcomes::last_errors() const {
  std::lock_guard lock(mutex_);
  return errors_;
}

}  // namespace mpa
