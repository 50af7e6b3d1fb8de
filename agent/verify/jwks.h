// A JSON Web Key Set (RFC 7517 §5) of the RSA signing keys an issuer
// publishes at its jwks_uri, looked up by kid.
#pragma once

#include <openssl/evp.h>

#include <cstddef>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "common/handle.h"
#include "common/openssl_handles.h"
#include "common/result.h"

namespace mpa::verify {

// An issuer publishes a handful of keys; a set larger than this is not one.
inline constexpr std::size_t kMaxJwksBytes = 64 * 1024;
inline constexpr std::size_t kMaxJwksKeys = 32;
// Maskinporten's keys are 2048 bits or more; a smaller one is not its.
inline constexpr int kMinRsaKeyBits = 2048;

class Jwks final {
 public:
  // Keeps every RSA key with a kid whose "use" (when present) is "sig" and
  // whose "alg" (when present) is RS256; other keys are skipped, as
  // RFC 7517 §5 lets a reader do. `source` names the set in messages.
  // Errors: invalid_config when the set is not JSON, repeats a kid, holds
  // a key that cannot be read, or holds no usable key.
  static Result<std::shared_ptr<const Jwks>> parse(std::string_view json, std::string_view source);

  // The key the header's kid names, or nullptr.
  EVP_PKEY* find(std::string_view kid) const;
  std::vector<std::string> kids() const;

  Jwks(const Jwks&) = delete;  // owns OpenSSL keys
  Jwks& operator=(const Jwks&) = delete;
  Jwks(Jwks&&) = default;

 private:
  struct Key {
    std::string kid;
    Handle<EVP_PKEY> key;
  };
  Jwks() = default;
  std::vector<Key> keys_;
};

}  // namespace mpa::verify
