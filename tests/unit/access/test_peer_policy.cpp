#include <boost/test/unit_test.hpp>

#include <grp.h>
#include <pwd.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <optional>
#include <ostream>
#include <string>
#include <vector>

#include "support/test_support.h"
#include "agent/access/peer_policy.h"

using namespace mpa;

namespace {

constexpr uid_t kAgentUid = 990;
constexpr uid_t kPeerUid = 1001;
constexpr gid_t kPeerGid = 1001;
// A uid with no user on any sane machine (checked where it matters).
constexpr uid_t kUidWithoutUser = 3'999'999'000u;

PeerCredentials peer(uid_t uid = kPeerUid, gid_t gid = kPeerGid, std::vector<gid_t> groups = {}) {
  return PeerCredentials{4242, uid, gid, std::move(groups)};
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

AllowRule delegating_rule(std::vector<std::string> consumer_orgs,
                          std::vector<std::string> scopes = {}) {
  AllowRule rule = uid_rule(kPeerUid, {"default"}, std::move(scopes));
  rule.consumer_orgs = std::move(consumer_orgs);
  return rule;
}

GrantRequest grant(std::vector<std::string> scopes = {"a"}) {
  GrantRequest request;
  request.scopes = std::move(scopes);
  return request;
}

GrantRequest for_consumer(std::string org, std::vector<std::string> scopes = {"a"}) {
  GrantRequest request = grant(std::move(scopes));
  request.consumer_org = std::move(org);
  return request;
}

std::string system_user_details(const std::string& id) {
  return R"([{"type":"urn:altinn:systemuser","systemuser_org":{"authority":"iso6523-actorid-upis","ID":")" +
         id + R"("}}])";
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

BOOST_AUTO_TEST_CASE(GidRuleMatchesASupplementaryGroupThePeerHolds) {
  const PeerPolicy policy({gid_rule(5, {"default"})}, kAgentUid);
  const PeerCredentials member = peer(kUidWithoutUser, kPeerGid, {4, 5, 6});
  BOOST_TEST(policy.may_connect(member));
  BOOST_TEST(policy.check(member, "default", {"a"}).ok());
  BOOST_TEST(!policy.may_connect(peer(kUidWithoutUser, kPeerGid, {4, 6})));
}

// The group database (NSS: maybe sssd or LDAP, maybe slow) is never asked
// while a peer connects: a user listed in a group that its process does
// not hold (groups dropped, or added after it logged in) is not in it.
BOOST_AUTO_TEST_CASE(GroupDatabaseIsNotAskedForThePeersGroups) {
  const auto membership = find_supplementary_membership();
  if (!membership) {
    BOOST_TEST_MESSAGE("skipped: no user on this machine has a supplementary group");
    return;
  }
  const PeerPolicy policy({gid_rule(membership->supplementary_gid, {"default"})}, kAgentUid);
  const PeerCredentials without_groups = peer(membership->uid, membership->primary_gid);
  BOOST_TEST(!policy.may_connect(without_groups));
  BOOST_TEST(!policy.check(without_groups, "default", {"a"}).ok());
}

BOOST_AUTO_TEST_CASE(PeerGroupsAreTheGroupsTheConnectedProcessHolds) {
  int fds[2];
  BOOST_TEST_REQUIRE(::socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, fds) == 0);
  const PeerCredentials read = with_peer_groups(fds[0], peer());
  ::close(fds[0]);
  ::close(fds[1]);
  std::vector<gid_t> held(static_cast<std::size_t>(::getgroups(0, nullptr)));
  held.resize(static_cast<std::size_t>(::getgroups(static_cast<int>(held.size()), held.data())));
  std::vector<gid_t> got = read.groups;
  std::sort(held.begin(), held.end());
  std::sort(got.begin(), got.end());
  BOOST_TEST(got == held, boost::test_tools::per_element());
  BOOST_TEST(read.uid == kPeerUid);  // the rest is left as it came
}

BOOST_AUTO_TEST_SUITE_END()

BOOST_AUTO_TEST_SUITE(PeerPolicyDelegation)

BOOST_AUTO_TEST_CASE(AgentsOwnUidMayUseEveryDelegationField) {
  const PeerPolicy policy({}, kAgentUid);
  GrantRequest request = for_consumer("999888777");
  request.pid = "01017012345";
  request.authorization_details = R"([{"type":"urn:altinn:consent","id":"x","from":"y"}])";
  BOOST_TEST(policy.check(peer(kAgentUid), "default", request).ok());
}

