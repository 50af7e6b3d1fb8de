// JWKS parsing: RSA public keys from their modulus and exponent (RFC 7518 §6.3.1).
#include "agent/verify/jwks.h"

#include <openssl/core_names.h>
#include <openssl/err.h>
#include <openssl/param_build.h>

#include "agent/jwt/jose.h"
#include "agent/verify/jws.h"
#include "common/json_text.h"
#include "common/text.h"

MPA_HANDLE_DELETER(OSSL_PARAM_BLD, OSSL_PARAM_BLD_free);
MPA_HANDLE_DELETER(OSSL_PARAM, OSSL_PARAM_free);

namespace mpa::verify {
namespace {

Error bad_set(std::string_view source, const std::string& words) {
  return make_error(ErrorCode::invalid_config, std::string(source) + ": " + words);
}

Handle<BIGNUM> big_number(const std::string& bytes) {
  return Handle<BIGNUM>(BN_bin2bn(reinterpret_cast<const unsigned char*>(bytes.data()),
                                  static_cast<int>(bytes.size()), nullptr));
}

// n and e, base64url big-endian unsigned integers, as an EVP_PKEY.
Handle<EVP_PKEY> rsa_public_key(const std::string& n_bytes, const std::string& e_bytes) {
  Handle<BIGNUM> n = big_number(n_bytes), e = big_number(e_bytes);
  Handle<OSSL_PARAM_BLD> build(OSSL_PARAM_BLD_new());
  if (!n || !e || !build || OSSL_PARAM_BLD_push_BN(build.get(), OSSL_PKEY_PARAM_RSA_N, n.get()) != 1 ||
      OSSL_PARAM_BLD_push_BN(build.get(), OSSL_PKEY_PARAM_RSA_E, e.get()) != 1) {
    return Handle<EVP_PKEY>();
  }
  Handle<OSSL_PARAM> params(OSSL_PARAM_BLD_to_param(build.get()));
  Handle<EVP_PKEY_CTX> ctx(EVP_PKEY_CTX_new_from_name(nullptr, "RSA", nullptr));
  EVP_PKEY* key = nullptr;
  if (!params || !ctx || EVP_PKEY_fromdata_init(ctx.get()) != 1 ||
      EVP_PKEY_fromdata(ctx.get(), &key, EVP_PKEY_PUBLIC_KEY, params.get()) != 1) {
    key = nullptr;
  }
  ERR_clear_error();
  return Handle<EVP_PKEY>(key);
}

// An RSA key with a kid, for signatures, for RS256 (use and alg when present).
bool for_rs256_signatures(const rapidjson::Value& jwk) {
  const rapidjson::Value* use = json::find(jwk, "use");
  const rapidjson::Value* alg = json::find(jwk, "alg");
  return string_member(jwk, "kty") == "RSA" &&
         (use == nullptr || string_member(jwk, "use") == "sig") &&
         (alg == nullptr || string_member(jwk, "alg") == "RS256") &&
         !string_member(jwk, "kid").empty();
}

}  // namespace

Result<std::shared_ptr<const Jwks>> Jwks::parse(std::string_view text, std::string_view source) {
  if (text.size() > kMaxJwksBytes) {
    return bad_set(source, "the key set is larger than " + std::to_string(kMaxJwksBytes) + " bytes");
  }
  auto doc = parse_strict_object(text, "the key set");
  if (!doc) return bad_set(source, doc.error().message);
  const rapidjson::Value* keys = json::find(*doc, "keys");
  if (keys == nullptr || !keys->IsArray()) return bad_set(source, "the key set has no \"keys\" array");
  if (keys->Size() > kMaxJwksKeys) {
    return bad_set(source, "the key set holds more than " + std::to_string(kMaxJwksKeys) + " keys");
  }
  Jwks set;
  for (const auto& jwk : keys->GetArray()) {
    if (!jwk.IsObject() || !for_rs256_signatures(jwk)) continue;
    const std::string kid(string_member(jwk, "kid"));
    if (set.find(kid) != nullptr) return bad_set(source, "the key set repeats kid " + quoted(kid));
    const auto n = jose::base64url_decode(string_member(jwk, "n"));
    const auto e = jose::base64url_decode(string_member(jwk, "e"));
    if (!n || !e || n->empty() || e->empty()) {
      return bad_set(source, "key " + quoted(kid) + " has no base64url n and e");
    }
    Handle<EVP_PKEY> key = rsa_public_key(*n, *e);
    if (!key) return bad_set(source, "key " + quoted(kid) + " is not a usable RSA public key");
    if (EVP_PKEY_get_bits(key.get()) < kMinRsaKeyBits) {
      return bad_set(source, "key " + quoted(kid) + " has " +
                                 std::to_string(EVP_PKEY_get_bits(key.get())) +
                                 " bits; at least " + std::to_string(kMinRsaKeyBits) + " expected");
    }
    set.keys_.push_back(Key{kid, std::move(key)});
  }
  if (set.keys_.empty()) return bad_set(source, "the key set holds no RSA signing key with a kid");
  return std::shared_ptr<const Jwks>(new Jwks(std::move(set)));
}

EVP_PKEY* Jwks::find(std::string_view kid) const {
  for (const auto& k : keys_) {
    if (k.kid == kid) return k.key.get();
  }
  return nullptr;
}

std::vector<std::string> Jwks::kids() const {
  std::vector<std::string> out;
  for (const auto& k : keys_) out.push_back(k.kid);
  return out;
}

}  // namespace mpa::verify
