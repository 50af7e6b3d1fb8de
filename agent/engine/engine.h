// The engine: from a Config, the opened PKCS#11 token, one signer per
// client key, grant builders and Maskinporten clients. `fetch` and the
// daemon both stand on it. Thread-safe after create().
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "agent/config/config.h"
#include "agent/jwt/grant.h"
#include "agent/maskinporten/maskinporten.h"
#include "common/result.h"
#include "common/signer.h"
#include "pkcs11/pkcs11.h"

namespace mpa {

class Engine {
 public:
  // Reads the PIN, opens the token, logs in, finds every client's key and
  // certificate chain, resolves endpoints (discovery without network is
  // deferred to the first exchange). Errors in words.
  static Result<std::unique_ptr<Engine>> create(const Config& config);

  // --- signer helpers (agent/signer) ---
  // One Signer per client of the config, in its order (`run`: signer
  // helper processes, so this process never loads the module).
  using SignerFactory =
      std::function<Result<std::vector<std::shared_ptr<Signer>>>(const Config&)>;
  // The same as create(), with the signers from `signers` instead of a
  // token opened here.
  static Result<std::unique_ptr<Engine>> create(const Config& config, const SignerFactory& signers);
  // --- end signer helpers ---

  // The client called `name` (empty: the only one). Errors: unknown_client.
  Result<const ClientConfig*> client(const std::string& name) const;

  // One fresh signed grant (checks scopes first). Errors: invalid_scope,
  // invalid_request, hsm_error.
  Result<SignedGrant> make_grant(const ClientConfig& client, const GrantRequest& request) const;

  // Grant + exchange at Maskinporten, retried as MaskinportenClient does.
  Result<AccessToken> fetch_token(const ClientConfig& client, const GrantRequest& request) const;

  SignerInfo signer_info(const ClientConfig& client) const;
  // DER certificates, leaf first.
  std::vector<Bytes> certificate_chain(const ClientConfig& client) const;

 private:
  Engine() = default;
  struct ClientState;
  Config config_;
  std::map<std::string, std::shared_ptr<ClientState>> clients_;
  std::vector<std::shared_ptr<pkcs11::Pkcs11Token>> tokens_;  // kept open and logged in
};

}  // namespace mpa
