// Exchanges grants for access tokens at Maskinporten's /token.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <optional>
#include <string>

#include "agent/config.h"
#include "agent/grant.h"
#include "agent/http.h"
#include "common/result.h"

namespace mpa {

struct AccessToken {
  std::string access_token;
  std::string token_type;
  std::int64_t expires_in = 0;
  std::int64_t expires_at = 0;   // epoch seconds, from our clock at receipt
  std::string scope;
};

// Strict parse of a /token answer. 200 -> AccessToken; 4xx with
// Maskinporten's {error, error_description} -> invalid_grant/invalid_client/
// invalid_scope/... with the description in the message; 5xx, 429 and
// garbage -> unavailable.
Result<AccessToken> parse_token_response(const HttpResponse& response, std::int64_t now);

// Seconds to wait from a Retry-After value (delta-seconds or HTTP-date);
// nullopt when absent or unparseable.
std::optional<int> parse_retry_after(const std::string& value, std::int64_t now);

class MaskinportenClient {
 public:
  explicit MaskinportenClient(ClientConfig client);

  // Resolves the token endpoint (discovery if configured). Errors: unavailable.
  Status prepare();

  // Posts grants made by `make_grant` until one succeeds or the deadline
  // passes. Each attempt is a fresh grant. Network errors, 5xx and 429 are
  // retried with exponential backoff and jitter (429 honours Retry-After);
  // 4xx is never retried.
  Result<AccessToken> exchange(const std::function<Result<SignedGrant>()>& make_grant);

  const std::string& token_endpoint() const { return token_endpoint_; }

 private:
  ClientConfig client_;
  std::string token_endpoint_;
};

}  // namespace mpa
