// Builds and signs a Maskinporten JWT grant (RFC 7523 §3, Digdir's grant
// table; DESIGN.md lists the header and claims).
#pragma once

#include <cstdint>
#include <memory>
#include <string>

#include "agent/config/config.h"
#include "common/grant_request.h"
#include "common/result.h"
#include "common/grant_signer.h"

namespace mpa {
struct SignedGrant {
  std::string jwt;
  std::string jti;
  std::int64_t iat = 0;
  std::int64_t exp = 0;
};

class GrantBuilder {
 public:
  GrantBuilder(ClientConfig client, std::shared_ptr<GrantSigner> signer);

  // Checks the request (scopes within the client's list -> invalid_scope;
  // bad shapes -> invalid_request) before anything is signed; then builds a
  // fresh grant: new jti, iat = now, exp = iat + lifetime.
  Result<SignedGrant> build(const GrantRequest& request, std::int64_t now) const;

 private:
  ClientConfig client_;
  std::shared_ptr<GrantSigner> signer_;
};

// Every check build() makes before it signs: scopes within the client's
// list (-> invalid_scope), resource, consumer_org / iss_onbehalfof / pid and
// authorization_details shapes (-> invalid_request). The agent runs it before
// its cache, so a request that can never succeed takes no cache entry.
Status check_grant_request(const GrantRequest& request, const ClientConfig& client);

}  // namespace mpa
