// Verification of Maskinporten access tokens for API providers and data
// sources: the RS256 signature by the issuer's key the header's kid names,
// the issuer, the audience, the lifetime, scopes and consumer, and Altinn 3's
// authorization_details (consents, system users) normalised. Claim names
// and formats: Digdir's "access token" page for Maskinporten; Altinn's
// "validate consent" and "system user for API providers" pages.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "agent/verify/jwks.h"
#include "common/result.h"

namespace mpa::verify {

// Maskinporten's tokens are 1-3 KiB; consent details add a few more.
// Longer is refused before any parsing.
inline constexpr std::size_t kMaxTokenBytes = 32 * 1024;
// More clock skew than this is a broken clock, not skew.
inline constexpr int kMaxLeewaySeconds = 600;
inline constexpr int kDefaultLeewaySeconds = 60;
// Digdir's issuer identifiers (the metadata's "issuer", and every token's iss).
inline constexpr std::string_view kTestIssuer = "https://test.maskinporten.no/";
inline constexpr std::string_view kProdIssuer = "https://maskinporten.no/";

// "test" / "prod" -> the issuer; nullopt for any other name.
std::optional<std::string> issuer_of_environment(std::string_view environment);

struct Expectations {
  std::string issuer;                      // iss, exactly
  std::vector<std::string> scopes;         // each in the token's scope
  std::optional<std::string> consumer_org;  // consumer.ID's organisation number
  // aud exactly this (a string, or one of an array's); a token Maskinporten
  // made for another API (with `resource`) then fails.
  std::optional<std::string> audience;
  int leeway_seconds = kDefaultLeewaySeconds;
};

// Where the keys come from: a file, or the issuer's jwks_uri with a cache.
class KeySource {
 public:
  virtual ~KeySource() = default;
  // The set to verify with now. Errors: unavailable (the issuer cannot be
  // reached and no usable set is held), invalid_config (a bad set).
  virtual Result<std::shared_ptr<const Jwks>> keys() = 0;
  // Asked when a token's kid is not in keys(): the issuer may have rotated
  // a key in. A fresh set, or the held one when fetching again is not
  // allowed now.
  virtual Result<std::shared_ptr<const Jwks>> keys_after_unknown_kid() = 0;
};

// On success: the claims as one compact JSON object, with
// authorization_details normalised (see check_token_claims). Errors:
// invalid_token with the reason in words; unavailable/invalid_config from
// the key source. Safe to call from several threads if `keys` is.
Result<std::string> verify_token(std::string_view token, KeySource& keys,
                                 const Expectations& expect, std::int64_t now);

// The claim checks verify_token runs once the signature holds. For tests
// and the fuzz target: never call it on a token whose signature has not
// been verified.
Result<std::string> check_token_claims(std::string_view claims_json, const Expectations& expect,
                                       std::int64_t now);

}  // namespace mpa::verify
