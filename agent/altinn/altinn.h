// Altinn: offline verification of self-contained consent tokens, and the
// exchange of a Maskinporten token for an Altinn token.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "agent/config/config.h"
#include "agent/http/async_http.h"
#include "agent/http/http.h"
#include "agent/maskinporten/maskinporten.h"
#include "common/clock.h"
#include "common/result.h"

namespace mpa::altinn {

// Tokens longer than this are refused before any parsing.
inline constexpr std::size_t kMaxConsentTokenBytes = 16 * 1024;
// More clock skew than this is a broken clock, not skew.
inline constexpr int kMaxLeewaySeconds = 600;

class ConsentVerifier {
 public:
  // Loads Altinn's public signing certificate(s) (PEM files; several during
  // rotation, and a file may hold several). Each must carry an RSA key of
  // at least 2048 bits. Errors: invalid_config, naming the file.
  static Result<std::shared_ptr<const ConsentVerifier>> create(
      const std::vector<std::string>& certificate_files, int leeway_seconds);

  // RS256 only, iss "altinn.no", exp required, exp/nbf within leeway,
  // ValidToDate not past, signature by one of the certificates (picked by
  // x5t when present). On success: the claims as a compact JSON object,
  // with "Services" also parsed into "services": [{code, edition, metadata}].
  // Errors: invalid_token with the reason. Safe to call from several threads.
  virtual Result<std::string> verify(std::string_view token, std::int64_t now) const = 0;

  virtual ~ConsentVerifier() = default;
};

// The claim checks that verify() runs once the signature holds, on the
// decoded payload alone. For tests and the fuzz target: never call it on a
// token whose signature has not been verified.
Result<std::string> check_consent_claims(std::string_view claims_json, std::int64_t now,
                                         int leeway_seconds);

// What the exchange needs from the outside world, so that its retry policy
// and status mapping are tested without network or real time.
struct ExchangeTransport {
  std::function<Result<HttpResponse>(const std::string& url,
                                     const std::vector<std::string>& headers,
                                     const HttpOptions& options)>
      get;
  Clock clock;  // steady: the retry deadline; epoch: expires_in
  std::function<void(std::chrono::milliseconds)> sleep;
};

// libcurl's http_get, the steady clock, a real sleep and the system clock.
ExchangeTransport system_exchange_transport();

// The exchange's outside world without a thread of its own: a GET whose
// answer comes later, and a timer for the wait before a retry.
struct AltinnIo {
  using Answer = std::function<void(Result<HttpResponse>)>;
  std::function<void(const std::string& url, const std::vector<std::string>& headers,
                     const HttpOptions& options, Answer answer)>
      get;
  std::function<void(std::chrono::milliseconds wait, std::function<void()> job)> after;
  Clock clock;  // steady: the retry deadline; epoch: expires_in

  // The client's AsyncHttp (connections kept and shared; answers and
  // timers on its thread) and the system clocks.
  static AltinnIo on(std::shared_ptr<AsyncHttp> http);
  // From calls that answer at once; the transport's sleep stands for the wait.
  static AltinnIo blocking(ExchangeTransport transport);
};

using AltinnDone = std::function<void(Result<AccessToken>)>;

// Whether `client` can make Altinn tokens at all: only a "custom" client
// lacks altinn_exchange_endpoint (test and prod have Digdir's). Checked
// before a grant is signed. Errors: invalid_request, saying what to set.
Status check_exchange_endpoint(const ClientConfig& client);

// GET <client.altinn_exchange_endpoint> with the Maskinporten token as
// Bearer; the body is the Altinn JWT, whose `exp` gives expires_at.
// 5xx, 429 and network errors retried under RetryPolicy within the
// client's retry deadline (then unavailable; a 429's Retry-After is
// honoured), each wait a timer of `io`; 401 -> invalid_grant,
// 403 -> forbidden, other 4xx -> invalid_grant, in words, never retried.
// `done` runs once, on whichever thread answered last; it must not block.
void exchange_for_altinn(const ClientConfig& client, const std::string& maskinporten_token,
                         AltinnIo io, AltinnDone done);
// The same, waiting: libcurl's blocking http_get (one-shot commands), or
// `transport` (tests).
Result<AccessToken> exchange_for_altinn(const ClientConfig& client,
                                        const std::string& maskinporten_token);
Result<AccessToken> exchange_for_altinn(const ClientConfig& client,
                                        const std::string& maskinporten_token,
                                        const ExchangeTransport& transport);

}  // namespace mpa::altinn
