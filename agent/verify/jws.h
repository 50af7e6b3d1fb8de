// The compact JWS (RFC 7515 §7.1) pieces every verifier of a signed token
// shares: splitting, the strict parse of its JSON parts, the header rules
// and the RS256 signature check (RFC 7518 §3.3). Used by the Maskinporten
// token verifier (agent/verify) and Altinn's consent verifier (agent/altinn).
#pragma once

#include <openssl/evp.h>
#include <rapidjson/document.h>

#include <span>
#include <string>
#include <string_view>
#include <utility>

#include "common/result.h"

namespace mpa::verify {

inline Error refuse(std::string message) {
  return make_error(ErrorCode::invalid_token, std::move(message));
}

struct CompactJws {
  std::string_view signing_input;  // header.payload, as signed (points into the token)
  std::string header;
  std::string payload;
  std::string signature;
};

// Three strict base64url parts. Errors: invalid_token, in words.
Result<CompactJws> split_compact_jws(std::string_view token);

// A JSON object, parsed by json::parse_strict_json (duplicate members
// refused at every level, nesting bounded). Errors: invalid_token
// "<what> is not ...".
Result<rapidjson::Document> parse_strict_object(std::string_view json, std::string_view what);

// Who signs, for the words of a refusal: "Altinn" / "Maskinporten", and
// what the caller trusts: "the configured Altinn certificates".
struct HeaderRules {
  std::string_view signer;
  std::string_view trusted_keys;
  std::span<const std::string_view> accepted_typ;  // when typ is present
};

// alg exactly RS256; no header parameter that brings or points to a key
// (jwk, x5c, jku, x5u) and no crit; typ, when present, one of accepted_typ.
Status check_rs256_header(const rapidjson::Value& header, const HeaderRules& rules);

// RSASSA-PKCS1-v1_5 with SHA-256 over the signing input, by `key`.
bool rs256_signature_verifies(EVP_PKEY* key, const CompactJws& jws);

// The string member `name` of `object`, or empty when absent or not a string.
std::string_view string_member(const rapidjson::Value& object, const char* name);

}  // namespace mpa::verify
