// Exchanges grants for access tokens at Maskinporten's /token.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>

#include "agent/config/config.h"
#include "agent/http/async_http.h"
#include "agent/http/http.h"
#include "agent/http/retry_policy.h"
#include "agent/jwt/grant.h"
#include "common/clock.h"
#include "common/result.h"

namespace mpa {

// The longest an access token is kept, from its receipt: Maskinporten's
// tokens live minutes to hours, so more than a day is a bug on the other
// side. Bounds expiry arithmetic (refresh-ahead) for every token we cache.
inline constexpr std::int64_t kMaxAccessTokenLifetimeSeconds = 24 * 60 * 60;

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

// Where the RFC 8414 metadata of `issuer` (an https:// URL ending in '/')
// is fetched from: <issuer>.well-known/oauth-authorization-server.
std::string authorization_server_metadata_url(const std::string& issuer);

// The /token request's form body for one signed grant (RFC 7523 §2.1).
std::string token_request_form(const std::string& signed_grant);

// Everything MaskinportenClient needs from the outside world. The real one
// is an AsyncHttp (answers and timers on its thread) and the system
// clocks; tests build one from blocking fakes with blocking().
struct MaskinportenIo {
  using Answer = std::function<void(Result<HttpResponse>)>;
  std::function<void(const std::string& url, const std::string& form_body, int timeout_seconds,
                     Answer answer)>
      post_form;
  std::function<void(const std::string& url, Answer answer)> get;
  // Runs the job after the wait; a retry's back-off.
  std::function<void(std::chrono::milliseconds wait, std::function<void()> job)> after;
  Clock clock;  // steady: the deadline; epoch: expires_at, Retry-After dates

  // From calls that answer at once; `sleep` stands for the wait.
  static MaskinportenIo blocking(
      std::function<Result<HttpResponse>(const std::string&, const std::string&, int)> post_form,
      std::function<Result<HttpResponse>(const std::string&)> get,
      std::function<void(std::chrono::milliseconds)> sleep, Clock clock);
};

class MaskinportenClient {
 public:
  using GrantDone = std::function<void(Result<SignedGrant>)>;
  // Makes one fresh grant and passes it on, when it is signed.
  using GrantMaker = std::function<void(GrantDone done)>;
  using TokenDone = std::function<void(Result<AccessToken>)>;

  // HTTP through `http`, made for this client's ca_file.
  MaskinportenClient(ClientConfig client, std::shared_ptr<AsyncHttp> http);
  MaskinportenClient(ClientConfig client, MaskinportenIo io);

  // Resolves the token endpoint (discovery if configured) once; callers
  // while it runs share the one attempt, and a failure is tried again by
  // the next call. Errors: unavailable, invalid_config.
  void prepare(std::function<void(Status)> done);
  // The same, waiting (never from an HTTP callback).
  Status prepare();

  // Posts grants made by `make_grant` until one succeeds or the deadline
  // passes. Each attempt is a fresh grant. Network errors, 5xx and 429 are
  // retried under RetryPolicy (429 honours Retry-After), waiting on the
  // io's timer; 4xx and an untrusted TLS certificate are never retried;
  // errors from `make_grant` are passed on at once. `done` runs once, on
  // whichever thread answered last. Needs a prepared endpoint.
  void exchange(GrantMaker make_grant, TokenDone done) const;
  // The same, waiting, with a grant maker that signs on the caller's (or,
  // for a retry, the HTTP) thread: for one-shot commands and tests.
  Result<AccessToken> exchange(const std::function<Result<SignedGrant>()>& make_grant) const;

  std::string token_endpoint() const;

 private:
  struct Endpoint;
  ClientConfig client_;
  MaskinportenIo io_;
  std::shared_ptr<Endpoint> endpoint_;
};

}  // namespace mpa
