#include "agent/access/grant_delegation.h"

#include <algorithm>
#include <string_view>
#include <utility>

#include "common/json_text.h"
#include "common/text.h"

namespace mpa {
namespace {

constexpr std::string_view kSystemUserType = "urn:altinn:systemuser";
// Altinn's system user guide names the customer as ISO 6523 ICD 0192
// (a Norwegian organisation number); [[allow]] lists the number alone.
constexpr std::string_view kOrgNumberIcdPrefix = "0192:";
// A refusal lists at most this many accepted values; the rest are counted.
constexpr std::size_t kMaxListedValues = 8;

using Field = DelegationAsk::Field;

// Refusals name what the request asked for, not the whole request: the
// caller prefixes "uid N may not ask client C for ".
Error refused(std::string what) { return make_error(ErrorCode::forbidden, std::move(what)); }

std::string_view string_member(const rapidjson::Value& object, std::string_view name) {
  const rapidjson::Value* value = json::find(object, name);
  if (value == nullptr || !value->IsString()) return {};
  return json::view(*value);
}

Result<DelegationAsk> system_user_ask(const rapidjson::Value& entry, const std::string& where) {
  const rapidjson::Value* org = json::find(entry, "systemuser_org");
  const std::string_view id =
      org != nullptr && org->IsObject() ? string_member(*org, "ID") : std::string_view();
  if (id.empty()) {
    return refused(where + " (" + std::string(kSystemUserType) +
                   ") without a systemuser_org.ID to check against systemuser_orgs");
  }
  std::string_view number = id;
  if (number.substr(0, kOrgNumberIcdPrefix.size()) == kOrgNumberIcdPrefix) {
    number.remove_prefix(kOrgNumberIcdPrefix.size());
  }
  return DelegationAsk{Field::systemuser_org, std::string(number)};
}

Status add_authorization_details(const std::string& text, std::vector<DelegationAsk>& asks) {
  rapidjson::Document document;
  if (json::parse_strict_json(document, text, kMaxAuthorizationDetailsDepth) ||
      !document.IsArray() || document.Size() > kMaxAuthorizationDetailsEntries) {
    return refused("authorization_details that cannot be read as a list of Altinn entries");
  }
  for (rapidjson::SizeType i = 0; i < document.Size(); ++i) {
    const std::string where = "authorization_details[" + std::to_string(i) + "]";
    const rapidjson::Value& entry = document[i];
    const std::string_view type = entry.IsObject() ? string_member(entry, "type") : "";
    if (type != kSystemUserType) {
      return refused(where + " of type " + quoted(type) +
                     " (for other users [[allow]] accepts only " + std::string(kSystemUserType) +
                     " entries, by systemuser_orgs; the agent's own user may send any)");
    }
    MPA_ASSIGN_OR_RETURN(DelegationAsk ask, system_user_ask(entry, where));
    asks.push_back(std::move(ask));
  }
  return {};
}

const std::vector<std::string>& allowed_values(const AllowRule& rule, Field field) {
  static const std::vector<std::string> none;
  switch (field) {
    case Field::consumer_org: return rule.consumer_orgs;
    case Field::onbehalfof: return rule.onbehalfof;
    case Field::systemuser_org: return rule.systemuser_orgs;
    case Field::pid: break;
  }
  return none;
}

std::string field_name(Field field) {
  switch (field) {
    case Field::consumer_org: return "consumer_org";
    case Field::onbehalfof: return "iss_onbehalfof";
    case Field::systemuser_org: return "systemuser_org";
    case Field::pid: break;
  }
  return "pid";
}

}  // namespace

Result<std::vector<DelegationAsk>> delegation_asks(const GrantRequest& grant) {
  std::vector<DelegationAsk> asks;
  if (grant.consumer_org) asks.push_back({Field::consumer_org, *grant.consumer_org});
  if (grant.iss_onbehalfof) asks.push_back({Field::onbehalfof, *grant.iss_onbehalfof});
  if (grant.pid) asks.push_back({Field::pid, *grant.pid});
  if (grant.authorization_details) {
    MPA_RETURN_IF_ERROR(add_authorization_details(*grant.authorization_details, asks));
  }
  return asks;
}

bool rule_allows(const AllowRule& rule, const DelegationAsk& ask) {
  if (ask.field == Field::pid) return rule.pid;
  const std::vector<std::string>& allowed = allowed_values(rule, ask.field);
  return std::any_of(allowed.begin(), allowed.end(), [&](const std::string& value) {
    return value == kAnyValue || value == ask.value;
  });
}

std::string describe_ask(const DelegationAsk& ask) {
  if (ask.field == Field::pid) return "a pid";
  return field_name(ask.field) + " " + quoted(ask.value);
}

std::string accepted_by(const std::vector<const AllowRule*>& rules, const DelegationAsk& ask) {
  if (ask.field == Field::pid) return "accept no pid (pid = true)";
  std::vector<std::string> values;
  for (const AllowRule* rule : rules) {
    for (const std::string& value : allowed_values(*rule, ask.field)) {
      if (std::find(values.begin(), values.end(), value) == values.end()) values.push_back(value);
    }
  }
  const std::string name = field_name(ask.field);
  if (values.empty()) return "accept no " + name;
  std::string text = "accept " + name + " ";
  for (std::size_t i = 0; i < values.size() && i < kMaxListedValues; ++i) {
    text += (i == 0 ? "" : ", ") + quoted(values[i]);
  }
  if (values.size() > kMaxListedValues) {
    text += " and " + std::to_string(values.size() - kMaxListedValues) + " more";
  }
  return text;
}

}  // namespace mpa
