// The checks a grant request passes before anything is signed (Digdir's
// grant table, RFC 6749 §3.3, RFC 8707, Altinn's authorization_details
// types). Limits per field: common/grant_request.h.
#include "agent/jwt/grant_request_check.h"

#include <algorithm>
#include <string_view>
#include <utility>

#include "common/json_text.h"
#include "common/text.h"

namespace mpa {
namespace {

// A Norwegian organisation number (Enhetsregisteret) has 9 digits.
constexpr std::size_t kOrgNumberDigits = 9;
// A Norwegian national identity number (fødselsnummer / D-number) has 11 digits.
constexpr std::size_t kPidDigits = 11;

constexpr std::string_view kSystemUserType = "urn:altinn:systemuser";
constexpr std::string_view kConsentType = "urn:altinn:consent";
// Altinn's system user guide: the customer is named by ISO 6523 ICD 0192
// (Norwegian organisation number) in the PEPPOL actor-id scheme.
constexpr std::string_view kSystemUserAuthority = "iso6523-actorid-upis";
constexpr std::string_view kOrgNumberIcdPrefix = "0192:";

bool is_visible_ascii(char c) { return c > 0x20 && c < 0x7f; }
bool is_printable_ascii(char c) { return c >= 0x20 && c < 0x7f; }
bool is_digit(char c) { return c >= '0' && c <= '9'; }

bool is_digits(std::string_view text, std::size_t count) {
  return text.size() == count && std::all_of(text.begin(), text.end(), is_digit);
}

Error invalid_request(std::string message) {
  return make_error(ErrorCode::invalid_request, std::move(message));
}

// RFC 6749 §3.3: scope-token = 1*( %x21 / %x23-5B / %x5D-7E ).
bool is_scope_token(std::string_view scope) {
  return !scope.empty() && scope.size() <= kMaxScopeBytes &&
         std::all_of(scope.begin(), scope.end(),
                     [](char c) { return is_visible_ascii(c) && c != '"' && c != '\\'; });
}

// Scopes named in a refusal; a client with more gets a count of the rest.
constexpr std::size_t kMaxScopesListed = 20;

// What a refused scope's asker may use instead: the client's `scopes`.
std::string scopes_it_may_ask_for(const ClientConfig& client) {
  if (client.scopes.empty()) return "it has none configured";
  std::string list;
  const std::size_t listed = std::min(client.scopes.size(), kMaxScopesListed);
  for (std::size_t i = 0; i < listed; ++i) list += (i == 0 ? "" : ", ") + client.scopes[i];
  if (listed < client.scopes.size()) {
    list += " and " + std::to_string(client.scopes.size() - listed) + " more";
  }
  return "it may ask for " + list;
}

Status check_scopes(const std::vector<std::string>& scopes, const ClientConfig& client) {
  if (scopes.empty()) return invalid_request("no scope was given; at least one is required");
  if (scopes.size() > kMaxScopes) {
    return invalid_request(std::to_string(scopes.size()) + " scopes were given; at most " +
                           std::to_string(kMaxScopes) + " are allowed in one grant");
  }
  for (auto it = scopes.begin(); it != scopes.end(); ++it) {
    const std::string& scope = *it;
    if (!is_scope_token(scope)) {
      return make_error(ErrorCode::invalid_scope,
                        "scope " + quoted(scope) +
                            " is not a valid scope (RFC 6749 §3.3: no spaces, quotes, "
                            "backslashes or control characters)");
    }
    if (std::find(client.scopes.begin(), client.scopes.end(), scope) == client.scopes.end()) {
      return make_error(ErrorCode::invalid_scope, "scope " + quoted(scope) + " is not in client " +
                                                      quoted(client.name) + "'s scopes; " +
                                                      scopes_it_may_ask_for(client));
    }
    // At most kMaxScopes: a scan is cheaper than a set on every request.
    if (std::find(scopes.begin(), it, scope) != it) {
      return invalid_request("scope " + quoted(scope) + " is given twice");
    }
  }
  return {};
}

bool starts_with(std::string_view text, std::string_view prefix) {
  return text.substr(0, prefix.size()) == prefix;
}

// Maskinporten takes absolute URIs as resource indicators (RFC 8707 §2):
// an http(s) URL with a host, or a URN ("urn:" NID ":" NSS).
bool is_resource_indicator(std::string_view resource) {
  if (resource.empty() || resource.size() > kMaxResourceBytes) return false;
  if (!std::all_of(resource.begin(), resource.end(), is_visible_ascii)) return false;
  if (resource.find('#') != std::string_view::npos) return false;  // RFC 8707 §2: no fragment
  for (std::string_view scheme : {std::string_view("https://"), std::string_view("http://")}) {
    if (starts_with(resource, scheme)) {
      const std::string_view rest = resource.substr(scheme.size());
      return !rest.empty() && rest.front() != '/' && rest.front() != '?';
    }
  }
  if (starts_with(resource, "urn:")) {
    const std::string_view rest = resource.substr(4);
    const std::size_t colon = rest.find(':');
    return colon != std::string_view::npos && colon > 0 && colon + 1 < rest.size();
  }
  return false;
}

Status check_resources(const std::vector<std::string>& resources) {
  if (resources.size() > kMaxResources) {
    return invalid_request(std::to_string(resources.size()) + " resources were given; at most " +
                           std::to_string(kMaxResources) + " are allowed");
  }
  for (const std::string& resource : resources) {
    if (!is_resource_indicator(resource)) {
      return invalid_request("resource " + quoted(resource) +
                             " is not an absolute https://, http:// or urn: URI without "
                             "spaces or fragment (at most " +
                             std::to_string(kMaxResourceBytes) + " characters)");
    }
  }
  return {};
}

Status check_parties(const GrantRequest& request) {
  if (request.consumer_org && request.iss_onbehalfof) {
    return invalid_request(
        "consumer_org and iss_onbehalfof were both given; only one is allowed in a grant");
  }
  if (request.consumer_org && !is_digits(*request.consumer_org, kOrgNumberDigits)) {
    return invalid_request("consumer_org " + quoted(*request.consumer_org) +
                           " is not an organisation number (exactly 9 digits)");
  }
  if (request.iss_onbehalfof) {
    const std::string& value = *request.iss_onbehalfof;
    if (value.empty() || value.size() > kMaxOnBehalfOfBytes ||
        !std::all_of(value.begin(), value.end(), is_printable_ascii)) {
      return invalid_request("iss_onbehalfof " + quoted(value) +
                             " must be 1 to " + std::to_string(kMaxOnBehalfOfBytes) +
                             " printable ASCII characters");
    }
  }
  if (request.pid && !is_digits(*request.pid, kPidDigits)) {
    return invalid_request("pid must be a national identity number (exactly 11 digits)");
  }
  return {};
}

// --- authorization_details ---------------------------------------------------

std::string entry_name(rapidjson::SizeType index) {
  return "authorization_details[" + std::to_string(index) + "]";
}

std::optional<std::string_view> string_member(const rapidjson::Value& object,
                                              std::string_view name) {
  const auto it = object.FindMember(
      rapidjson::Value(rapidjson::StringRef(name.data(), name.size())));
  if (it == object.MemberEnd() || !it->value.IsString()) return std::nullopt;
  return std::string_view(it->value.GetString(), it->value.GetStringLength());
}

// Altinn's system user guide: {"type": "urn:altinn:systemuser", "systemuser_org":
// {"authority": "iso6523-actorid-upis", "ID": "0192:<organisation number>"}}.
Status check_system_user(const rapidjson::Value& entry, const std::string& where) {
  const auto org = entry.FindMember("systemuser_org");
  if (org == entry.MemberEnd() || !org->value.IsObject()) {
    return invalid_request(where + " (urn:altinn:systemuser) needs a \"systemuser_org\" object");
  }
  const auto authority = string_member(org->value, "authority");
  if (authority != kSystemUserAuthority) {
    return invalid_request(where + ".systemuser_org.authority must be \"" +
                           std::string(kSystemUserAuthority) + "\"");
  }
  const auto id = string_member(org->value, "ID");
  if (!id || !starts_with(*id, kOrgNumberIcdPrefix) ||
      !is_digits(id->substr(kOrgNumberIcdPrefix.size()), kOrgNumberDigits)) {
    return invalid_request(where + ".systemuser_org.ID must be \"0192:\" followed by a 9-digit "
                                   "organisation number, not " +
                           (id ? quoted(*id) : std::string("missing")));
  }
  return {};
}

// Altinn's consent guide: {"type": "urn:altinn:consent", "id": <consent
// request id>, "from": <who consented>}; Digdir says both must be given.
Status check_consent(const rapidjson::Value& entry, const std::string& where) {
  for (std::string_view name : {std::string_view("id"), std::string_view("from")}) {
    const auto value = string_member(entry, name);
    if (!value || value->empty()) {
      return invalid_request(where + " (urn:altinn:consent) needs a non-empty string \"" +
                             std::string(name) + "\"");
    }
  }
  return {};
}

Status check_entry(const rapidjson::Value& entry, rapidjson::SizeType index) {
  const std::string where = entry_name(index);
  if (!entry.IsObject()) return invalid_request(where + " is not a JSON object");
  const auto type = string_member(entry, "type");
  if (!type) return invalid_request(where + " has no string \"type\"");
  if (*type == kSystemUserType) return check_system_user(entry, where);
  if (*type == kConsentType) return check_consent(entry, where);
  return invalid_request(where + " has type " + quoted(*type) + "; known types are " +
                         std::string(kSystemUserType) + " and " + std::string(kConsentType));
}

// The one strict parse (common/json_text.h), in this check's words. No
// member name twice in one object: RapidJSON keeps duplicates, and we must
// not check one "type" while Maskinporten reads another.
std::string details_problem(const json::JsonProblem& problem) {
  switch (problem.kind) {
    case json::JsonProblem::Kind::too_deep:
      return "authorization_details is nested deeper than " +
             std::to_string(kMaxAuthorizationDetailsDepth) + " levels";
    case json::JsonProblem::Kind::duplicate_member:
      return "authorization_details has the member " + quoted(problem.member) + " twice in one object";
    case json::JsonProblem::Kind::not_json:
      break;
  }
  return "authorization_details is not valid JSON: " + problem.words;
}

Status parse_authorization_details(std::string_view text, rapidjson::Document& out) {
  if (text.size() > kMaxAuthorizationDetailsBytes) {
    return invalid_request("authorization_details is " + std::to_string(text.size()) +
                           " bytes; at most " + std::to_string(kMaxAuthorizationDetailsBytes) +
                           " are allowed");
  }
  if (auto problem = json::parse_strict_json(out, text, kMaxAuthorizationDetailsDepth)) {
    return invalid_request(details_problem(*problem));
  }
  if (!out.IsArray()) return invalid_request("authorization_details must be a JSON array");
  if (out.Empty()) return invalid_request("authorization_details is an empty array");
  if (out.Size() > kMaxAuthorizationDetailsEntries) {
    return invalid_request("authorization_details has " + std::to_string(out.Size()) +
                           " entries; at most " +
                           std::to_string(kMaxAuthorizationDetailsEntries) + " are allowed");
  }
  for (rapidjson::SizeType i = 0; i < out.Size(); ++i) {
    if (auto checked = check_entry(out[i], i); !checked) return checked;
  }
  return {};
}


}  // namespace

Status check_request(const GrantRequest& request, const ClientConfig& client,
                     rapidjson::Document& authorization_details) {
  if (auto checked = check_scopes(request.scopes, client); !checked) return checked;
  if (auto checked = check_resources(request.resource); !checked) return checked;
  if (auto checked = check_parties(request); !checked) return checked;
  if (request.authorization_details) {
    return parse_authorization_details(*request.authorization_details, authorization_details);
  }
  return {};
}


Status check_grant_request(const GrantRequest& request, const ClientConfig& client) {
  rapidjson::Document authorization_details;
  return check_request(request, client, authorization_details);
}

}  // namespace mpa
