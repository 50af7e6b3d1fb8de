#include "agent/signer/helper_pool.h"

#include <sys/stat.h>

#include <algorithm>

#include "agent/signer/state_dir.h"
#include "common/log.h"
#include "pkcs11/pkcs11.h"

namespace mpa::signer {
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

// Everything that, changed, needs a new helper: the whole setup, the
// deadline and the PIN file's stamp.
std::string identity(const SetupMessage& setup, const Config& config) {
  auto body = encode(setup);
  std::string out(body ? std::string(body->begin(), body->end()) : std::string());
  out += '\x1f' + std::to_string(config.sign_timeout_seconds);
  if (setup.pin_source == PinSource::file) out += '\x1f' + pin_file_stamp(setup.pin_name);
  return out;
}

}  // namespace

HelperPool& HelperPool::for_this_process() {
  static HelperPool pool;
  return pool;
}

Result<std::vector<std::shared_ptr<Signer>>> HelperPool::signers_for(const Config& config) {
  auto groups = group_by_token(config);
  if (!groups) return std::move(groups).error();
  std::lock_guard lock(mutex_);
  std::vector<std::shared_ptr<Signer>> signers(config.clients.size());
  for (auto& [selector, group] : *groups) {
    const std::string id = identity(group.setup, config);
    std::shared_ptr<SignerSupervisor> supervisor = running_[id].lock();
    if (supervisor && !supervisor->logged_in()) supervisor.reset();
    if (!supervisor) {
      SupervisorOptions options;
      options.setup = group.setup;
      options.sign_timeout = std::chrono::seconds(config.sign_timeout_seconds);
      options.launch = launch_;
      options.warn = [](const std::string& message) { log::warning(message); };
      SetupFailure failure = SetupFailure::other;
      auto started = SignerSupervisor::start(std::move(options), &failure);
      const std::string& first = config.clients[group.uses.front().client].name;
      if (!started) {
        // As Engine::create words them: the PIN source is a [pkcs11] setting.
        const std::string where = failure == SetupFailure::pin_unreadable
                                      ? config.path + ": [pkcs11]"
                                      : config.path + ": client \"" + first + "\"";
        return started.error().with_context(where);
      }
      supervisor = std::move(*started);
      running_[id] = supervisor;
      log::info("signer helper started for token of client \"" + first + "\" (pid " +
                std::to_string(supervisor->helper_pid()) + ")");
    }
    for (const KeyUse& use : group.uses) signers[use.client] = supervisor->signer(use.key);
  }
  std::erase_if(running_, [](const auto& entry) { return entry.second.expired(); });
  return signers;
}

}  // namespace mpa::signer
