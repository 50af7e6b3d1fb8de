#include "pkcs11/pkcs11_grant_signer.h"

#include <openssl/rsa.h>

#include "common/jws_digest.h"
#include "pkcs11/errors.h"
#include "pkcs11/token.h"

namespace mpa::pkcs11 {
namespace {

Error sign_error(JwsAlg alg) {
  const DrainedErrors errors = drain_openssl_errors();
  const bool lost = errors.ckr && is_token_lost(*errors.ckr);
  return make_error(ErrorCode::hsm_error,
                    "the token could not sign (" + std::string(to_string(alg)) + "): " +
                        (errors.text.empty() ? "no reason given" : errors.text),
                    lost ? ErrorReason::token_lost : ErrorReason::none);
}

}  // namespace

Result<Bytes> digest_sign(EVP_PKEY* key, JwsAlg alg, std::string_view data) {
  ERR_clear_error();  // so that what is drained below belongs to this call
  Handle<EVP_MD_CTX> ctx(EVP_MD_CTX_new());
  if (!ctx) return make_error(ErrorCode::internal, "EVP_MD_CTX_new failed (out of memory?)");
  EVP_PKEY_CTX* pctx = nullptr;  // owned by ctx
  if (EVP_DigestSignInit(ctx.get(), &pctx, digest_for(alg), nullptr, key) != 1 ||
      EVP_PKEY_CTX_set_rsa_padding(pctx, RSA_PKCS1_PADDING) != 1) {
    return sign_error(alg);
  }
  const auto* in = reinterpret_cast<const unsigned char*>(data.data());
  std::size_t len = 0;
  if (EVP_DigestSign(ctx.get(), nullptr, &len, in, data.size()) != 1) {
    return sign_error(alg);
  }
  Bytes signature(len);
  if (EVP_DigestSign(ctx.get(), signature.data(), &len, in, data.size()) != 1) {
    return sign_error(alg);
  }
  signature.resize(len);
  return signature;
}

Pkcs11GrantSigner::Pkcs11GrantSigner(std::shared_ptr<Pkcs11Token::Impl> token, KeySelector selector,
                           Bytes public_key_der, std::vector<Bytes> chain, SignerInfo info)
    : token_(std::move(token)),
      selector_(std::move(selector)),
      public_key_der_(std::move(public_key_der)),
      chain_(std::move(chain)),
      info_(std::move(info)) {}

Result<Bytes> Pkcs11GrantSigner::sign(JwsAlg alg, std::string_view data) {
  return token_->sign(selector_, public_key_der_, alg, data);
}

SignerInfo Pkcs11GrantSigner::info() const {
  const TokenStatus status = token_->status();
  SignerInfo out = info_;
  out.token_present = status.present;
  out.logged_in = status.logged_in;
  out.last_error = status.last_error;
  return out;
}

}  // namespace mpa::pkcs11
