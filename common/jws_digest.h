// The message digest each JWS algorithm signs with (RFC 7518 §3.3:
// RSASSA-PKCS1-v1_5 with SHA-256, -384, -512), for the signer and for the
// code that checks its signatures.
#pragma once

#include <openssl/evp.h>

#include "common/grant_signer.h"

namespace mpa {

inline const EVP_MD* digest_for(JwsAlg alg) {
  switch (alg) {
    case JwsAlg::RS256: return EVP_sha256();
    case JwsAlg::RS384: return EVP_sha384();
    case JwsAlg::RS512: return EVP_sha512();
  }
  return EVP_sha256();
}

}  // namespace mpa
