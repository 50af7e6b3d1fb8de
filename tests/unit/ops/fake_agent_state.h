// What the request-handling and life-cycle tests share: signers that never
// touch a token (one can be held inside info(), to keep a status in
// flight), and a configuration of two clients, "alpha" (the agent's own)
// and "beta" (which another uid may use for scope test:b).
#pragma once

#include <unistd.h>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <vector>

#include "agent/config/config.h"
#include "agent/engine/engine.h"
#include "common/grant_signer.h"

namespace mpa::test {

// The uid [[allow]] lets use "beta"; any uid but the agent's and root's.
inline uid_t other_uid() { return ::geteuid() + 4242; }

// A door that callers wait at until the test opens it.
class Gate {
 public:
  void pass() {
    std::unique_lock lock(mutex_);
    ++arrived_;
    changed_.notify_all();
    changed_.wait(lock, [&] { return open_; });
  }
  // True once `count` callers have come to the gate (bounded wait).
  bool wait_for_arrivals(int count) {
    std::unique_lock lock(mutex_);
    return changed_.wait_for(lock, std::chrono::seconds(20), [&] { return arrived_ >= count; });
  }
  void open() {
    std::lock_guard lock(mutex_);
    open_ = true;
    changed_.notify_all();
  }
  // Callers wait again from now on; arrivals count from zero.
  void close() {
    std::lock_guard lock(mutex_);
    open_ = false;
    arrived_ = 0;
  }

 private:
  std::mutex mutex_;
  std::condition_variable changed_;
  int arrived_ = 0;
  bool open_ = false;
};

class FakeSigner final : public GrantSigner {
 public:
  explicit FakeSigner(std::shared_ptr<Gate> gate) : gate_(std::move(gate)) {}
  Result<Bytes> sign(JwsAlg, std::string_view data) override { return Bytes(data.begin(), data.end()); }
  const std::vector<Bytes>& certificate_chain() const override { return chain_; }
  SignerInfo info() const override {
    if (gate_) gate_->pass();
    SignerInfo info;
    info.token_present = true;
    info.logged_in = true;
    info.token_label = "fake";
    info.certificate_subject = "CN=fake";
    return info;
  }

 private:
  std::shared_ptr<Gate> gate_;
  std::vector<Bytes> chain_;
};

// One FakeSigner per client; with a gate, each info() waits at it. While
// `fail` is set, the token is refused instead.
inline Engine::GrantSignerFactory fake_signers(std::shared_ptr<Gate> gate = nullptr,
                                          std::shared_ptr<std::atomic<bool>> fail = nullptr) {
  return [gate, fail](const Config& config) -> Result<std::vector<std::shared_ptr<GrantSigner>>> {
    if (fail && *fail) return make_error(ErrorCode::hsm_error, "the fake token is gone");
    std::vector<std::shared_ptr<GrantSigner>> signers;
    for (std::size_t i = 0; i < config.clients.size(); ++i) {
      signers.push_back(std::make_shared<FakeSigner>(gate));
    }
    return signers;
  };
}

inline std::string client_table(const std::string& name, const std::string& scope) {
  return "[[client]]\n"
         "name = \"" + name + "\"\n"
         "client_id = \"" + name + "-id\"\n"
         "environment = \"test\"\n"
         "key = \"pkcs11:token=t;object=" + name + ";type=private\"\n"
         "scopes = [\"" + scope + "\"]\n";
}

// The configuration text: alpha and beta (and `extra`, more tables), on
// the socket `socket`.
inline std::string config_text(const std::string& socket, const std::string& extra = "") {
  return "[agent]\n"
         "socket = \"" + socket + "\"\n"
         "[pkcs11]\n"
         "module = \"/usr/lib/softhsm/libsofthsm2.so\"\n"
         "pin_env = \"MPA_TEST_PIN\"\n" +
         client_table("alpha", "test:a") + client_table("beta", "test:b") + extra +
         "[[allow]]\n"
         "uid = " + std::to_string(other_uid()) + "\n"
         "clients = [\"beta\"]\n"
         "scopes = [\"test:b\"]\n";
}

}  // namespace mpa::test
