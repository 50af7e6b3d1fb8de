#include "agent/signer_helper/helper_pool.h"

#include <sys/stat.h>

#include <algorithm>

#include "agent/signer_helper/state_dir.h"
#include "common/log.h"
#include "pkcs11/pkcs11.h"

namespace mpa::signer_helper {
namespace {

// Whether the PIN file was written since, told without reading the PIN
// (the agent process never holds it): the file's identity, size and times.
std::string pin_file_stamp(const std::string& path) {
  struct stat st {};
  if (::stat(path.c_str(), &st) != 0) return "absent";
  return std::to_string(st.st_dev) + ':' + std::to_string(st.st_ino) + ':' +
         std::to_string(st.st_size) + ':' + std::to_string(st.st_mtim.tv_sec) + '.' +
         std::to_string(st.st_mtim.tv_nsec) + ':' + std::to_string(st.st_ctim.tv_sec) + '.' +
         std::to_string(st.st_ctim.tv_nsec);
}

struct KeyUse {
  std::size_t client = 0;
  std::size_t key = 0;
};

struct Group {
  SetupMessage setup;
  std::vector<KeyUse> uses;
};

template <class T>
std::size_t index_of(std::vector<T>& list, const T& item) {
  auto it = std::find(list.begin(), list.end(), item);
  if (it == list.end()) it = list.insert(list.end(), item);
  return static_cast<std::size_t>(it - list.begin());
}

SetupMessage base_setup(const Config& config, const ClientConfig& client) {
  SetupMessage setup;
  setup.module_path = config.module;
  setup.token_uri = client.key;
  setup.pin_source = config.pin_file ? PinSource::file : PinSource::env;
  setup.pin_name = config.pin_file ? *config.pin_file : config.pin_env.value_or("");
  // The helpers read it; this process only passes it on to them.
  if (config.pin_env) pkcs11::move_pin_env_out_of_sight(*config.pin_env);
  setup.state_dir = state_directory(config.state_dir);
  setup.max_concurrent_signatures = static_cast<std::uint32_t>(config.max_concurrent_signatures);
  return setup;
}

Result<std::map<std::string, Group>> group_by_token(const Config& config) {
  std::map<std::string, Group> groups;
  for (std::size_t i = 0; i < config.clients.size(); ++i) {
    const ClientConfig& client = config.clients[i];
    auto uri = pkcs11::Pkcs11Uri::parse(client.key);
    if (!uri) return uri.error().with_context(config.path + ": client \"" + client.name + "\": key");
    auto [it, fresh] = groups.try_emplace(uri->token_selector());
    Group& group = it->second;
    if (fresh) group.setup = base_setup(config, client);
    auto& keys = group.setup.keys;
    auto key = std::find_if(keys.begin(), keys.end(), [&](const KeySetup& k) {
      return k.key_uri == client.key && k.chain_file == client.chain_file;
    });
    if (key == keys.end()) key = keys.insert(keys.end(), KeySetup{client.key, client.chain_file});
    index_of(group.setup.allowed_algs, client.alg);
    index_of(group.setup.allowed_audiences, client.issuer);
    group.uses.push_back(KeyUse{i, static_cast<std::size_t>(key - keys.begin())});
  }
  return groups;
}

// The token settings: changed, they need a new helper (a new login). The
// keys and the signing policy are not among them: a running helper takes
// those over (HelperSupervisor::signers_for).
std::string identity(const std::string& selector, const SetupMessage& setup, const Config& config) {
  std::string out = setup.module_path;
  for (const std::string& part :
       {selector, std::to_string(static_cast<int>(setup.pin_source)), setup.pin_name,
        setup.pin_source == PinSource::file ? pin_file_stamp(setup.pin_name) : std::string(),
        setup.state_dir, std::to_string(setup.max_concurrent_signatures),
        std::to_string(config.sign_timeout_seconds)}) {
    out += '\x1f' + part;
  }
  return out;
}

// A new helper for `group`; errors with the config's words.
Result<std::shared_ptr<HelperSupervisor>> start_helper(const Group& group, const Config& config,
                                                       const HelperLauncher& launch) {
  SupervisorOptions options;
  options.setup = group.setup;
  options.sign_timeout = std::chrono::seconds(config.sign_timeout_seconds);
  options.launch = launch;
  options.warn = [](const std::string& message) { log::warning(message); };
  auto started = HelperSupervisor::start(std::move(options));
  if (!started) {
    // The PIN source is a [pkcs11] setting; anything else is the client's.
    const std::string& first = config.clients[group.uses.front().client].name;
    const std::string where = started.error().reason == ErrorReason::pin_unreadable
                                  ? config.path + ": [pkcs11]"
                                  : config.path + ": client \"" + first + "\"";
    return started.error().with_context(where);
  }
  return started;
}

}  // namespace

HelperPool& HelperPool::for_this_process() {
  static HelperPool pool;
  return pool;
}

Result<std::vector<std::shared_ptr<GrantSigner>>> HelperPool::signers_for(const Config& config) {
  auto groups = group_by_token(config);
  if (!groups) return std::move(groups).error();
  std::lock_guard lock(mutex_);
  std::vector<std::shared_ptr<GrantSigner>> signers(config.clients.size());
  for (auto& entry : *groups) {
    const auto& selector = entry.first;
    auto& group = entry.second;
    const std::string id = identity(selector, group.setup, config);
    const std::string& first = config.clients[group.uses.front().client].name;
    std::shared_ptr<HelperSupervisor> supervisor = running_[id].lock();
    if (supervisor && !supervisor->logged_in()) supervisor.reset();
    if (!supervisor) {
      auto started = start_helper(group, config, launch_);
      if (!started) return std::move(started).error();
      supervisor = std::move(*started);
      running_[id] = supervisor;
      if (log_starts_) {
        log::info("signer helper started for token of client \"" + first + "\" (pid " +
                  std::to_string(supervisor->helper_pid()) + ")");
      }
    }
    // A reload's failure is most likely a key the helper has to look up.
    auto named = std::find_if(group.uses.begin(), group.uses.end(), [&](const KeyUse& use) {
      return !supervisor->has_key(group.setup.keys[use.key]);
    });
    const std::string& blamed = named == group.uses.end() ? first : config.clients[named->client].name;
    auto made = supervisor->signers_for(
        group.setup.keys, SigningPolicy{group.setup.allowed_algs, group.setup.allowed_audiences});
    if (!made) return made.error().with_context(config.path + ": client \"" + blamed + "\"");
    for (const KeyUse& use : group.uses) signers[use.client] = (*made)[use.key];
  }
  std::erase_if(running_, [](const auto& entry) { return entry.second.expired(); });
  return signers;
}

}  // namespace mpa::signer_helper
