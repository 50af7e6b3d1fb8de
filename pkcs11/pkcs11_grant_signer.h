// The GrantSigner for one key on a Pkcs11Token opened in this process
// (the signer helper's). Private to pkcs11/.
#pragma once

#include <memory>
#include <string_view>
#include <vector>

#include "common/grant_signer.h"
#include "pkcs11/key_lookup.h"
#include "pkcs11/pkcs11.h"

namespace mpa::pkcs11 {

// RSASSA-PKCS1-v1_5 (RFC 8017 §8.2) with the digest `alg` names, through
// EVP_DigestSign on libp11's EVP_PKEY: OpenSSL hashes, the token does the
// private-key operation. Errors: hsm_error, with ErrorReason::token_lost
// when the failure says the session or the token went away.
Result<Bytes> digest_sign(EVP_PKEY* key, JwsAlg alg, std::string_view data);

class Pkcs11GrantSigner final : public GrantSigner {
 public:
  Pkcs11GrantSigner(std::shared_ptr<Pkcs11Token::Impl> token, KeySelector selector, Bytes public_key_der,
               std::vector<Bytes> chain, SignerInfo info);

  Result<Bytes> sign(JwsAlg alg, std::string_view data) override;
  const std::vector<Bytes>& certificate_chain() const override { return chain_; }
  SignerInfo info() const override;

 private:
  const std::shared_ptr<Pkcs11Token::Impl> token_;
  const KeySelector selector_;
  const Bytes public_key_der_;
  const std::vector<Bytes> chain_;
  const SignerInfo info_;  // the certificate part; token state is asked for
};

}  // namespace mpa::pkcs11
