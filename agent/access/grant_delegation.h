// Whom a grant request would have the token act for (consumer_org,
// iss_onbehalfof, pid, the system user's organisation in
// authorization_details), as the [[allow]] delegation keys judge it
// (DESIGN.md [[allow]]). Internal to agent/access/ (peer_policy.cpp).
#pragma once

#include <string>
#include <vector>

#include "agent/config/config.h"
#include "common/grant_request.h"
#include "common/result.h"

namespace mpa {

// One delegation field of a request.
struct DelegationAsk {
  enum class Field { consumer_org, onbehalfof, pid, systemuser_org };
  Field field = Field::consumer_org;
  std::string value;  // as the rule lists it; for pid the number, never shown
};

// The delegation fields `grant` carries. Errors: forbidden, for an
// authorization_details entry no [[allow]] key covers (urn:altinn:consent,
// another type, or a system user without a readable organisation).
Result<std::vector<DelegationAsk>> delegation_asks(const GrantRequest& grant);

// Whether `rule` lets its peers ask for `ask`.
bool rule_allows(const AllowRule& rule, const DelegationAsk& ask);

// `ask` in a refusal: `consumer_org "999888777"`, `a pid` (its value stays out).
std::string describe_ask(const DelegationAsk& ask);

// What `rules` accept for the field of `ask`, in words for the refused
// peer: `accept consumer_org "111222333"`, `accept no pid`.
std::string accepted_by(const std::vector<const AllowRule*>& rules, const DelegationAsk& ask);

}  // namespace mpa
