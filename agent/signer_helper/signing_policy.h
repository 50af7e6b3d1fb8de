// What the signer helper agrees to sign: a Maskinporten grant and nothing
// else (DESIGN.md "The signer process"). A compromised agent process can
// then not make the key sign a TLS handshake or a document: only a JWS
// signing input whose header names the configured alg and whose claims
// name a configured audience, live for at most two minutes around now.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "common/result.h"
#include "common/grant_signer.h"

namespace mpa::signer_helper {

// Digdir's grant table: Maskinporten refuses exp - iat over 120 s.
inline constexpr std::int64_t kMaxGrantLifetimeSeconds = 120;
// How far a grant's iat may be from the helper's clock.
inline constexpr std::int64_t kMaxIatSkewSeconds = 60;
// Header and claims objects nest no deeper than this (authorization_details).
inline constexpr int kMaxClaimsDepth = 16;

struct SigningPolicy {
  std::vector<JwsAlg> algs;            // the configured clients' alg values
  std::vector<std::string> audiences;  // the configured clients' issuers
};

// Ok if `signing_input` (base64url(header) '.' base64url(claims), RFC 7515
// §5.1) may be signed with `alg` at `now` (epoch seconds); otherwise
// forbidden, saying which rule it broke.
Status check_signing_input(const SigningPolicy& policy, JwsAlg alg, std::string_view signing_input,
                           std::int64_t now);

}  // namespace mpa::signer_helper
