// MaskinportenClient's resolved token endpoint (agent/maskinporten/ only).
#pragma once

#include <functional>
#include <mutex>
#include <string>
#include <vector>

#include "agent/maskinporten/maskinporten.h"

namespace mpa {

// The token endpoint, resolved once and shared by every copy of the work
// in flight.
struct MaskinportenClient::Endpoint {
  std::mutex mutex;
  std::string url;                                // set once resolved
  std::vector<std::function<void(Status)>> waiting;  // while discovery runs
  bool resolving = false;
};

}  // namespace mpa
