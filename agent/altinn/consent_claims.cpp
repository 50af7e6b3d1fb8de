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
#include "common/clock.h"
#include "common/json_text.h"
#include "common/text.h"

namespace mpa::altinn {
namespace {

using detail::refuse;

constexpr std::string_view kIssuer = "altinn.no";
// Europe/Oslo is UTC+1 or UTC+2: a date-time without an offset (older Altinn
// tokens) is read as the earliest instant it can mean, so a consent is never
// taken to last longer than Altinn meant.
constexpr std::int64_t kOsloMaxOffsetSeconds = 2 * 3600;

std::optional<int> two_digits(std::string_view s, std::size_t at) {
  if (at + 2 > s.size() || !all_digits(s.substr(at, 2))) return std::nullopt;
  return (s[at] - '0') * 10 + (s[at + 1] - '0');
}

// "YYYY-MM-DD[T ]HH:MM:SS[.fraction][Z|+HH:MM|-HH:MM]" as epoch seconds.
std::optional<std::int64_t> parse_date_time(std::string_view s) {
  if (s.size() < 19 || !all_digits(s.substr(0, 4)) || s[4] != '-' || s[7] != '-' ||
      (s[10] != 'T' && s[10] != ' ') || s[13] != ':' || s[16] != ':') {
    return std::nullopt;
  }
  const int year = std::stoi(std::string(s.substr(0, 4)));
  const auto month = two_digits(s, 5), day = two_digits(s, 8), hour = two_digits(s, 11),
             minute = two_digits(s, 14), second = two_digits(s, 17);
  if (!month || !day || !hour || !minute || !second || *hour > 23 || *minute > 59 ||
      *second > 59) {
    return std::nullopt;
  }
  const std::chrono::year_month_day date{std::chrono::year{year},
                                         std::chrono::month{static_cast<unsigned>(*month)},
                                         std::chrono::day{static_cast<unsigned>(*day)}};
  if (!date.ok()) return std::nullopt;
  std::int64_t epoch =
      std::int64_t{std::chrono::sys_days{date}.time_since_epoch().count()} * 86400 +
                       *hour * 3600 + *minute * 60 + *second;
  std::size_t i = 19;
  if (i < s.size() && s[i] == '.') {
    const std::size_t start = ++i;
    while (i < s.size() && s[i] >= '0' && s[i] <= '9') ++i;
    if (i == start || i - start > 9) return std::nullopt;
  }
  const std::string_view zone = s.substr(i);
  if (zone.empty()) return epoch - kOsloMaxOffsetSeconds;
  if (zone == "Z") return epoch;
  const auto zone_hours = two_digits(zone, 1), zone_minutes = two_digits(zone, 4);
  if (zone.size() != 6 || (zone[0] != '+' && zone[0] != '-') || zone[3] != ':' || !zone_hours ||
      !zone_minutes || *zone_hours > 23 || *zone_minutes > 59) {
    return std::nullopt;
  }
  const std::int64_t offset = *zone_hours * 3600 + *zone_minutes * 60;
  return zone[0] == '+' ? epoch - offset : epoch + offset;
}

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

// Mod-11 check digit over `digits` with `weights` (Skatteetaten / Brønnøysund);
// nullopt when no digit is possible (remainder 1).
std::optional<int> mod11(std::string_view digits, std::initializer_list<int> weights) {
  int sum = 0;
  std::size_t i = 0;
  for (int w : weights) sum += w * (digits[i++] - '0');
  const int k = 11 - sum % 11;
  if (k == 10) return std::nullopt;
  return k == 11 ? 0 : k;
}

bool national_identity_number_ok(std::string_view n) {
  const int day = (n[0] - '0') * 10 + (n[1] - '0');
  const int month = (n[2] - '0') * 10 + (n[3] - '0');
  // D-numbers add 4 to the first digit (day + 40); H-numbers and the
  // synthetic test persons of Tenor (TT02) add 40 or 80 to the month.
  const bool day_ok = (day >= 1 && day <= 31) || (day >= 41 && day <= 71);
  const bool month_ok = month % 40 >= 1 && month % 40 <= 12 && month <= 92;
  const auto k1 = mod11(n, {3, 7, 6, 1, 8, 9, 4, 5, 2});
  const auto k2 = mod11(n, {5, 4, 3, 2, 7, 6, 5, 4, 3, 2});
  return day_ok && month_ok && k1 && *k1 == n[9] - '0' && k2 && *k2 == n[10] - '0';
}

bool organisation_number_ok(std::string_view n) {
  const auto k = mod11(n, {3, 2, 7, 6, 5, 4, 3, 2});
  return k && *k == n[8] - '0';
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
