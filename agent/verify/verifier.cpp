// The signature half of verify_token: size, compact form, header, and the
// RS256 signature by the key the header's kid names.
#include "agent/verify/verifier.h"

#include "agent/verify/jws.h"
#include "common/json_text.h"
#include "common/text.h"

namespace mpa::verify {
namespace {

// Maskinporten's access tokens carry no typ today; RFC 9068 names at+jwt.
constexpr std::string_view kAcceptedTyp[] = {"JWT", "at+jwt", "application/at+jwt"};
constexpr HeaderRules kMaskinportenHeaderRules{"Maskinporten", "the issuer's published keys (JWKS)",
                                               kAcceptedTyp};

Result<std::string> kid_of(const rapidjson::Value& header) {
  const rapidjson::Value* kid = json::find(header, "kid");
  if (kid == nullptr || !kid->IsString() || kid->GetStringLength() == 0) {
    return refuse("the header has no kid; Maskinporten names its signing key in every token");
  }
  return std::string(json::view(*kid));
}

// The key the kid names; one fetch of the set again when it names none
// (a key rotated in since the set was fetched).
Result<EVP_PKEY*> key_for(std::string_view kid, KeySource& source,
                          std::shared_ptr<const Jwks>& holder) {
  MPA_ASSIGN_OR_RETURN(holder, source.keys());
  if (EVP_PKEY* key = holder->find(kid)) return key;
  MPA_ASSIGN_OR_RETURN(holder, source.keys_after_unknown_kid());
  if (EVP_PKEY* key = holder->find(kid)) return key;
  std::string known;
  for (const auto& k : holder->kids()) known += (known.empty() ? "" : ", ") + quoted(k);
  return refuse("no key with kid " + quoted(kid) + " in the issuer's key set (it holds " + known +
                "); the token was not signed by the issuer, or by a key it no longer publishes");
}

}  // namespace

std::optional<std::string> issuer_of_environment(std::string_view environment) {
  if (environment == "test") return std::string(kTestIssuer);
  if (environment == "prod") return std::string(kProdIssuer);
  return std::nullopt;
}

Result<std::string> verify_token(std::string_view token, KeySource& keys,
                                 const Expectations& expect, std::int64_t now) {
  if (token.size() > kMaxTokenBytes) {
    return refuse("the token is " + std::to_string(token.size()) + " bytes; at most " +
                  std::to_string(kMaxTokenBytes) + " are accepted");
  }
  MPA_ASSIGN_OR_RETURN(const CompactJws jws, split_compact_jws(token));
  MPA_ASSIGN_OR_RETURN(const rapidjson::Document header, parse_strict_object(jws.header, "the header"));
  MPA_RETURN_IF_ERROR(check_rs256_header(header, kMaskinportenHeaderRules));
  MPA_ASSIGN_OR_RETURN(const std::string kid, kid_of(header));
  std::shared_ptr<const Jwks> holder;  // keeps the key alive while it is used
  MPA_ASSIGN_OR_RETURN(EVP_PKEY* key, key_for(kid, keys, holder));
  if (!rs256_signature_verifies(key, jws)) {
    return refuse("the signature does not verify with the issuer's key " + quoted(kid));
  }
  return check_token_claims(jws.payload, expect, now);
}

}  // namespace mpa::verify
