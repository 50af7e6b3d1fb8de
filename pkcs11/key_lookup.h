// Finding a private key, its certificate and the intermediates on a token,
// and checking that they belong together. Private to pkcs11/.
#pragma once

#include <cstdint>
#include <ctime>
#include <optional>
#include <string>
#include <vector>

#include "common/result.h"
#include "common/grant_signer.h"
#include "pkcs11/handles.h"
#include "pkcs11/module_session.h"
#include "pkcs11/pkcs11.h"

namespace mpa::pkcs11 {

// Which private key a key URI names: by label, by CKA_ID, or both.
struct KeySelector {
  std::optional<std::string> label;
  std::optional<std::vector<std::uint8_t>> id;

  // Errors: invalid_config (the URI names no key, or not a private key).
  static Result<KeySelector> from_uri(const Pkcs11Uri& uri);
  std::string cache_key() const;
  std::string describe() const;  // object="vsert-auth", id=01
};

// The private key (as a libp11 EVP_PKEY, usable only through the token)
// and the DER SubjectPublicKeyInfo of its public half.
struct FoundKey {
  Handle<EVP_PKEY> pkey;
  Bytes public_key_der;
  std::vector<std::uint8_t> id;
};

// Exactly one private key must match. Errors: hsm_error, in words.
Result<FoundKey> find_private_key(ModuleSession& session, const KeySelector& selector);

struct Certificates {
  Handle<X509> leaf;
  std::vector<Handle<X509>> intermediates;
};

// The certificate with CKA_ID `id`, and the intermediates: from
// `chain_file` when given, else from the token (issuer by issuer, up to
// but without the self-signed root). Errors: hsm_error / invalid_config.
Result<Certificates> find_certificates(ModuleSession& session, const std::vector<std::uint8_t>& id,
                                       const std::optional<std::string>& chain_file);

// The DER SubjectPublicKeyInfo the token shows for CKA_ID `id` without a
// login: the certificate's key, else a public key object's. Errors:
// hsm_error when neither is there (or they are several).
Result<Bytes> public_key_before_login(ModuleSession& session, const std::vector<std::uint8_t>& id);

// DER SubjectPublicKeyInfo of `pkey`. Errors: internal.
Result<Bytes> public_key_der(EVP_PKEY* pkey);

Bytes to_der(X509* cert);
std::string subject_text(X509* cert);
// notAfter in epoch seconds; nullopt when the time cannot be read.
std::optional<std::int64_t> not_after(X509* cert);
std::optional<std::int64_t> not_before(X509* cert);

}  // namespace mpa::pkcs11
