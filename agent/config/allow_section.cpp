// The [[allow]] tables: who may use which clients, scopes and delegation
// fields. User and group names are resolved here, at load.
#include <grp.h>
#include <pwd.h>

#include <algorithm>
#include <cerrno>
#include <string>
#include <vector>

#include "agent/config/sections.h"
#include "common/file_read.h"
#include "common/grant_request.h"

namespace mpa::config_internal {

namespace fs = std::filesystem;

namespace {

// (uid_t)-1 and (gid_t)-1 mean "no id" to the kernel, so they name no one.
constexpr std::int64_t kMaxId = 0xFFFFFFFE;
// A passwd or group entry larger than this is not a real one.
constexpr std::size_t kMaxNssBufferBytes = 1024 * 1024;
// A Norwegian organisation number (Enhetsregisteret) has 9 digits.
constexpr std::size_t kOrgNumberDigits = 9;

}  // namespace

// ---------------------------------------------------------------- [[allow]]

// getpwnam_r / getgrnam_r with a buffer that grows on ERANGE. `found` is
// null afterwards when the name does not exist.
template <class Entry, class Lookup>
int lookup_name(Lookup lookup, Entry& entry, Entry*& found) {
  std::vector<char> buffer(4096);
  for (;;) {
    found = nullptr;
    const int rc = lookup(&entry, buffer.data(), buffer.size(), &found);
    if (rc != ERANGE || buffer.size() >= kMaxNssBufferBytes) return rc;
    buffer.resize(buffer.size() * 2);
  }
}

// getpwnam_r(3): "not found" is 0 with no entry, or one of these.
bool names_no_entry(int rc) {
  return rc == 0 || rc == ENOENT || rc == ESRCH || rc == EBADF || rc == EPERM;
}

// The id of the user or group (`what`) called `name`, looked up with
// getpwnam_r or getgrnam_r (`lookup`); `id_of` reads the id from the entry.
template <class Entry, class Lookup, class IdOf>
Status resolve_name(const ConfigTable& section, const std::string& what, const std::string& name,
                    Lookup lookup, IdOf id_of, std::uint32_t& id) {
  Entry entry{};
  Entry* found = nullptr;
  const int rc = lookup_name(
      [&](Entry* e, char* b, std::size_t n, Entry** r) { return lookup(name.c_str(), e, b, n, r); },
      entry, found);
  if (found != nullptr) {
    id = id_of(*found);
    return {};
  }
  const std::string shown = quoted(name, kMaxQuotedValueBytes);
  if (names_no_entry(rc))
    return section.error(what, "no " + what + " " + shown + " on this system");
  return section.error(what, "cannot look up " + what + " " + shown + ": " + errno_text(rc));
}

Status resolve_user(const ConfigTable& section, const std::string& name, std::uint32_t& uid) {
  return resolve_name<passwd>(
      section, "user", name, getpwnam_r, [](const passwd& e) { return e.pw_uid; }, uid);
}

Status resolve_group(const ConfigTable& section, const std::string& name, std::uint32_t& gid) {
  return resolve_name<group>(
      section, "group", name, getgrnam_r, [](const group& e) { return e.gr_gid; }, gid);
}

Status read_principal(const ConfigTable& section, AllowRule& rule) {
  const int given = int{section.has("uid")} + int{section.has("user")} + int{section.has("gid")} +
                    int{section.has("group")};
  if (given != 1) {
    return section.error("", "needs exactly one of uid, user, gid or group (it has " +
                                 std::to_string(given) + "); write one rule per principal");
  }
  std::uint32_t id = 0;
  std::string name;
  if (section.has("uid")) {
    MPA_RETURN_IF_ERROR(section.read("uid", id, 0, kMaxId));
    rule.uid = id;
    rule.who = "uid " + std::to_string(id);
  } else if (section.has("gid")) {
    MPA_RETURN_IF_ERROR(section.read("gid", id, 0, kMaxId));
    rule.gid = id;
    rule.who = "gid " + std::to_string(id);
  } else if (section.has("user")) {
    MPA_RETURN_IF_ERROR(section.read("user", name));
    MPA_RETURN_IF_ERROR(resolve_user(section, name, id));
    rule.uid = id;
    rule.who = "user " + name + " (uid " + std::to_string(id) + ")";
  } else {
    MPA_RETURN_IF_ERROR(section.read("group", name));
    MPA_RETURN_IF_ERROR(resolve_group(section, name, id));
    rule.gid = id;
    rule.who = "group " + name + " (gid " + std::to_string(id) + ")";
  }
  return {};
}

const ClientConfig* client_named(const std::vector<ClientConfig>& clients,
                                 const std::string& name) {
  for (const ClientConfig& client : clients) {
    if (client.name == name) return &client;
  }
  return nullptr;
}

bool is_org_number(const std::string& text) {
  return text.size() == kOrgNumberDigits &&
         std::all_of(text.begin(), text.end(), [](char c) { return c >= '0' && c <= '9'; });
}

bool is_onbehalfof(const std::string& text) {
  return !text.empty() && text.size() <= kMaxOnBehalfOfBytes &&
         std::all_of(text.begin(), text.end(), [](char c) { return c >= 0x20 && c < 0x7f; });
}

// A delegation list: values that `valid` accepts, or ["*"] alone. Present
// but empty is a mistake (leave the key out to allow none).
Status read_delegation_list(const ConfigTable& section, std::string_view key,
                            bool (*valid)(const std::string&), const std::string& expected,
                            std::vector<std::string>& out) {
  MPA_RETURN_IF_ERROR(section.read(key, out));
  if (section.has(key) && out.empty()) {
    return section.error(key, "is empty; leave it out to allow none, or write [\"*\"] for any");
  }
  const bool any = std::find(out.begin(), out.end(), kAnyValue) != out.end();
  if (any && out.size() > 1) {
    return section.error(key, "has \"*\" beside other values; \"*\" alone allows any");
  }
  for (const std::string& value : out) {
    if (!any && !valid(value)) {
      return section.error(key, quoted(value, kMaxQuotedValueBytes) + " is not " + expected +
                                    " (or \"*\" alone, for any)");
    }
  }
  return {};
}

Status read_delegation(const ConfigTable& section, AllowRule& rule) {
  MPA_RETURN_IF_ERROR(read_delegation_list(section, "consumer_orgs", is_org_number,
                                           "an organisation number (9 digits)",
                                           rule.consumer_orgs));
  MPA_RETURN_IF_ERROR(read_delegation_list(section, "onbehalfof", is_onbehalfof,
                                           "1 to " + std::to_string(kMaxOnBehalfOfBytes) +
                                               " printable ASCII characters",
                                           rule.onbehalfof));
  MPA_RETURN_IF_ERROR(read_delegation_list(
      section, "systemuser_orgs", is_org_number,
      "an organisation number (9 digits, without \"0192:\")", rule.systemuser_orgs));
  return section.read("pid", rule.pid);
}

Result<AllowRule> read_allow(const ConfigTable& section, const std::vector<ClientConfig>& clients) {
  MPA_RETURN_IF_ERROR(section.only_keys({"uid", "user", "gid", "group", "clients", "scopes",
                                         "consumer_orgs", "onbehalfof", "systemuser_orgs",
                                         "pid"}));
  AllowRule rule;
  MPA_RETURN_IF_ERROR(read_principal(section, rule));
  MPA_RETURN_IF_ERROR(read_delegation(section, rule));
  MPA_RETURN_IF_ERROR(section.require("clients",
                                      "the clients this rule lets in, e.g. "
                                      "clients = [\"default\"]"));
  MPA_RETURN_IF_ERROR(section.read("clients", rule.clients));
  if (rule.clients.empty()) return section.error("clients", "is empty; name at least one client");
  std::vector<const ClientConfig*> listed;
  for (const std::string& name : rule.clients) {
    const ClientConfig* client = client_named(clients, name);
    if (client == nullptr) {
      return section.error(
          "clients", quoted(name, kMaxQuotedValueBytes) + " is not a configured [[client]] name");
    }
    listed.push_back(client);
  }
  MPA_RETURN_IF_ERROR(section.read("scopes", rule.scopes));
  if (section.has("scopes") && rule.scopes.empty()) {
    return section.error("scopes", "is empty; leave it out to allow every scope of the clients");
  }
  for (const std::string& scope : rule.scopes) {
    for (const ClientConfig* client : listed) {
      if (std::find(client->scopes.begin(), client->scopes.end(), scope) == client->scopes.end()) {
        return section.error("scopes", quoted(scope, kMaxQuotedValueBytes) +
                                           " is not among the scopes of client \"" + client->name +
                                           "\"");
      }
    }
  }
  return rule;
}

}  // namespace mpa::config_internal
