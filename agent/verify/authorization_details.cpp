// Consents and system users from authorization_details. Shapes: Altinn's
// "Consent for data source" (validate-consent) and "system user for API
// providers" pages; both spellings of metadata (metadata, metaData) and of
// the organisation's ID (ID, id) appear in Altinn's own examples.
#include "agent/verify/authorization_details.h"

#include "agent/verify/date_time.h"
#include "agent/verify/jws.h"
#include "agent/verify/norwegian_numbers.h"
#include "common/clock.h"
#include "common/json_text.h"
#include "common/text.h"

namespace mpa::verify {
namespace {

using Allocator = rapidjson::Document::AllocatorType;

constexpr std::string_view kConsentType = "urn:altinn:consent";
constexpr std::string_view kSystemUserType = "urn:altinn:systemuser";
constexpr std::string_view kIso6523 = "iso6523-actorid-upis";
constexpr std::string_view kNorwegianOrgPrefix = "0192:";  // ICD 0192: Enhetsregisteret
constexpr std::string_view kPersonUrn = "urn:altinn:person:identifier-no:";
constexpr std::string_view kOrganisationUrn = "urn:altinn:organization:identifier-no:";

rapidjson::Value text(std::string_view s, Allocator& alloc) {
  return rapidjson::Value(s.data(), static_cast<rapidjson::SizeType>(s.size()), alloc);
}

rapidjson::Value party(const char* kind, std::string_view number, Allocator& alloc) {
  rapidjson::Value out(rapidjson::kObjectType);
  out.AddMember(rapidjson::StringRef(kind), text(number, alloc), alloc);
  return out;
}

Result<std::string_view> required_string(const rapidjson::Value& entry, const char* name,
                                         std::string_view what) {
  const rapidjson::Value* value = json::find(entry, name);
  if (value == nullptr || !value->IsString() || value->GetStringLength() == 0) {
    return refuse(std::string(what) + " has no " + name + " (a string)");
  }
  return json::view(*value);
}

// "urn:altinn:person:identifier-no:N" or "...:organization:identifier-no:N".
Result<rapidjson::Value> consent_from(const rapidjson::Value& entry, Allocator& alloc) {
  MPA_ASSIGN_OR_RETURN(const std::string_view from, required_string(entry, "from", "a consent"));
  if (from.starts_with(kPersonUrn)) {
    // The number itself stays out of messages: it is a person's.
    if (!national_identity_number_ok(from.substr(kPersonUrn.size()))) {
      return refuse("the consent's from is not a valid national identity number "
                    "(11 digits, date part and mod-11 check digits)");
    }
    return party("person", from.substr(kPersonUrn.size()), alloc);
  }
  if (from.starts_with(kOrganisationUrn)) {
    if (!organisation_number_ok(from.substr(kOrganisationUrn.size()))) {
      return refuse("the consent's from is not a valid organisation number "
                    "(9 digits and the mod-11 check digit)");
    }
    return party("organisation", from.substr(kOrganisationUrn.size()), alloc);
  }
  return refuse("the consent's from is neither " + std::string(kPersonUrn) + "N nor " +
                std::string(kOrganisationUrn) + "N");
}

Result<rapidjson::Value> consent_to(const rapidjson::Value& entry, Allocator& alloc) {
  const rapidjson::Value* to = json::find(entry, "to");
  if (to != nullptr && to->IsString() && json::view(*to).starts_with(kOrganisationUrn)) {
    const std::string_view number = json::view(*to).substr(kOrganisationUrn.size());
    if (number.size() == 9 && all_digits(number)) return party("organisation", number, alloc);
  }
  if (to == nullptr || !to->IsObject()) {
    return refuse("the consent has no to (an organisation: {authority, ID})");
  }
  MPA_ASSIGN_OR_RETURN(const std::string number, organisation_of(*to, "the consent's to"));
  return party("organisation", number, alloc);
}

Status consent_times(const rapidjson::Value& entry, std::int64_t now, rapidjson::Value& out,
                     Allocator& alloc) {
  for (const char* name : {"consented", "validTo"}) {
    MPA_ASSIGN_OR_RETURN(const std::string_view value, required_string(entry, name, "a consent"));
    const auto epoch = parse_date_time(value);
    if (!epoch) {
      return refuse(std::string("the consent's ") + name + " " + quoted(value, 40) +
                    " is not a date-time (YYYY-MM-DDTHH:MM:SS[.fraction][offset])");
    }
    // The consent's own end: a business date, so no clock-skew leeway.
    if (std::string_view(name) == "validTo" && *epoch < now) {
      return refuse("the consent ended at " + format_utc(*epoch) + " (validTo)");
    }
    out.AddMember(rapidjson::StringRef(name), text(value, alloc), alloc);
  }
  return {};
}

Result<rapidjson::Value> string_array(const rapidjson::Value* value, const char* what,
                                      Allocator& alloc) {
  rapidjson::Value out(rapidjson::kArrayType);
  if (value != nullptr && value->IsString()) {
    out.PushBack(text(json::view(*value), alloc), alloc);
    return out;
  }
  if (value == nullptr || !value->IsArray() || value->Empty()) {
    return refuse(std::string(what) + " is not a non-empty array of strings");
  }
  for (const auto& item : value->GetArray()) {
    if (!item.IsString()) return refuse(std::string(what) + " is not a non-empty array of strings");
    out.PushBack(text(json::view(item), alloc), alloc);
  }
  return out;
}

Result<rapidjson::Value> resources(const rapidjson::Value* value, Allocator& alloc) {
  if (value == nullptr || !value->IsArray() || value->Empty()) {
    return refuse("a consent right has no resource array");
  }
  rapidjson::Value out(rapidjson::kArrayType);
  for (const auto& item : value->GetArray()) {
    if (!item.IsObject()) return refuse("a consent right's resource is not an object");
    MPA_ASSIGN_OR_RETURN(const auto type, required_string(item, "type", "a consent resource"));
    MPA_ASSIGN_OR_RETURN(const auto name, required_string(item, "value", "a consent resource"));
    rapidjson::Value resource(rapidjson::kObjectType);
    resource.AddMember("type", text(type, alloc), alloc);
    resource.AddMember("value", text(name, alloc), alloc);
    out.PushBack(resource, alloc);
  }
  return out;
}

Result<rapidjson::Value> metadata(const rapidjson::Value& right, Allocator& alloc) {
  const rapidjson::Value* lower = json::find(right, "metadata");
  const rapidjson::Value* camel = json::find(right, "metaData");
  if (lower != nullptr && camel != nullptr) {
    return refuse("a consent right has both metadata and metaData; which one holds is unclear");
  }
  const rapidjson::Value* value = lower != nullptr ? lower : camel;
  rapidjson::Value out(rapidjson::kObjectType);
  if (value == nullptr || value->IsNull()) return out;
  if (!value->IsObject()) return refuse("a consent right's metadata is not an object");
  for (rapidjson::SizeType i = 0; i < value->MemberCount(); ++i) {
    const auto& member = json::member_at(*value, i);
    if (!member.value.IsString()) {
      return refuse("consent metadata " + quoted(json::view(member.name)) + " is not a string");
    }
    out.AddMember(text(json::view(member.name), alloc), text(json::view(member.value), alloc),
                  alloc);
  }
  return out;
}

Result<rapidjson::Value> consent_rights(const rapidjson::Value& entry, Allocator& alloc) {
  const rapidjson::Value* rights = json::find(entry, "consentRights");
  if (rights == nullptr || !rights->IsArray() || rights->Empty()) {
    return refuse("the consent has no consentRights (a non-empty array)");
  }
  rapidjson::Value out(rapidjson::kArrayType);
  for (const auto& right : rights->GetArray()) {
    if (!right.IsObject()) return refuse("a consent right is not an object");
    rapidjson::Value normal(rapidjson::kObjectType);
    MPA_ASSIGN_OR_RETURN(auto action, string_array(json::find(right, "action"),
                                                   "a consent right's action", alloc));
    MPA_ASSIGN_OR_RETURN(auto resource, resources(json::find(right, "resource"), alloc));
    MPA_ASSIGN_OR_RETURN(auto meta, metadata(right, alloc));
    normal.AddMember("action", action, alloc);
    normal.AddMember("resource", resource, alloc);
    normal.AddMember("metadata", meta, alloc);
    out.PushBack(normal, alloc);
  }
  return out;
}

Result<rapidjson::Value> normal_consent(const rapidjson::Value& entry, std::int64_t now,
                                        Allocator& alloc) {
  rapidjson::Value out(rapidjson::kObjectType);
  out.AddMember("type", text(kConsentType, alloc), alloc);
  MPA_ASSIGN_OR_RETURN(const std::string_view id, required_string(entry, "id", "a consent"));
  out.AddMember("id", text(id, alloc), alloc);
  MPA_ASSIGN_OR_RETURN(auto from, consent_from(entry, alloc));
  out.AddMember("from", from, alloc);
  MPA_ASSIGN_OR_RETURN(auto to, consent_to(entry, alloc));
  out.AddMember("to", to, alloc);
  MPA_RETURN_IF_ERROR(consent_times(entry, now, out, alloc));
  MPA_ASSIGN_OR_RETURN(auto rights, consent_rights(entry, alloc));
  out.AddMember("consentRights", rights, alloc);
  return out;
}

Result<rapidjson::Value> normal_system_user(const rapidjson::Value& entry, Allocator& alloc) {
  rapidjson::Value out(rapidjson::kObjectType);
  out.AddMember("type", text(kSystemUserType, alloc), alloc);
  MPA_ASSIGN_OR_RETURN(auto ids, string_array(json::find(entry, "systemuser_id"),
                                              "the system user's systemuser_id", alloc));
  out.AddMember("systemuser_id", ids, alloc);
  MPA_ASSIGN_OR_RETURN(const auto system, required_string(entry, "system_id", "a system user"));
  out.AddMember("system_id", text(system, alloc), alloc);
  const rapidjson::Value* org = json::find(entry, "systemuser_org");
  if (org == nullptr || !org->IsObject()) {
    return refuse("the system user has no systemuser_org (an organisation: {authority, ID})");
  }
  MPA_ASSIGN_OR_RETURN(const std::string number, organisation_of(*org, "systemuser_org"));
  out.AddMember("systemuser_org", party("organisation", number, alloc), alloc);
  return out;
}

}  // namespace

Result<std::string> organisation_of(const rapidjson::Value& party, std::string_view what) {
  const std::string name(what);
  if (string_member(party, "authority") != kIso6523) {
    return refuse(name + ".authority is not \"" + std::string(kIso6523) + "\"");
  }
  const rapidjson::Value* id = json::find(party, "ID");
  if (id == nullptr) id = json::find(party, "id");
  const std::string_view value = id != nullptr && id->IsString() ? json::view(*id) : "";
  const std::string_view number = value.substr(std::min(value.size(), kNorwegianOrgPrefix.size()));
  if (!value.starts_with(kNorwegianOrgPrefix) || number.size() != 9 || !all_digits(number)) {
    return refuse(name + ".ID is not \"0192:\" and a 9-digit organisation number");
  }
  return std::string(number);
}

Status normalise_authorization_details(rapidjson::Document& claims, std::int64_t now) {
  rapidjson::Value* details = const_cast<rapidjson::Value*>(json::find(claims, "authorization_details"));
  if (details == nullptr) return {};
  if (!details->IsArray()) return refuse("authorization_details is not an array");
  Allocator& alloc = claims.GetAllocator();
  for (auto& entry : details->GetArray()) {
    if (!entry.IsObject()) return refuse("an authorization_details entry is not an object");
    const std::string_view type = string_member(entry, "type");
    if (type.empty()) return refuse("an authorization_details entry has no type (RFC 9396 §2)");
    if (type == kConsentType) {
      MPA_ASSIGN_OR_RETURN(rapidjson::Value normal, normal_consent(entry, now, alloc));
      entry = normal;
    } else if (type == kSystemUserType) {
      MPA_ASSIGN_OR_RETURN(rapidjson::Value normal, normal_system_user(entry, alloc));
      entry = normal;
    }
  }
  return {};
}

}  // namespace mpa::verify
