// The claims of an Altinn consent token, checked once its signature holds.
// Claim names and formats: Altinn's "Informasjon om token" page for data
// sources (altinn.github.io/docs/utviklingsguider/samtykke/datakilde/bruk-av-token).
#include <rapidjson/stringbuffer.h>
#include <rapidjson/writer.h>

#include <chrono>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "agent/altinn/altinn.h"
#include "agent/altinn/detail.h"
#include "agent/verify/date_time.h"
#include "agent/verify/norwegian_numbers.h"
#include "common/clock.h"
#include "common/json_text.h"
#include "common/text.h"

namespace mpa::altinn {
namespace {

using detail::refuse;
using verify::national_identity_number_ok;
using verify::organisation_number_ok;
using verify::parse_date_time;

constexpr std::string_view kIssuer = "altinn.no";
// Epoch seconds from an integer, or from a date-time string when
// `strings_allowed` (Altinn's ValidToDate and DelegatedDate have been both).
Result<std::optional<std::int64_t>> time_claim(const rapidjson::Value& claims, const char* name,
                                               bool strings_allowed) {
  const auto it = claims.FindMember(name);
  if (it == claims.MemberEnd()) return std::optional<std::int64_t>{};
  if (it->value.IsInt64()) return std::optional<std::int64_t>{it->value.GetInt64()};
  if (strings_allowed && it->value.IsString()) {
    const std::string_view text(it->value.GetString(), it->value.GetStringLength());
    if (auto epoch = parse_date_time(text)) return std::optional<std::int64_t>{*epoch};
    return refuse(std::string(name) + " \"" + printable(text, 40) +
                  "\" is not a date-time (YYYY-MM-DDTHH:MM:SS)");
  }
  return refuse(std::string(name) + (strings_allowed
                                         ? " must be epoch seconds (an integer) or a date-time"
                                         : " must be epoch seconds (an integer)"));
}

Status check_lifetime(const rapidjson::Value& claims, std::int64_t now, int leeway) {
  MPA_ASSIGN_OR_RETURN(const auto exp, time_claim(claims, "exp", false));
  if (!exp) return refuse("the token has no exp (expiry) claim; Altinn's tokens always do");
  // now - leeway cannot overflow (now is a clock reading); exp + leeway could.
  if (*exp < now - leeway) {
    return refuse("token expired at " + format_utc(*exp) + " (leeway " + std::to_string(leeway) +
                  " s)");
  }
  MPA_ASSIGN_OR_RETURN(const auto nbf, time_claim(claims, "nbf", false));
  if (nbf && *nbf > now + leeway) {
    return refuse("token not valid before " + format_utc(*nbf) + " (leeway " +
                  std::to_string(leeway) + " s)");
  }
  MPA_RETURN_IF_ERROR(time_claim(claims, "iat", false));
  MPA_ASSIGN_OR_RETURN(const auto valid_to, time_claim(claims, "ValidToDate", true));
  // The consent's own end: a business date, so no clock-skew leeway.
  if (valid_to && *valid_to < now) {
    return refuse("the consent ended at " + format_utc(*valid_to) + " (ValidToDate)");
  }
  MPA_RETURN_IF_ERROR(time_claim(claims, "DelegatedDate", true));
  return {};
}

Status check_issuer(const rapidjson::Value& claims) {
  const auto it = claims.FindMember("iss");
  if (it == claims.MemberEnd()) return refuse("the token has no iss claim; expected \"altinn.no\"");
  if (!it->value.IsString() ||
      std::string_view(it->value.GetString(), it->value.GetStringLength()) != kIssuer) {
    const std::string shown =
        it->value.IsString()
            ? "\"" + printable({it->value.GetString(), it->value.GetStringLength()}, 64) + "\""
            : std::string("not a string");
    return refuse("iss is " + shown + "; only \"altinn.no\" is accepted");
  }
  return {};
}

// The value itself stays out of messages: it may be a person's number.
Status check_party(const rapidjson::Value& claims, const char* name, bool required) {
  const auto it = claims.FindMember(name);
  if (it == claims.MemberEnd()) {
    if (!required) return {};
    return refuse(std::string("the token has no ") + name + " claim");
  }
  const std::string_view v =
      it->value.IsString() ? std::string_view(it->value.GetString(), it->value.GetStringLength())
                           : std::string_view();
  if (all_digits(v) && v.size() == 11) {
    if (national_identity_number_ok(v)) return {};
    return refuse(std::string(name) +
                  " is not a valid national identity number (date part or mod-11 check digits)");
  }
  if (all_digits(v) && v.size() == 9) {
    if (organisation_number_ok(v)) return {};
    return refuse(std::string(name) + " is not a valid organisation number (mod-11 check digit)");
  }
  return refuse(std::string(name) +
                " must be an 11-digit national identity number or a 9-digit organisation number");
}

bool is_guid(std::string_view s) {
  if (s.size() != 36) return false;
  for (std::size_t i = 0; i < s.size(); ++i) {
    const char c = s[i];
    const bool hex = (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F');
    if ((i == 8 || i == 13 || i == 18 || i == 23) ? c != '-' : !hex) return false;
  }
  return true;
}

Status check_authorization_code(const rapidjson::Value& claims) {
  const auto it = claims.FindMember("AuthorizationCode");
  if (it == claims.MemberEnd()) return refuse("the token has no AuthorizationCode claim");
  if (!it->value.IsString() || !is_guid({it->value.GetString(), it->value.GetStringLength()})) {
    return refuse("AuthorizationCode is not a GUID (xxxxxxxx-xxxx-xxxx-xxxx-xxxxxxxxxxxx)");
  }
  return {};
}

}  // namespace

Result<std::string> check_consent_claims(std::string_view claims_json, std::int64_t now,
                                         int leeway_seconds) {
  auto parsed = detail::parse_strict_object(claims_json, "the payload");
  if (!parsed) return std::move(parsed).error();
  rapidjson::Document& claims = *parsed;
  MPA_RETURN_IF_ERROR(check_issuer(claims));
  MPA_RETURN_IF_ERROR(check_lifetime(claims, now, leeway_seconds));
  MPA_ASSIGN_OR_RETURN(const std::vector<detail::Service> services, detail::services_of(claims));
  MPA_RETURN_IF_ERROR(check_authorization_code(claims));
  MPA_RETURN_IF_ERROR(check_party(claims, "OfferedBy", true));
  MPA_RETURN_IF_ERROR(check_party(claims, "CoveredBy", true));
  MPA_RETURN_IF_ERROR(check_party(claims, "HandledBy", false));
  if (claims.HasMember("services")) {
    return refuse("the token carries a claim named \"services\", which the output reserves");
  }
  claims.AddMember("services", detail::services_json(services, claims.GetAllocator()),
                   claims.GetAllocator());
  rapidjson::StringBuffer buffer;
  rapidjson::Writer<rapidjson::StringBuffer> writer(buffer);
  claims.Accept(writer);
  return std::string(buffer.GetString(), buffer.GetSize());
}

}  // namespace mpa::altinn
