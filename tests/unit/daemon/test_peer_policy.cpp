#define BOOST_TEST_MODULE peer_policy
#include <boost/test/unit_test.hpp>

#include <grp.h>
#include <pwd.h>

#include <optional>
#include <ostream>
#include <string>
#include <vector>

#include "agent/daemon/peer_policy.h"

namespace mpa {
// For Boost.Test's messages.
std::ostream& operator<<(std::ostream& out, ErrorCode code) { return out << to_string(code); }
}  // namespace mpa

using namespace mpa;

namespace {

constexpr uid_t kAgentUid = 990;
constexpr uid_t kPeerUid = 1001;
constexpr gid_t kPeerGid = 1001;
// A uid with no user on any sane machine (checked where it matters).
constexpr uid_t kUidWithoutUser = 3'999'999'000u;

PeerCredentials peer(uid_t uid = kPeerUid, gid_t gid = kPeerGid) {
  return PeerCredentials{4242, uid, gid};
}

AllowRule uid_rule(uid_t uid, std::vector<std::string> clients,
                   std::vector<std::string> scopes = {}) {
  AllowRule rule;
  rule.uid = uid;
  rule.clients = std::move(clients);
  rule.scopes = std::move(scopes);
  return rule;
}

AllowRule gid_rule(gid_t gid, std::vector<std::string> clients) {
  AllowRule rule;
  rule.gid = gid;
  rule.clients = std::move(clients);
  return rule;
}

std::string refusal(const Status& status) {
  BOOST_TEST_REQUIRE(!status.ok(), "allowed, expected a refusal");
  BOOST_TEST(status.error().code == ErrorCode::forbidden);
  return status.error().message;
}

// A user and one of its supplementary groups (not its primary one), read
// from the group database in file order; nullopt when this machine has none.
struct SupplementaryMembership {
  uid_t uid;
  gid_t primary_gid;
  gid_t supplementary_gid;
};

std::optional<SupplementaryMembership> find_supplementary_membership() {
  struct GroupDatabase {
    GroupDatabase() { ::setgrent(); }
    ~GroupDatabase() { ::endgrent(); }
  } database;
  while (const group* entry = ::getgrent()) {
    for (char** member = entry->gr_mem; member != nullptr && *member != nullptr; ++member) {
      const passwd* user = ::getpwnam(*member);
      if (user != nullptr && user->pw_gid != entry->gr_gid) {
        return SupplementaryMembership{user->pw_uid, user->pw_gid, entry->gr_gid};
      }
    }
  }
  return std::nullopt;
}

}  // namespace

BOOST_AUTO_TEST_SUITE(PeerPolicyRules)

BOOST_AUTO_TEST_CASE(AgentsOwnUidMayUseEveryClientAndScope) {
  const PeerPolicy policy({}, kAgentUid);
  BOOST_TEST(policy.may_connect(peer(kAgentUid)));
  BOOST_TEST(policy.check(peer(kAgentUid), "default", {"altinn:enduser"}).ok());
  BOOST_TEST(policy.check(peer(kAgentUid), "any", {"any:scope"}).ok());
}

BOOST_AUTO_TEST_CASE(OtherUidIsRefusedByDefault) {
  const PeerPolicy policy({}, kAgentUid);
  BOOST_TEST(!policy.may_connect(peer()));
  BOOST_TEST(refusal(policy.check(peer(), "default", {"a"})) ==
             "uid 1001 may not use client \"default\"");
}

BOOST_AUTO_TEST_CASE(AgentsGroupAloneIsNotEnough) {
  const PeerPolicy policy({}, kAgentUid);
  BOOST_TEST(!policy.may_connect(peer(kPeerUid, kAgentUid)));
}

BOOST_AUTO_TEST_CASE(UidRuleAllowsItsClient) {
  const PeerPolicy policy({uid_rule(kPeerUid, {"default"})}, kAgentUid);
  BOOST_TEST(policy.may_connect(peer()));
  BOOST_TEST(policy.check(peer(), "default", {"altinn:enduser", "other:scope"}).ok());
}

BOOST_AUTO_TEST_CASE(UidRuleForAnotherUidDoesNotApply) {
  const PeerPolicy policy({uid_rule(1002, {"default"})}, kAgentUid);
  BOOST_TEST(!policy.may_connect(peer()));
  BOOST_TEST(refusal(policy.check(peer(), "default", {"a"})) ==
             "uid 1001 may not use client \"default\"");
}

BOOST_AUTO_TEST_CASE(ClientNotInTheRuleIsRefusedWithoutNamingOthers) {
  const PeerPolicy policy({uid_rule(kPeerUid, {"default", "payroll"})}, kAgentUid);
  const std::string message = refusal(policy.check(peer(), "secret", {"a"}));
  BOOST_TEST(message == "uid 1001 may not use client \"secret\"");
  BOOST_TEST(message.find("default") == std::string::npos);
  BOOST_TEST(message.find("payroll") == std::string::npos);
}

BOOST_AUTO_TEST_CASE(RuleWithoutClientsLetsConnectButGrantsNone) {
  const PeerPolicy policy({uid_rule(kPeerUid, {})}, kAgentUid);
  BOOST_TEST(policy.may_connect(peer()));
  BOOST_TEST(refusal(policy.check(peer(), "default", {"a"})) ==
             "uid 1001 may not use client \"default\"");
}

