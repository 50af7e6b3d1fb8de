// The engine: from a Config and a signer per client, one signature queue
// per token, one AsyncHttp per distinct ca_file (connections and trust
// shared by every exchange), grant builders and Maskinporten clients. `fetch` and the daemon both stand on
// it. Thread-safe after create().
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "agent/config/config.h"
#include "agent/engine/signature_queue.h"
#include "agent/http/async_http.h"
#include "agent/jwt/grant.h"
#include "agent/maskinporten/maskinporten.h"
#include "common/result.h"
#include "common/grant_signer.h"

namespace mpa {

class Engine {
 public:
  // One GrantSigner per client of the config, in its order. The agent's
  // come from signer helper processes (agent/signer_helper), so that it
  // never loads the module itself; tests and benchmarks may pass others.
  using GrantSignerFactory =
      std::function<Result<std::vector<std::shared_ptr<GrantSigner>>>(const Config&)>;
  // Checks every ca_file, takes a signer per client from `signers`, and
  // builds the queues, HTTP lanes and Maskinporten clients (discovery
  // without network is deferred to the first exchange). Errors in words.
  static Result<std::unique_ptr<Engine>> create(const Config& config, const GrantSignerFactory& signers);

  // Stops the signing threads and the HTTP threads first (answering what
  // is queued), while every client's state is still held here, so that no
  // thread of the engine outlives it.
  ~Engine();
  Engine(const Engine&) = delete;
  Engine& operator=(const Engine&) = delete;

  // The client called `name` (empty: the only one). Errors: unknown_client.
  Result<const ClientConfig*> client(const std::string& name) const;

  // One fresh signed grant (checks scopes first). Errors: invalid_scope,
  // invalid_request, hsm_error.
  Result<SignedGrant> make_grant(const ClientConfig& client, const GrantRequest& request) const;

  // Grant + exchange at Maskinporten, retried as MaskinportenClient does,
  // without a thread of its own: the grant is signed on the token's
  // signature queue by `sign_by_ms` (epoch milliseconds; earliest first),
  // the HTTP runs on the AsyncHttp. `done` runs once, on one of those
  // threads, and must not block.
  using TokenDone = std::function<void(Result<AccessToken>)>;
  void fetch_token(const ClientConfig& client, const GrantRequest& request,
                   std::int64_t sign_by_ms, TokenDone done) const;
  // The same, waiting for the answer (one-shot commands).
  Result<AccessToken> fetch_token(const ClientConfig& client, const GrantRequest& request) const;

  // The HTTP lane `client`'s exchanges run on (its ca_file's AsyncHttp:
  // connections, trust and timers), for other exchanges made for it
  // (Altinn's). Null for a client this engine does not know.
  std::shared_ptr<AsyncHttp> http(const ClientConfig& client) const;

  // For `status`: each token's signature queue, by the token's label or URI.
  struct SignatureQueueStatus {
    std::string token;
    SignatureQueue::Stats stats;
  };
  std::vector<SignatureQueueStatus> signature_queues() const;

  SignerInfo signer_info(const ClientConfig& client) const;
  // DER certificates, leaf first.
  std::vector<Bytes> certificate_chain(const ClientConfig& client) const;

 private:
  Engine() = default;
  struct ClientState;
  // Queues, connection pools and client state for `signers` (one per client).
  static Result<std::unique_ptr<Engine>> assemble(const Config& config,
                                                  std::vector<std::shared_ptr<GrantSigner>> signers);
  Config config_;
  std::map<std::string, std::shared_ptr<AsyncHttp>> http_;  // by ca_file ("" without)
  std::map<std::string, std::shared_ptr<SignatureQueue>> queues_;  // by token selector
  std::map<std::string, std::shared_ptr<ClientState>> clients_;
};

}  // namespace mpa