BOOST_AUTO_TEST_CASE(RuleWithoutConsumerOrgsRefusesConsumerOrg) {
  const PeerPolicy policy({uid_rule(kPeerUid, {"default"})}, kAgentUid);
  BOOST_TEST(policy.check(peer(), "default", grant()).ok());
  BOOST_TEST(refusal(policy.check(peer(), "default", for_consumer("999888777"))) ==
             "uid 1001 may not ask client \"default\" for consumer_org \"999888777\": its "
             "[[allow]] rules for this client accept no consumer_org");
}

BOOST_AUTO_TEST_CASE(ConsumerOrgOutsideTheListIsRefusedNamingTheAcceptedOnes) {
  const PeerPolicy policy({delegating_rule({"111222333", "444555666"})}, kAgentUid);
  BOOST_TEST(policy.check(peer(), "default", for_consumer("111222333")).ok());
  BOOST_TEST(refusal(policy.check(peer(), "default", for_consumer("999888777"))) ==
             "uid 1001 may not ask client \"default\" for consumer_org \"999888777\": its "
             "[[allow]] rules for this client accept consumer_org \"111222333\", "
             "\"444555666\"");
}

BOOST_AUTO_TEST_CASE(StarAllowsAnyConsumerOrg) {
  const PeerPolicy policy({delegating_rule({"*"})}, kAgentUid);
  BOOST_TEST(policy.check(peer(), "default", for_consumer("999888777")).ok());
}

BOOST_AUTO_TEST_CASE(OnBehalfOfNeedsItsOwnList) {
  AllowRule rule = delegating_rule({"*"});
  GrantRequest request = grant();
  request.iss_onbehalfof = "kunde-2";
  BOOST_TEST(refusal(PeerPolicy({rule}, kAgentUid).check(peer(), "default", request)) ==
             "uid 1001 may not ask client \"default\" for iss_onbehalfof \"kunde-2\": its "
             "[[allow]] rules for this client accept no iss_onbehalfof");
  rule.onbehalfof = {"kunde-1", "kunde-2"};
  BOOST_TEST(PeerPolicy({rule}, kAgentUid).check(peer(), "default", request).ok());
}

BOOST_AUTO_TEST_CASE(PidNeedsPidTrueAndIsNeverQuoted) {
  AllowRule rule = uid_rule(kPeerUid, {"default"});
  GrantRequest request = grant();
  request.pid = "01017012345";
  const std::string message =
      refusal(PeerPolicy({rule}, kAgentUid).check(peer(), "default", request));
  BOOST_TEST(message == "uid 1001 may not ask client \"default\" for a pid: its [[allow]] "
                        "rules for this client accept no pid (pid = true)");
  BOOST_TEST(message.find("01017012345") == std::string::npos);
  rule.pid = true;
  BOOST_TEST(PeerPolicy({rule}, kAgentUid).check(peer(), "default", request).ok());
}

BOOST_AUTO_TEST_CASE(SystemUserOrgIsCheckedAgainstSystemUserOrgs) {
  AllowRule rule = uid_rule(kPeerUid, {"default"});
  rule.systemuser_orgs = {"310000001"};
  const PeerPolicy policy({rule}, kAgentUid);
  GrantRequest request = grant();
  request.authorization_details = system_user_details("0192:310000001");
  BOOST_TEST(policy.check(peer(), "default", request).ok());
  request.authorization_details = system_user_details("0192:999888777");
  BOOST_TEST(refusal(policy.check(peer(), "default", request)) ==
             "uid 1001 may not ask client \"default\" for systemuser_org \"999888777\": its "
             "[[allow]] rules for this client accept systemuser_org \"310000001\"");
}

BOOST_AUTO_TEST_CASE(SystemUserOrgIsRefusedWithoutSystemUserOrgs) {
  const PeerPolicy policy({delegating_rule({"*"})}, kAgentUid);
  GrantRequest request = grant();
  request.authorization_details = system_user_details("0192:310000001");
  BOOST_TEST(refusal(policy.check(peer(), "default", request)).find("accept no systemuser_org") !=
             std::string::npos);
}

