#include "agent/engine/engine.h"

#include <openssl/err.h>
#include <openssl/x509.h>

#include <future>
#include <memory>

#include "agent/metrics/agent_metrics.h"
#include "common/clock.h"
#include "common/openssl_handles.h"
#include "pkcs11/pkcs11.h"

namespace mpa {

struct Engine::ClientState {
  ClientConfig config;
  std::shared_ptr<GrantSigner> signer;
  std::unique_ptr<GrantBuilder> builder;
  std::unique_ptr<MaskinportenClient> maskinporten;
  std::shared_ptr<SignatureQueue> signatures;  // the token's
};

namespace {

// libcurl reads ca_file only when it connects; a file without a
// certificate would fail every exchange with a TLS error that does not
// name it, after the agent had started as if all were well.
Status check_ca_file(const std::string& path) {
  Handle<X509_STORE> store(X509_STORE_new());
  if (!store) return make_error(ErrorCode::internal, "X509_STORE_new failed (out of memory?)");
  const bool loaded = X509_STORE_load_file(store.get(), path.c_str()) == 1;
  ERR_clear_error();
  if (!loaded) {
    return make_error(ErrorCode::invalid_config,
                      "ca_file " + path +
                          " holds no PEM certificate; it should hold the CA certificate(s) "
                          "that issued the endpoint's TLS certificate");
  }
  return {};
}

}  // namespace

Result<std::unique_ptr<Engine>> Engine::assemble(const Config& config,
                                                 std::vector<std::shared_ptr<GrantSigner>> signers) {
  std::unique_ptr<Engine> engine(new Engine());
  engine->config_ = config;
  for (std::size_t i = 0; i < config.clients.size(); ++i) {
    const ClientConfig& client = config.clients[i];
    const std::string where = config.path + ": client \"" + client.name + "\"";
    if (client.ca_file) {
      if (auto ca = check_ca_file(*client.ca_file); !ca) return ca.error().with_context(where);
    }
    auto uri = pkcs11::Pkcs11Uri::parse(client.key);
    if (!uri) return uri.error().with_context(where + ": key");

    auto& http = engine->http_[client.ca_file.value_or("")];
    if (!http) {
      auto made = AsyncHttp::create(client.ca_file);
      if (!made) return made.error().with_context(where);
      http = std::move(*made);
    }
    auto& signatures = engine->queues_[uri->token_selector()];
    if (!signatures) {
      signatures = std::make_shared<SignatureQueue>(
          static_cast<std::size_t>(config.max_concurrent_signatures));
    }
    auto state = std::make_shared<ClientState>();
    state->config = client;
    state->signer = std::move(signers[i]);
    state->builder = std::make_unique<GrantBuilder>(client, state->signer);
    state->maskinporten = std::make_unique<MaskinportenClient>(client, http);
    state->signatures = signatures;
    engine->clients_.emplace(client.name, std::move(state));
  }
  return engine;
}

Engine::~Engine() {
  for (auto& [selector, queue] : queues_) queue->shutdown();
  for (auto& [ca_file, http] : http_) http->shutdown();
}

Result<const ClientConfig*> Engine::client(const std::string& name) const {
  if (name.empty()) {
    if (clients_.size() == 1) return &clients_.begin()->second->config;
    return make_error(ErrorCode::unknown_client,
                      "this agent has " + std::to_string(clients_.size()) +
                          " clients; say which one with \"client\"");
  }
  auto it = clients_.find(name);
  if (it == clients_.end()) {
    return make_error(ErrorCode::unknown_client, "no client named \"" + name + "\"");
  }
  return &it->second->config;
}

Result<SignedGrant> Engine::make_grant(const ClientConfig& client,
                                       const GrantRequest& request) const {
  auto it = clients_.find(client.name);
  if (it == clients_.end()) {
    return make_error(ErrorCode::unknown_client, "no client named \"" + client.name + "\"");
  }
  return it->second->builder->build(request, epoch_seconds_now());
}

void Engine::fetch_token(const ClientConfig& client, const GrantRequest& request,
                         std::int64_t sign_by_ms, TokenDone done) const {
  auto it = clients_.find(client.name);
  if (it == clients_.end()) {
    done(make_error(ErrorCode::unknown_client, "no client named \"" + client.name + "\""));
    return;
  }
  const std::shared_ptr<ClientState> state = it->second;
  done = metrics::counted_exchange(client.name, std::move(done));
  // Discovery runs once per client, on first use, so that starting the
  // agent never depends on the network.
  state->maskinporten->prepare([state, request, sign_by_ms,
                                done = std::move(done)](Status ready) mutable {
    if (!ready) {
      done(ready.error());
      return;
    }
    auto make_grant = [state, request, sign_by_ms](MaskinportenClient::GrantDone signed_grant) {
      state->signatures->submit(sign_by_ms, [state, request, signed_grant](bool cancelled) {
        if (cancelled) {
          signed_grant(make_error(ErrorCode::unavailable,
                                  "the agent is stopping or reloading; ask again"));
          return;
        }
        auto grant = [&] {
          const metrics::ScopedTimer timed(metrics::agent_metrics().signature_seconds);
          return state->builder->build(request, epoch_seconds_now());
        }();
        signed_grant(std::move(grant));
      });
    };
    state->maskinporten->exchange(std::move(make_grant), std::move(done));
  });
}

Result<AccessToken> Engine::fetch_token(const ClientConfig& client,
                                        const GrantRequest& request) const {
  auto promise = std::make_shared<std::promise<Result<AccessToken>>>();
  auto answer = promise->get_future();
  fetch_token(client, request, epoch_seconds_now() * 1000,
              [promise](Result<AccessToken> token) { promise->set_value(std::move(token)); });
  return answer.get();
}

std::shared_ptr<AsyncHttp> Engine::http(const ClientConfig& client) const {
  const auto known = clients_.find(client.name);
  if (known == clients_.end()) return nullptr;
  const auto it = http_.find(known->second->config.ca_file.value_or(""));
  return it == http_.end() ? nullptr : it->second;
}

std::vector<Engine::SignatureQueueStatus> Engine::signature_queues() const {
  std::vector<SignatureQueueStatus> out;
  for (const auto& [selector, queue] : queues_) out.push_back({selector, queue->stats()});
  return out;
}

SignerInfo Engine::signer_info(const ClientConfig& client) const {
  auto it = clients_.find(client.name);
  if (it == clients_.end()) return {};
  return it->second->signer->info();
}

std::vector<Bytes> Engine::certificate_chain(const ClientConfig& client) const {
  auto it = clients_.find(client.name);
  if (it == clients_.end()) return {};
  return it->second->signer->certificate_chain();
}

Result<std::unique_ptr<Engine>> Engine::create(const Config& config, const GrantSignerFactory& signers) {
  for (const ClientConfig& client : config.clients) {
    if (!client.ca_file) continue;
    if (auto ca = check_ca_file(*client.ca_file); !ca) {
      return ca.error().with_context(config.path + ": client \"" + client.name + "\"");
    }
  }
  auto made = signers(config);
  if (!made) return std::move(made).error();
  if (made->size() != config.clients.size()) {
    return make_error(ErrorCode::internal, "the signer factory gave " + std::to_string(made->size()) +
                                               " signers for " +
                                               std::to_string(config.clients.size()) + " clients");
  }
  return assemble(config, std::move(*made));
}

}  // namespace mpa
