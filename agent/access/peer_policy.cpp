#include "agent/access/peer_policy.h"

#include <algorithm>
#include <utility>

#include "agent/access/grant_delegation.h"
#include "common/text.h"

namespace mpa {
namespace {

bool contains(const std::vector<std::string>& names, const std::string& name) {
  return std::find(names.begin(), names.end(), name) != names.end();
}

Error forbidden(std::string message) { return make_error(ErrorCode::forbidden, std::move(message)); }

}  // namespace

PeerPolicy::PeerPolicy(std::vector<AllowRule> rules, uid_t agent_uid)
    : rules_(std::move(rules)), agent_uid_(agent_uid) {}

bool PeerPolicy::matches(const AllowRule& rule, const PeerCredentials& peer) const {
  if (rule.uid && *rule.uid == peer.uid) return true;
  if (!rule.gid) return false;
  return *rule.gid == peer.gid ||
         std::find(peer.groups.begin(), peer.groups.end(), *rule.gid) != peer.groups.end();
}

bool PeerPolicy::may_connect(const PeerCredentials& peer) const {
  if (peer.uid == agent_uid_) return true;
  return std::any_of(rules_.begin(), rules_.end(),
                     [&](const AllowRule& rule) { return matches(rule, peer); });
}

std::vector<const AllowRule*> PeerPolicy::granting(const PeerCredentials& peer,
                                                   const std::string& client) const {
  std::vector<const AllowRule*> rules;
  for (const AllowRule& rule : rules_) {
    if (contains(rule.clients, client) && matches(rule, peer)) rules.push_back(&rule);
  }
  return rules;
}

bool PeerPolicy::may_use(const PeerCredentials& peer, const std::string& client) const {
  return peer.uid == agent_uid_ || !granting(peer, client).empty();
}

bool PeerPolicy::sees_everything(const PeerCredentials& peer) const {
  return peer.uid == agent_uid_ || peer.uid == 0;
}

bool PeerPolicy::may_see(const PeerCredentials& peer, const std::string& client) const {
  return sees_everything(peer) || may_use(peer, client);
}

std::string PeerPolicy::clients_it_may_use(const PeerCredentials& peer,
                                           const std::vector<ClientConfig>& clients) const {
  std::string named;
  std::size_t count = 0;
  for (const ClientConfig& client : clients) {
    if (!may_see(peer, client.name)) continue;
    if (++count <= kMaxClientsNamed) named += (named.empty() ? "" : ", ") + mpa::quoted(client.name);
  }
  if (count == 0) return "this peer may use no client; see [[allow]]";
  if (count > kMaxClientsNamed) named += " and " + std::to_string(count - kMaxClientsNamed) + " more";
  return "this peer may use " + named;
}

Status PeerPolicy::check(const PeerCredentials& peer, const std::string& client,
                         const std::vector<std::string>& scopes) const {
  GrantRequest grant;
  grant.scopes = scopes;
  return check(peer, client, grant);
}

Status PeerPolicy::check(const PeerCredentials& peer, const std::string& client,
                         const GrantRequest& grant) const {
  if (peer.uid == agent_uid_) return {};
  const std::string who = "uid " + std::to_string(peer.uid);
  const std::vector<const AllowRule*> rules = granting(peer, client);
  if (rules.empty()) return forbidden(who + " may not use client " + mpa::quoted(client));
  const std::string asking = who + " may not ask client " + mpa::quoted(client) + " for ";
  const auto allows_scope = [](const AllowRule* rule, const std::string& scope) {
    return rule->scopes.empty() || contains(rule->scopes, scope);
  };
  for (const std::string& scope : grant.scopes) {
    if (std::none_of(rules.begin(), rules.end(),
                     [&](const AllowRule* rule) { return allows_scope(rule, scope); })) {
      return forbidden(asking + "scope " + mpa::quoted(scope));
    }
  }
  auto asks = delegation_asks(grant);
  if (!asks) return forbidden(asking + asks.error().message);
  for (const DelegationAsk& ask : *asks) {
    if (std::none_of(rules.begin(), rules.end(),
                     [&](const AllowRule* rule) { return rule_allows(*rule, ask); })) {
      return forbidden(asking + describe_ask(ask) + ": its [[allow]] rules for this client " +
                       accepted_by(rules, ask));
    }
  }
  // Each scope with every delegation field by one rule: a rule for scope
  // A with consumer_orgs X and one for scope B alone do not give B for X.
  for (const std::string& scope : grant.scopes) {
    const bool together = std::any_of(rules.begin(), rules.end(), [&](const AllowRule* rule) {
      return allows_scope(rule, scope) &&
             std::all_of(asks->begin(), asks->end(),
                         [&](const DelegationAsk& ask) { return rule_allows(*rule, ask); });
    });
    if (!together) {
      return forbidden(asking + "scope " + mpa::quoted(scope) +
                       " with these delegation fields: no one [[allow]] rule allows both");
    }
  }
  return {};
}

}  // namespace mpa