BOOST_AUTO_TEST_CASE(EverySystemUserEntryIsChecked) {
  AllowRule rule = uid_rule(kPeerUid, {"default"});
  rule.systemuser_orgs = {"310000001"};
  GrantRequest request = grant();
  request.authorization_details =
      R"([{"type":"urn:altinn:systemuser","systemuser_org":{"authority":"iso6523-actorid-upis","ID":"0192:310000001"}},)"
      R"({"type":"urn:altinn:systemuser","systemuser_org":{"authority":"iso6523-actorid-upis","ID":"0192:999888777"}}])";
  BOOST_TEST(refusal(PeerPolicy({rule}, kAgentUid).check(peer(), "default", request))
                 .find("systemuser_org \"999888777\"") != std::string::npos);
}

BOOST_AUTO_TEST_CASE(SystemUserWithoutAnIdIsRefusedEvenForStar) {
  AllowRule rule = uid_rule(kPeerUid, {"default"});
  rule.systemuser_orgs = {"*"};
  GrantRequest request = grant();
  request.authorization_details = R"([{"type":"urn:altinn:systemuser"}])";
  BOOST_TEST(refusal(PeerPolicy({rule}, kAgentUid).check(peer(), "default", request)) ==
             "uid 1001 may not ask client \"default\" for authorization_details[0] "
             "(urn:altinn:systemuser) without a systemuser_org.ID to check against "
             "systemuser_orgs");
}

BOOST_AUTO_TEST_CASE(ConsentIsTheAgentsOwnUidsAlone) {
  AllowRule rule = delegating_rule({"*"});
  rule.onbehalfof = {"*"};
  rule.systemuser_orgs = {"*"};
  rule.pid = true;
  GrantRequest request = grant();
  request.authorization_details = R"([{"type":"urn:altinn:consent","id":"x","from":"y"}])";
  BOOST_TEST(refusal(PeerPolicy({rule}, kAgentUid).check(peer(), "default", request)) ==
             "uid 1001 may not ask client \"default\" for authorization_details[0] of type "
             "\"urn:altinn:consent\" (for other users [[allow]] accepts only "
             "urn:altinn:systemuser entries, by systemuser_orgs; the agent's own user may send "
             "any)");
}

BOOST_AUTO_TEST_CASE(DelegationOfARuleForAnotherClientDoesNotCount) {
  AllowRule other = uid_rule(kPeerUid, {"other"});
  other.consumer_orgs = {"*"};
  const PeerPolicy policy({other, uid_rule(kPeerUid, {"default"})}, kAgentUid);
  BOOST_TEST(!policy.check(peer(), "default", for_consumer("999888777")).ok());
  BOOST_TEST(policy.check(peer(), "other", for_consumer("999888777")).ok());
}

BOOST_AUTO_TEST_CASE(DelegationOfARuleForAnotherPeerDoesNotCount) {
  AllowRule other = uid_rule(1002, {"default"});
  other.consumer_orgs = {"*"};
  const PeerPolicy policy({other, uid_rule(kPeerUid, {"default"})}, kAgentUid);
  BOOST_TEST(!policy.check(peer(), "default", for_consumer("999888777")).ok());
}

BOOST_AUTO_TEST_CASE(ScopeAndDelegationMustComeFromOneRule) {
  const PeerPolicy policy(
      {delegating_rule({"999888777"}, {"a"}), uid_rule(kPeerUid, {"default"}, {"b"})}, kAgentUid);
  BOOST_TEST(policy.check(peer(), "default", for_consumer("999888777", {"a"})).ok());
  BOOST_TEST(policy.check(peer(), "default", grant({"a", "b"})).ok());
  BOOST_TEST(refusal(policy.check(peer(), "default", for_consumer("999888777", {"b"}))) ==
             "uid 1001 may not ask client \"default\" for scope \"b\" with these delegation "
             "fields: no one [[allow]] rule allows both");
}

BOOST_AUTO_TEST_CASE(ValuesFromThePeerAreQuotedPrintable) {
  const PeerPolicy policy({delegating_rule({"111222333"})}, kAgentUid);
  const std::string message = refusal(policy.check(peer(), "default", for_consumer("9\n\"x")));
  BOOST_TEST(message.find('\n') == std::string::npos);
  BOOST_TEST(message.find("consumer_org \"9??x\"") != std::string::npos, message);
}

BOOST_AUTO_TEST_SUITE_END()

BOOST_AUTO_TEST_SUITE(PeerPolicyStatus)

