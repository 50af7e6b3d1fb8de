// Exchanges grants for access tokens at Maskinporten's /token.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <optional>
#include <string>

#include "agent/config/config.h"
#include "agent/http/http.h"
#include "agent/http/retry_policy.h"
#include "agent/jwt/grant.h"
#include "common/clock.h"
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

// The HTTP options of every request made for `client` (Maskinporten's and
// Altinn's): trust, proxy and time-outs from its configuration.
HttpOptions http_options(const ClientConfig& client);

// The token endpoint from an RFC 8414 authorization server metadata answer
// fetched from `url`: its "issuer" must equal `issuer` exactly (§3.3) and
// its "token_endpoint" must be https://. Errors: unavailable (no answer,
// bad JSON), invalid_config (issuer mismatch, bad endpoint).
Result<std::string> parse_authorization_server_metadata(const HttpResponse& response,
                                                        const std::string& issuer,
                                                        const std::string& url);

// Everything MaskinportenClient needs from the outside world. The real one
// uses libcurl, the system clocks and sleeps; tests pass fakes to run the
// retry policy without network or waiting.
struct MaskinportenIo {
  std::function<Result<HttpResponse>(const std::string& url, const std::string& form_body,
                                     int timeout_seconds)>
      post_form;
  std::function<Result<HttpResponse>(const std::string& url)> get;
  std::function<void(std::chrono::milliseconds)> sleep;
  Clock clock;  // steady: the deadline; epoch: expires_at, Retry-After dates
};

class MaskinportenClient {
 public:
  explicit MaskinportenClient(ClientConfig client);
  MaskinportenClient(ClientConfig client, MaskinportenIo io);

  // Resolves the token endpoint (discovery if configured). Errors: unavailable.
  Status prepare();

  // Posts grants made by `make_grant` until one succeeds or the deadline
  // passes. Each attempt is a fresh grant. Network errors, 5xx and 429 are
  // retried under RetryPolicy (429 honours Retry-After);
  // 4xx is never retried; errors from `make_grant` are returned at once.
  // Safe to call from several threads at once after prepare().
  Result<AccessToken> exchange(const std::function<Result<SignedGrant>()>& make_grant);

  const std::string& token_endpoint() const { return token_endpoint_; }

 private:
  ClientConfig client_;
  MaskinportenIo io_;
  std::string token_endpoint_;
};

}  // namespace mpa
