// GrantSigner, the one seam between JWT code and the key store: "sign this
// grant's signing input with this client's key, return the signature".
// Nothing PKCS#11 crosses it, so the same grant code runs on a key in a
// signer helper process (agent/signer_helper: HelperGrantSigner, what the
// agent uses) or on a token opened in this process (pkcs11/:
// Pkcs11GrantSigner, what the helper itself uses).
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "common/result.h"

namespace mpa {

enum class JwsAlg { RS256, RS384, RS512 };

inline std::string_view to_string(JwsAlg alg) {
  switch (alg) {
    case JwsAlg::RS256: return "RS256";
    case JwsAlg::RS384: return "RS384";
    case JwsAlg::RS512: return "RS512";
  }
  return "RS256";
}

using Bytes = std::vector<std::uint8_t>;

// What `status` shows about a key and its certificate.
struct SignerInfo {
  bool token_present = false;
  bool logged_in = false;
  std::string token_label;
  std::string key_uri;
  std::string certificate_subject;
  std::int64_t certificate_not_after = 0;  // epoch seconds
  std::string last_error;
};

class GrantSigner {
 public:
  virtual ~GrantSigner() = default;

  // RSASSA-PKCS1-v1_5 over `data` with the digest `alg` names (RFC 7518 §3.3).
  // Safe to call from several threads at once. Errors: hsm_error.
  virtual Result<Bytes> sign(JwsAlg alg, std::string_view data) = 0;

  // DER certificates, leaf first, then intermediates (may be only the leaf).
  virtual const std::vector<Bytes>& certificate_chain() const = 0;

  virtual SignerInfo info() const = 0;
};

}  // namespace mpa