BOOST_AUTO_TEST_CASE(AgentsOwnUidAndRootSeeEverything) {
  const PeerPolicy policy({uid_rule(kPeerUid, {"default"})}, kAgentUid);
  BOOST_TEST(policy.sees_everything(peer(kAgentUid)));
  BOOST_TEST(policy.sees_everything(peer(0, 0)));
  BOOST_TEST(!policy.sees_everything(peer()));
}

BOOST_AUTO_TEST_CASE(PeerMayUseOnlyTheClientsOfItsRules) {
  const PeerPolicy policy({uid_rule(kPeerUid, {"default"}), uid_rule(1002, {"payroll"})},
                          kAgentUid);
  BOOST_TEST(policy.may_use(peer(), "default"));
  BOOST_TEST(!policy.may_use(peer(), "payroll"));
  BOOST_TEST(policy.may_use(peer(kAgentUid), "payroll"));
}

BOOST_AUTO_TEST_SUITE_END()

BOOST_AUTO_TEST_SUITE(PeerPolicyClientsNamed)

std::vector<ClientConfig> clients_named(std::vector<std::string> names) {
  std::vector<ClientConfig> clients;
  for (std::string& name : names) {
    clients.emplace_back();
    clients.back().name = std::move(name);
  }
  return clients;
}

BOOST_AUTO_TEST_CASE(NamesTheClientsThePeersRulesGiveInConfigurationOrder) {
  const PeerPolicy policy({uid_rule(kPeerUid, {"payroll"}), uid_rule(kPeerUid, {"default"})},
                          kAgentUid);
  BOOST_TEST(policy.clients_it_may_use(peer(), clients_named({"default", "payroll"})) ==
             "this peer may use \"default\", \"payroll\"");
}

BOOST_AUTO_TEST_CASE(AnotherTenantsClientIsNeverNamed) {
  const PeerPolicy policy({uid_rule(kPeerUid, {"default"}), uid_rule(1002, {"payroll"})},
                          kAgentUid);
  const std::string words = policy.clients_it_may_use(peer(), clients_named({"default", "payroll"}));
  BOOST_TEST(words == "this peer may use \"default\"");
  BOOST_TEST(words.find("payroll") == std::string::npos);
  BOOST_TEST(!policy.may_see(peer(), "payroll"));
}

BOOST_AUTO_TEST_CASE(GroupRulesCountAsInStatus) {
  const PeerPolicy policy({gid_rule(5, {"payroll"})}, kAgentUid);
  BOOST_TEST(policy.clients_it_may_use(peer(kPeerUid, kPeerGid, {5}),
                                       clients_named({"default", "payroll"})) ==
             "this peer may use \"payroll\"");
}

BOOST_AUTO_TEST_CASE(AgentsOwnUidAndRootAreToldEveryClient) {
  const PeerPolicy policy({uid_rule(kPeerUid, {"default"})}, kAgentUid);
  const auto clients = clients_named({"default", "payroll"});
  BOOST_TEST(policy.clients_it_may_use(peer(kAgentUid), clients) ==
             "this peer may use \"default\", \"payroll\"");
  BOOST_TEST(policy.clients_it_may_use(peer(0, 0), clients) ==
             "this peer may use \"default\", \"payroll\"");
}

BOOST_AUTO_TEST_CASE(APeerWithNoUsableClientIsToldSo) {
  const PeerPolicy policy({uid_rule(kPeerUid, {}), uid_rule(1002, {"payroll"})}, kAgentUid);
  BOOST_TEST(policy.clients_it_may_use(peer(), clients_named({"default", "payroll"})) ==
             "this peer may use no client; see [[allow]]");
}

BOOST_AUTO_TEST_CASE(ManyClientsAreCutAfterTheLimit) {
  std::vector<std::string> names;
  for (std::size_t i = 0; i < kMaxClientsNamed + 5; ++i) names.push_back("c" + std::to_string(i));
  const PeerPolicy policy({uid_rule(kPeerUid, names)}, kAgentUid);
  const std::string words = policy.clients_it_may_use(peer(), clients_named(names));
  BOOST_TEST(words.find("\"c19\" and 5 more") != std::string::npos, words);
  BOOST_TEST(words.find("\"c20\"") == std::string::npos, words);
}

BOOST_AUTO_TEST_CASE(ClientNamesAreQuotedPrintable) {
  const PeerPolicy policy({}, kAgentUid);
  BOOST_TEST(policy.clients_it_may_use(peer(kAgentUid), clients_named({"a\"b\nc"})) ==
             "this peer may use \"a?b?c\"");
}

BOOST_AUTO_TEST_SUITE_END()
