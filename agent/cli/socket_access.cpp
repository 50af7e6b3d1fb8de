#include "agent/cli/socket_access.h"

#include <grp.h>
#include <pwd.h>
#include <sys/stat.h>

#include <algorithm>
#include <cstdio>
#include <optional>

namespace mpa {
namespace {

// getgrouplist() is asked for at most this many groups of one user.
constexpr int kMaxGroupsOfOneUser = 1024;

std::string parent_of(const std::string& path) {
  const std::size_t slash = path.rfind('/');
  return slash == 0 || slash == std::string::npos ? "/" : path.substr(0, slash);
}

// The groups of `uid`'s user in the group database, its primary group first.
std::vector<gid_t> groups_of(uid_t uid) {
  passwd entry{};
  passwd* found = nullptr;
  std::vector<char> buffer(16384);
  if (::getpwuid_r(uid, &entry, buffer.data(), buffer.size(), &found) != 0 || found == nullptr) return {};
  int count = kMaxGroupsOfOneUser;
  std::vector<gid_t> groups(static_cast<std::size_t>(count));
  if (::getgrouplist(found->pw_name, found->pw_gid, groups.data(), &count) < 0) return {found->pw_gid};
  groups.resize(static_cast<std::size_t>(count));
  return groups;
}

struct SocketFiles {
  gid_t socket_gid;
  std::optional<struct stat> directory;  // nullopt: the agent will make it
};

SocketFiles socket_files(const Config& config, gid_t agent_gid) {
  SocketFiles files{agent_gid, std::nullopt};
  struct stat st{};
  if (::stat(parent_of(config.socket).c_str(), &st) == 0) {
    files.directory = st;
    // In a set-group-id directory a new file takes the directory's group.
    if ((st.st_mode & S_ISGID) != 0) files.socket_gid = st.st_gid;
  }
  return files;
}

// Why a peer with these groups cannot connect; empty when it can.
std::string obstacle(const Config& config, const SocketFiles& files, const std::vector<gid_t>& peer_groups) {
  const std::string group = "gid " + std::to_string(files.socket_gid);
  if ((config.socket_mode & 0060) == 0) {
    return "socket_mode is \"0600\": only the agent's own user may connect; set socket_mode = \"0660\" "
           "and make the peer a member of the socket's group (" + group + ")";
  }
  const bool in_socket_group =
      std::find(peer_groups.begin(), peer_groups.end(), files.socket_gid) != peer_groups.end();
  if (!in_socket_group) {
    return "the socket's group is " + group + " and the peer is not a member of it, so socket_mode \"0660\" "
           "does not let it in";
  }
  if (files.directory) {
    const struct stat& dir = *files.directory;
    const bool group_passes = (dir.st_mode & S_IXGRP) != 0 &&
                              std::find(peer_groups.begin(), peer_groups.end(), dir.st_gid) != peer_groups.end();
    if (!group_passes && (dir.st_mode & S_IXOTH) == 0) {
      char mode[8];
      std::snprintf(mode, sizeof mode, "%04o", static_cast<unsigned>(dir.st_mode & 07777));
      return "the socket's directory " + parent_of(config.socket) + " (mode " + mode + ", gid " +
             std::to_string(dir.st_gid) + ") does not let the peer through; make it 0750 with the socket's "
             "group, or remove it and let the agent make it";
    }
  }
  return {};
}

}  // namespace

std::vector<std::string> unreachable_allow_rules(const Config& config, uid_t agent_uid, gid_t agent_gid) {
  const SocketFiles files = socket_files(config, agent_gid);
  std::vector<std::string> warnings;
  for (const AllowRule& rule : config.allow) {
    if (rule.uid && *rule.uid == agent_uid) continue;
    std::vector<gid_t> peer_groups;
    if (rule.uid) {
      peer_groups = groups_of(*rule.uid);
    } else if (rule.gid) {
      peer_groups = {*rule.gid};
    }
    const std::string why = obstacle(config, files, peer_groups);
    if (!why.empty()) warnings.push_back("[[allow]] " + rule.who + " cannot reach " + config.socket + ": " + why);
  }
  return warnings;
}

}  // namespace mpa