BOOST_AUTO_TEST_CASE(GidRuleMatchesThePeersPrimaryGroup) {
  const PeerPolicy policy({gid_rule(kPeerGid, {"default"})}, kAgentUid);
  BOOST_TEST(policy.may_connect(peer(kUidWithoutUser, kPeerGid)));
  BOOST_TEST(policy.check(peer(kUidWithoutUser, kPeerGid), "default", {"a"}).ok());
}

BOOST_AUTO_TEST_CASE(GidRuleRefusesAPeerOutsideTheGroup) {
  BOOST_TEST_REQUIRE(::getpwuid(kUidWithoutUser) == nullptr, "test uid unexpectedly has a user");
  const PeerPolicy policy({gid_rule(kPeerGid, {"default"})}, kAgentUid);
  BOOST_TEST(!policy.may_connect(peer(kUidWithoutUser, 1002)));
  BOOST_TEST(refusal(policy.check(peer(kUidWithoutUser, 1002), "default", {"a"})) ==
             "uid 3999999000 may not use client \"default\"");
}

BOOST_AUTO_TEST_CASE(ScopeOutsideTheRulesScopesIsRefused) {
  const PeerPolicy policy({uid_rule(kPeerUid, {"default"}, {"altinn:enduser"})}, kAgentUid);
  BOOST_TEST(refusal(policy.check(peer(), "default", {"altinn:enduser", "x"})) ==
             "uid 1001 may not ask client \"default\" for scope \"x\"");
}

BOOST_AUTO_TEST_CASE(ScopesListedInTheRuleAreAllowed) {
  const PeerPolicy policy({uid_rule(kPeerUid, {"default"}, {"a", "b"})}, kAgentUid);
  BOOST_TEST(policy.check(peer(), "default", {"b", "a"}).ok());
}

BOOST_AUTO_TEST_CASE(MatchingRulesAddUp) {
  const PeerPolicy policy(
      {uid_rule(kPeerUid, {"default"}, {"a"}), uid_rule(kPeerUid, {"default"}, {"b"})},
      kAgentUid);
  BOOST_TEST(policy.check(peer(), "default", {"a", "b"}).ok());
}

BOOST_AUTO_TEST_CASE(ScopesOfARuleForAnotherClientDoNotCount) {
  const PeerPolicy policy(
      {uid_rule(kPeerUid, {"other"}), uid_rule(kPeerUid, {"default"}, {"a"})}, kAgentUid);
  BOOST_TEST(refusal(policy.check(peer(), "default", {"b"})) ==
             "uid 1001 may not ask client \"default\" for scope \"b\"");
}

BOOST_AUTO_TEST_CASE(ScopesOfARuleForAnotherPeerDoNotCount) {
  const PeerPolicy policy(
      {uid_rule(1002, {"default"}), uid_rule(kPeerUid, {"default"}, {"a"})}, kAgentUid);
  BOOST_TEST(refusal(policy.check(peer(), "default", {"b"})) ==
             "uid 1001 may not ask client \"default\" for scope \"b\"");
}

BOOST_AUTO_TEST_CASE(NamesFromThePeerAreQuotedPrintableAndBounded) {
  const PeerPolicy policy({}, kAgentUid);
  const std::string message =
      refusal(policy.check(peer(), "a\"b\nc\\" + std::string(100, 'x'), {"a"}));
  BOOST_TEST(message == "uid 1001 may not use client \"a?b?c?" + std::string(58, 'x') + "...\"");
}

BOOST_AUTO_TEST_CASE(GidRuleMatchesASupplementaryGroupOfThePeersUser) {
  const auto membership = find_supplementary_membership();
  if (!membership) {
    BOOST_TEST_MESSAGE("skipped: no user on this machine has a supplementary group");
    return;
  }
  const PeerPolicy policy({gid_rule(membership->supplementary_gid, {"default"})}, kAgentUid);
  const PeerCredentials member = peer(membership->uid, membership->primary_gid);
  BOOST_TEST(policy.may_connect(member));
  BOOST_TEST(policy.check(member, "default", {"a"}).ok());
}

BOOST_AUTO_TEST_CASE(SupplementaryGroupIsNotTakenForAnotherUsersUid) {
  const auto membership = find_supplementary_membership();
  if (!membership) {
    BOOST_TEST_MESSAGE("skipped: no user on this machine has a supplementary group");
    return;
  }
  BOOST_TEST_REQUIRE(::getpwuid(kUidWithoutUser) == nullptr, "test uid unexpectedly has a user");
  const PeerPolicy policy({gid_rule(membership->supplementary_gid, {"default"})}, kAgentUid);
  // Same primary gid as the member, but a uid with no user and so no
  // supplementary groups.
  const PeerCredentials stranger = peer(kUidWithoutUser, membership->primary_gid);
  BOOST_TEST(!policy.may_connect(stranger));
  BOOST_TEST(!policy.check(stranger, "default", {"a"}).ok());
}

BOOST_AUTO_TEST_SUITE_END()
