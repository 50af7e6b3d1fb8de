// The claims of a Maskinporten access token, checked once its signature
// holds: iss, aud, exp/iat/nbf within the leeway, scopes, consumer; then
// authorization_details normalised.
#include <rapidjson/stringbuffer.h>
#include <rapidjson/writer.h>

#include <optional>
#include <string>
#include <string_view>

#include "agent/verify/authorization_details.h"
#include "agent/verify/jws.h"
#include "agent/verify/verifier.h"
#include "common/clock.h"
#include "common/json_text.h"
#include "common/text.h"

namespace mpa::verify {
namespace {

Result<std::optional<std::int64_t>> time_claim(const rapidjson::Value& claims, const char* name) {
  const rapidjson::Value* value = json::find(claims, name);
  if (value == nullptr) return std::optional<std::int64_t>{};
  if (!value->IsInt64()) return refuse(std::string(name) + " must be epoch seconds (an integer)");
  return std::optional<std::int64_t>{value->GetInt64()};
}

std::string leeway_words(int leeway) { return " (leeway " + std::to_string(leeway) + " s)"; }

Status check_lifetime(const rapidjson::Value& claims, std::int64_t now, int leeway) {
  MPA_ASSIGN_OR_RETURN(const auto exp, time_claim(claims, "exp"));
  if (!exp) return refuse("the token has no exp (expiry) claim; Maskinporten's tokens always do");
  // now - leeway cannot overflow (now is a clock reading); exp + leeway could.
  if (*exp < now - leeway) return refuse("token expired at " + format_utc(*exp) + leeway_words(leeway));
  MPA_ASSIGN_OR_RETURN(const auto iat, time_claim(claims, "iat"));
  if (!iat) return refuse("the token has no iat (issued at) claim; Maskinporten's tokens always do");
  if (*iat > now + leeway) {
    return refuse("token issued in the future, at " + format_utc(*iat) + leeway_words(leeway) +
                  "; is this machine's clock or the issuer's wrong?");
  }
  MPA_ASSIGN_OR_RETURN(const auto nbf, time_claim(claims, "nbf"));
  if (nbf && *nbf > now + leeway) {
    return refuse("token not valid before " + format_utc(*nbf) + leeway_words(leeway));
  }
  return {};
}

Status check_issuer(const rapidjson::Value& claims, const std::string& issuer) {
  const rapidjson::Value* iss = json::find(claims, "iss");
  if (iss == nullptr) return refuse("the token has no iss claim; expected " + quoted(issuer, 256));
  if (iss->IsString() && json::view(*iss) == issuer) return {};
  const std::string shown = iss->IsString() ? quoted(json::view(*iss)) : "not a string";
  return refuse("iss is " + shown + "; only " + quoted(issuer, 256) + " is accepted");
}

// RFC 7519 §4.1.3: aud is one string or an array of them.
Status check_audience(const rapidjson::Value& claims, const std::optional<std::string>& audience) {
  if (!audience) return {};
  const rapidjson::Value* aud = json::find(claims, "aud");
  if (aud == nullptr) {
    return refuse("the token has no aud claim; audience " + quoted(*audience, 256) +
                  " is required (Maskinporten sets aud when the client asks with resource)");
  }
  if (aud->IsString()) {
    if (json::view(*aud) == *audience) return {};
    return refuse("aud is " + quoted(json::view(*aud), 256) + "; only " + quoted(*audience, 256) +
                  " is accepted");
  }
  if (!aud->IsArray()) return refuse("aud is neither a string nor an array of strings");
  for (const rapidjson::Value& one : aud->GetArray()) {
    if (one.IsString() && json::view(one) == *audience) return {};
  }
  return refuse("aud does not name " + quoted(*audience, 256) + " (an array of " +
                std::to_string(aud->Size()) + ")");
}

Status check_scopes(const rapidjson::Value& claims, const std::vector<std::string>& required) {
  if (required.empty()) return {};
  const rapidjson::Value* scope = json::find(claims, "scope");
  if (scope == nullptr || !scope->IsString()) {
    return refuse("the token has no scope claim (a space-separated string); " +
                  quoted(required.front()) + " is required");
  }
  const std::string_view granted = json::view(*scope);
  for (const std::string& wanted : required) {
    bool found = false;
    for (std::size_t at = 0; at <= granted.size() && !found;) {
      const std::size_t end = std::min(granted.find(' ', at), granted.size());
      found = granted.substr(at, end - at) == wanted;
      at = end + 1;
    }
    if (!found) {
      return refuse("the token's scope lacks " + quoted(wanted) + " (it grants " +
                    quoted(granted, 256) + ")");
    }
  }
  return {};
}

Status check_consumer(const rapidjson::Value& claims, const std::optional<std::string>& org) {
  if (!org) return {};
  const rapidjson::Value* consumer = json::find(claims, "consumer");
  if (consumer == nullptr || !consumer->IsObject()) {
    return refuse("the token has no consumer claim; consumer organisation " + *org + " is required");
  }
  MPA_ASSIGN_OR_RETURN(const std::string number, organisation_of(*consumer, "consumer"));
  if (number != *org) {
    return refuse("the token's consumer is organisation " + number + " (consumer.ID), not " + *org);
  }
  return {};
}

}  // namespace

Result<std::string> check_token_claims(std::string_view claims_json, const Expectations& expect,
                                       std::int64_t now) {
  MPA_ASSIGN_OR_RETURN(rapidjson::Document claims, parse_strict_object(claims_json, "the payload"));
  MPA_RETURN_IF_ERROR(check_issuer(claims, expect.issuer));
  MPA_RETURN_IF_ERROR(check_audience(claims, expect.audience));
  MPA_RETURN_IF_ERROR(check_lifetime(claims, now, expect.leeway_seconds));
  MPA_RETURN_IF_ERROR(check_scopes(claims, expect.scopes));
  MPA_RETURN_IF_ERROR(check_consumer(claims, expect.consumer_org));
  MPA_RETURN_IF_ERROR(normalise_authorization_details(claims, now));
  rapidjson::StringBuffer buffer;
  rapidjson::Writer<rapidjson::StringBuffer> writer(buffer);
  claims.Accept(writer);
  return std::string(buffer.GetString(), buffer.GetSize());
}

}  // namespace mpa::verify
