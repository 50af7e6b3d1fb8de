#include "agent/signer_helper/signing_policy.h"

#include <rapidjson/document.h>

#include <algorithm>
#include <optional>
#include <set>

#include "agent/jwt/jose.h"
#include "agent/signer_helper/wire.h"
#include "common/json_text.h"
#include "common/text.h"

namespace mpa::signer_helper {
namespace {

Error refused(const std::string& why) {
  return make_error(ErrorCode::forbidden, "the signer refuses: " + why);
}

// Two members of one name would let a verifier read another value than the
// one checked here, so each name may appear once (RFC 7515 §5.2 allows
// refusing them).
bool has_duplicate_names(const rapidjson::Value& object) {
  std::set<std::string_view> seen;
  for (rapidjson::SizeType i = 0; i < object.MemberCount(); ++i) {
    if (!seen.insert(json::view(json::member_at(object, i).name)).second) return true;
  }
  return false;
}

Result<rapidjson::Document> decode_object(std::string_view part, const std::string& what) {
  auto text = jose::base64url_decode(part);
  if (!text) return refused("the " + what + " is not base64url");
  if (!json::nesting_within(*text, kMaxClaimsDepth)) return refused("the " + what + " nests too deep");
  rapidjson::Document document;
  if (const std::string why = json::parse_strict(document, *text); !why.empty()) {
    return refused("the " + what + " is not JSON: " + why);
  }
  if (!document.IsObject()) return refused("the " + what + " is not a JSON object");
  if (has_duplicate_names(document)) return refused("the " + what + " repeats a member name");
  return document;
}

Status check_header(const rapidjson::Value& header, const SigningPolicy& policy, JwsAlg alg) {
  if (std::find(policy.algs.begin(), policy.algs.end(), alg) == policy.algs.end()) {
    return refused("alg " + std::string(to_string(alg)) + " is not configured");
  }
  const rapidjson::Value* named = json::find(header, "alg");
  if (named == nullptr || !named->IsString()) return refused("the header has no alg");
  if (json::view(*named) != to_string(alg)) {
    return refused("the header's alg " + mpa::quoted(json::view(*named)) + " is not the " +
                   std::string(to_string(alg)) + " asked for");
  }
  return {};
}

std::optional<std::int64_t> integer_claim(const rapidjson::Value& claims, std::string_view name) {
  const rapidjson::Value* v = json::find(claims, name);
  if (v == nullptr || !v->IsInt64()) return std::nullopt;
  return v->GetInt64();
}

Status check_claims(const rapidjson::Value& claims, const SigningPolicy& policy, std::int64_t now) {
  const rapidjson::Value* aud = json::find(claims, "aud");
  if (aud == nullptr || !aud->IsString()) return refused("the claims have no aud string");
  const auto& allowed = policy.audiences;
  if (std::find(allowed.begin(), allowed.end(), json::view(*aud)) == allowed.end()) {
    return refused("aud " + mpa::quoted(json::view(*aud)) + " is not a configured issuer");
  }
  const auto iat = integer_claim(claims, "iat");
  const auto exp = integer_claim(claims, "exp");
  if (!iat || !exp) return refused("the claims need integer iat and exp");
  if (*exp <= *iat) return refused("exp is not after iat");
  if (*exp - *iat > kMaxGrantLifetimeSeconds) {
    return refused("exp - iat is " + std::to_string(*exp - *iat) + " s, more than " +
                   std::to_string(kMaxGrantLifetimeSeconds));
  }
  if (*iat > now + kMaxIatSkewSeconds || *iat < now - kMaxIatSkewSeconds) {
    return refused("iat is " + std::to_string(*iat - now) + " s from the signer's clock, more than " +
                   std::to_string(kMaxIatSkewSeconds));
  }
  return {};
}

}  // namespace

Status check_signing_input(const SigningPolicy& policy, JwsAlg alg, std::string_view signing_input,
                           std::int64_t now) {
  if (signing_input.size() > kMaxSigningInputBytes) return refused("the signing input is too long");
  const std::size_t dot = signing_input.find('.');
  if (dot == std::string_view::npos || signing_input.find('.', dot + 1) != std::string_view::npos) {
    return refused("the signing input is not header.claims");
  }
  auto header = decode_object(signing_input.substr(0, dot), "header");
  if (!header) return std::move(header).error();
  if (auto ok = check_header(*header, policy, alg); !ok) return ok;
  auto claims = decode_object(signing_input.substr(dot + 1), "claims");
  if (!claims) return std::move(claims).error();
  return check_claims(*claims, policy, now);
}

}  // namespace mpa::signer_helper
