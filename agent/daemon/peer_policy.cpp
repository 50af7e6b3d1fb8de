#include "agent/daemon/peer_policy.h"

#include <grp.h>
#include <pwd.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <mutex>
#include <optional>
#include <string_view>
#include <unordered_map>
#include <utility>

#include "common/clock.h"
#include "common/log.h"
#include "common/text.h"

namespace mpa {
namespace {

// getpwuid_r's buffer grows up to this; a passwd entry is a few hundred bytes.
constexpr std::size_t kMaxPasswdBuffer = 1 << 20;
// More groups than this and the user's supplementary groups are not used at
// all (a refusal, never a guess). Linux allows 65536; real users have tens.
constexpr int kMaxGroupsPerUser = 4096;
// How long a user's groups are remembered: group changes take effect
// within this, and the group database (possibly NSS over the network) is
// not asked on every request.
constexpr auto kGroupMemoryLifetime = std::chrono::seconds(60);
// Distinct uids remembered before the memory is emptied and starts over.
constexpr std::size_t kMaxRememberedUsers = 1024;


// The user's name and primary gid, or nullopt when the uid has no user.
std::optional<std::pair<std::string, gid_t>> find_user(uid_t uid) {
  const long suggested = ::sysconf(_SC_GETPW_R_SIZE_MAX);
  std::vector<char> buffer(suggested > 0 ? static_cast<std::size_t>(suggested) : 1024);
  passwd entry{};
  passwd* found = nullptr;
  for (;;) {
    const int rc = ::getpwuid_r(uid, &entry, buffer.data(), buffer.size(), &found);
    if (rc == ERANGE && buffer.size() < kMaxPasswdBuffer) {
      buffer.resize(buffer.size() * 2);
      continue;
    }
    if (rc != 0 || found == nullptr) return std::nullopt;
    return std::make_pair(std::string(entry.pw_name), entry.pw_gid);
  }
}

// The groups of the uid's user (primary and supplementary); empty when the
// uid has no user or more groups than we read.
std::vector<gid_t> groups_of_user(uid_t uid) {
  const auto user = find_user(uid);
  if (!user) return {};
  int count = 64;
  std::vector<gid_t> groups(static_cast<std::size_t>(count));
  while (::getgrouplist(user->first.c_str(), user->second, groups.data(), &count) == -1) {
    if (static_cast<std::size_t>(count) <= groups.size()) return {};  // no size to grow to
    if (count > kMaxGroupsPerUser) {
      log::warning("uid " + std::to_string(uid) + " is in more than " +
                   std::to_string(kMaxGroupsPerUser) +
                   " groups; its supplementary groups are not used by [[allow]] gid rules");
      return {};
    }
    groups.resize(static_cast<std::size_t>(count));
  }
  groups.resize(static_cast<std::size_t>(count));
  return groups;
}

bool contains(const std::vector<std::string>& names, const std::string& name) {
  return std::find(names.begin(), names.end(), name) != names.end();
}

Error forbidden(std::string message) { return make_error(ErrorCode::forbidden, std::move(message)); }

}  // namespace

struct PeerPolicy::GroupMemory {
  struct Remembered {
    std::chrono::steady_clock::time_point read_at;
    std::vector<gid_t> groups;
  };
  explicit GroupMemory(Clock clock) : clock(std::move(clock)) {}

  const Clock clock;
  std::mutex mutex;
  std::unordered_map<uid_t, Remembered> by_uid;

  std::vector<gid_t> groups(uid_t uid) {
    const auto now = clock.steady_now();
    {
      std::lock_guard lock(mutex);
      const auto it = by_uid.find(uid);
      if (it != by_uid.end() && now - it->second.read_at < kGroupMemoryLifetime) {
        return it->second.groups;
      }
    }
    // Read unlocked: the group database may be slow, and two readers of the
    // same uid at once only do the work twice.
    std::vector<gid_t> read = groups_of_user(uid);
    std::lock_guard lock(mutex);
    if (by_uid.size() >= kMaxRememberedUsers) by_uid.clear();
    by_uid[uid] = Remembered{now, read};
    return read;
  }
};

PeerPolicy::PeerPolicy(std::vector<AllowRule> rules, uid_t agent_uid, Clock clock)
    : rules_(std::move(rules)),
      agent_uid_(agent_uid),
      groups_(std::make_shared<GroupMemory>(std::move(clock))) {}

bool PeerPolicy::user_in_group(uid_t uid, gid_t gid) const {
  const std::vector<gid_t> groups = groups_->groups(uid);
  return std::find(groups.begin(), groups.end(), gid) != groups.end();
}

bool PeerPolicy::matches(const AllowRule& rule, const PeerCredentials& peer) const {
  if (rule.uid && *rule.uid == peer.uid) return true;
  if (!rule.gid) return false;
  return *rule.gid == peer.gid || user_in_group(peer.uid, *rule.gid);
}

bool PeerPolicy::may_connect(const PeerCredentials& peer) const {
  if (peer.uid == agent_uid_) return true;
  return std::any_of(rules_.begin(), rules_.end(),
                     [&](const AllowRule& rule) { return matches(rule, peer); });
}

Status PeerPolicy::check(const PeerCredentials& peer, const std::string& client,
                         const std::vector<std::string>& scopes) const {
  if (peer.uid == agent_uid_) return {};
  const std::string who = "uid " + std::to_string(peer.uid);
  // The rules that give this peer this client; the cheap name test first,
  // since matching may read the group database.
  std::vector<const AllowRule*> granting;
  for (const AllowRule& rule : rules_) {
    if (contains(rule.clients, client) && matches(rule, peer)) granting.push_back(&rule);
  }
  if (granting.empty()) return forbidden(who + " may not use client " + mpa::quoted(client));
  for (const std::string& scope : scopes) {
    const bool allowed = std::any_of(granting.begin(), granting.end(), [&](const AllowRule* rule) {
      return rule->scopes.empty() || contains(rule->scopes, scope);
    });
    if (!allowed) {
      return forbidden(who + " may not ask client " + mpa::quoted(client) + " for scope " +
                       mpa::quoted(scope));
    }
  }
  return {};
}

}  // namespace mpa
