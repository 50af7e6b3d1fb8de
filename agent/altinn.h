// Altinn: offline verification of self-contained consent tokens, and the
// exchange of a Maskinporten token for an Altinn token.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "agent/config.h"
#include "agent/maskinporten.h"
#include "common/result.h"

namespace mpa::altinn {

// Tokens longer than this are refused before any parsing.
inline constexpr std::size_t kMaxConsentTokenBytes = 16 * 1024;

class ConsentVerifier {
 public:
  // Loads Altinn's public signing certificate(s) (PEM files; several during
  // rotation). Errors: invalid_config, naming the file.
  static Result<std::shared_ptr<const ConsentVerifier>> create(
      const std::vector<std::string>& certificate_files, int leeway_seconds);

  // RS256 only, iss "altinn.no", exp required, exp/nbf within leeway,
  // ValidToDate not past, signature by one of the certificates (picked by
  // x5t when present). On success: the claims as a compact JSON object,
  // with "Services" also parsed into "services": [{code, edition, metadata}].
  // Errors: invalid_token with the reason.
  virtual Result<std::string> verify(std::string_view token, std::int64_t now) const = 0;

  virtual ~ConsentVerifier() = default;
};

// GET <client.altinn_exchange_endpoint> with the Maskinporten token as
// Bearer; the body is the Altinn JWT, whose `exp` gives expires_at.
// 5xx and network errors retried with backoff within the client's
// retry deadline; 401/403 -> invalid_grant/forbidden in words.
Result<AccessToken> exchange_for_altinn(const ClientConfig& client,
                                        const std::string& maskinporten_token);

}  // namespace mpa::altinn
