#include "pkcs11/key_lookup.h"

#include <openssl/asn1.h>
#include <openssl/pem.h>
#include <openssl/x509v3.h>

#include <algorithm>
#include <cstdio>
#include <functional>

#include "pkcs11/errors.h"

namespace mpa::pkcs11 {
namespace {

// A chain file with more certificates than this is not a chain.
constexpr std::size_t kMaxChainCertificates = 8;

std::string hex(const std::vector<std::uint8_t>& bytes) {
  std::string out;
  for (std::uint8_t b : bytes) {
    char buf[3];
    std::snprintf(buf, sizeof buf, "%02x", b);
    out += buf;
  }
  return out;
}

std::vector<std::uint8_t> id_of(const unsigned char* id, std::size_t len) {
  return id == nullptr ? std::vector<std::uint8_t>{} : std::vector<std::uint8_t>(id, id + len);
}

std::string describe_key(const PKCS11_KEY& key) {
  return std::string(key.label != nullptr ? key.label : "(no label)") + " (id " +
         hex(id_of(key.id, key.id_len)) + ")";
}

bool is_self_signed(X509* cert) {
  return X509_NAME_cmp(X509_get_subject_name(cert), X509_get_issuer_name(cert)) == 0 &&
         X509_check_issued(cert, cert) == X509_V_OK;
}

Handle<X509> dup(X509* cert) {
  X509_up_ref(cert);
  return Handle<X509>(cert);
}

// Intermediates from the token: the certificate that issued `cert`, then
// the one that issued that, stopping at a self-signed one (the root, which
// the relying party has and which is not sent).
std::vector<Handle<X509>> token_intermediates(X509* leaf, PKCS11_CERT* certs,
                                                 unsigned int count) {
  std::vector<Handle<X509>> out;
  X509* current = leaf;
  while (out.size() < kMaxChainCertificates) {
    X509* issuer = nullptr;
    for (unsigned int i = 0; i < count; ++i) {
      X509* candidate = certs[i].x509;
      if (candidate == nullptr || candidate == current) continue;
      if (X509_check_issued(candidate, current) == X509_V_OK) {
        issuer = candidate;
        break;
      }
    }
    if (issuer == nullptr || is_self_signed(issuer)) break;
    out.push_back(dup(issuer));
    current = issuer;
  }
  return out;
}

Result<std::vector<Handle<X509>>> read_chain_file(const std::string& path) {
  Handle<BIO> bio(BIO_new_file(path.c_str(), "r"));
  if (!bio) {
    return make_error(ErrorCode::invalid_config,
                      "cannot open chain_file " + path + ": " + drain_openssl_errors().text);
  }
  std::vector<Handle<X509>> out;
  while (Handle<X509> cert{PEM_read_bio_X509(bio.get(), nullptr, nullptr, nullptr)}) {
    if (out.size() == kMaxChainCertificates) {
      return make_error(ErrorCode::invalid_config,
                        "chain_file " + path + " holds more than " +
                            std::to_string(kMaxChainCertificates) + " certificates");
    }
    // The root is not sent: the relying party has it.
    if (!is_self_signed(cert.get())) out.push_back(std::move(cert));
  }
  const DrainedErrors rest = drain_openssl_errors();  // PEM's "no start line" at the end
  if (out.empty()) {
    return make_error(ErrorCode::invalid_config,
                      "chain_file " + path + " holds no intermediate certificate (PEM)" +
                          (rest.text.empty() ? "" : ": " + rest.text));
  }
  return out;
}

std::optional<std::int64_t> epoch(const ASN1_TIME* t) {
  struct tm tm {};
  if (t == nullptr || ASN1_TIME_to_tm(t, &tm) != 1) return std::nullopt;
  return static_cast<std::int64_t>(timegm(&tm));
}

}  // namespace

Result<KeySelector> KeySelector::from_uri(const Pkcs11Uri& uri) {
  if (uri.type && *uri.type != "private") {
    return make_error(ErrorCode::invalid_config,
                      "the key URI names a " + *uri.type +
                          " object; it must name the private key (type=private or no type)");
  }
  if (!uri.object && !uri.id) {
    return make_error(ErrorCode::invalid_config,
                      "the key URI names no key; add object=LABEL or id=%XX (taking the first "
                      "key on the token would sign with whatever key that is)");
  }
  return KeySelector{uri.object, uri.id};
}

std::string KeySelector::cache_key() const {
  return (label ? "l" + *label : "-") + "\n" + (id ? hex(*id) : "-");
}

std::string KeySelector::describe() const {
  std::string out;
  if (label) out = "object=\"" + *label + "\"";
  if (id) out += (out.empty() ? "" : ", ") + std::string("id=") + hex(*id);
  return out;
}

Result<FoundKey> find_private_key(ModuleSession& session, const KeySelector& selector) {
  PKCS11_KEY* keys = nullptr;
  unsigned int count = 0;
  if (PKCS11_enumerate_keys(session.token(), &keys, &count) != 0) {
    return make_error(ErrorCode::hsm_error, "cannot list the private keys on token \"" +
                                                session.label() + "\": " +
                                                drain_openssl_errors().text);
  }
  std::vector<PKCS11_KEY*> matching;
  std::string all;
  for (unsigned int i = 0; i < count; ++i) {
    PKCS11_KEY& key = keys[i];
    if (key.isPrivate == 0) continue;
    if (!all.empty()) all += ", ";
    all += describe_key(key);
    const bool label_ok = !selector.label || (key.label != nullptr && *selector.label == key.label);
    const bool id_ok = !selector.id || *selector.id == id_of(key.id, key.id_len);
    if (label_ok && id_ok) matching.push_back(&key);
  }
  if (matching.empty()) {
    return make_error(ErrorCode::hsm_error, "no private key with " + selector.describe() +
                                                " on token \"" + session.label() +
                                                "\"; private keys found: " +
                                                (all.empty() ? "none" : all));
  }
  if (matching.size() > 1) {
    std::string which;
    for (PKCS11_KEY* key : matching) which += (which.empty() ? "" : ", ") + describe_key(*key);
    return make_error(ErrorCode::invalid_config,
                      "several private keys match " + selector.describe() + ": " + which +
                          "; add id= (or object=) to the key URI to pick one");
  }
  PKCS11_KEY* key = matching.front();
  FoundKey found;
  found.id = id_of(key->id, key->id_len);
  found.pkey.reset(PKCS11_get_private_key(key));
  if (!found.pkey) {
    return make_error(ErrorCode::hsm_error, "cannot use private key " + describe_key(*key) +
                                                ": " + drain_openssl_errors().text);
  }
  if (EVP_PKEY_get_base_id(found.pkey.get()) != EVP_PKEY_RSA) {
    return make_error(ErrorCode::invalid_config, "private key " + describe_key(*key) +
                                                     " is not an RSA key; RS256/384/512 need RSA");
  }
  auto der = public_key_der(found.pkey.get());
  if (!der) return std::move(der).error();
  found.public_key_der = std::move(der).value();
  return found;
}

Result<Certificates> find_certificates(ModuleSession& session, const std::vector<std::uint8_t>& id,
                                       const std::optional<std::string>& chain_file) {
  PKCS11_CERT* certs = nullptr;
  unsigned int count = 0;
  if (PKCS11_enumerate_certs(session.token(), &certs, &count) != 0) {
    return make_error(ErrorCode::hsm_error, "cannot list the certificates on token \"" +
                                                session.label() + "\": " +
                                                drain_openssl_errors().text);
  }
  Certificates out;
  for (unsigned int i = 0; i < count; ++i) {
    if (certs[i].x509 == nullptr || id_of(certs[i].id, certs[i].id_len) != id) continue;
    if (out.leaf) {
      return make_error(ErrorCode::hsm_error, "several certificates on token \"" +
                                                  session.label() + "\" have CKA_ID " + hex(id) +
                                                  "; keep only the key's own");
    }
    out.leaf = dup(certs[i].x509);
  }
  if (!out.leaf) {
    return make_error(ErrorCode::hsm_error, "no certificate with CKA_ID " + hex(id) +
                                                " (the private key's id) on token \"" +
                                                session.label() + "\"");
  }
  if (chain_file) {
    auto chain = read_chain_file(*chain_file);
    if (!chain) return std::move(chain).error();
    out.intermediates = std::move(chain).value();
  } else {
    out.intermediates = token_intermediates(out.leaf.get(), certs, count);
  }
  return out;
}

namespace {

// The public key objects with CKA_ID `id` a session without login shows.
Result<std::vector<Bytes>> public_key_objects(ModuleSession& session,
                                             const std::vector<std::uint8_t>& id) {
  PKCS11_KEY* keys = nullptr;
  unsigned int count = 0;
  if (PKCS11_enumerate_public_keys(session.token(), &keys, &count) != 0) {
    return make_error(ErrorCode::hsm_error, "cannot list the public keys on token \"" +
                                                session.label() + "\": " +
                                                drain_openssl_errors().text);
  }
  std::vector<Bytes> out;
  for (unsigned int i = 0; i < count; ++i) {
    if (keys[i].isPrivate != 0 || id_of(keys[i].id, keys[i].id_len) != id) continue;
    Handle<EVP_PKEY> pkey(PKCS11_get_public_key(&keys[i]));
    if (!pkey) continue;
    auto der = public_key_der(pkey.get());
    if (!der) return std::move(der).error();
    out.push_back(std::move(der).value());
  }
  return out;
}

}  // namespace

Result<Bytes> public_key_before_login(ModuleSession& session, const std::vector<std::uint8_t>& id) {
  PKCS11_CERT* certs = nullptr;
  unsigned int count = 0;
  if (PKCS11_enumerate_certs(session.token(), &certs, &count) != 0) {
    return make_error(ErrorCode::hsm_error, "cannot list the certificates on token \"" +
                                                session.label() + "\": " +
                                                drain_openssl_errors().text);
  }
  std::vector<Bytes> found;
  for (unsigned int i = 0; i < count; ++i) {
    if (certs[i].x509 == nullptr || id_of(certs[i].id, certs[i].id_len) != id) continue;
    auto der = public_key_der(X509_get0_pubkey(certs[i].x509));
    if (!der) return std::move(der).error();
    found.push_back(std::move(der).value());
  }
  if (found.empty()) {
    auto objects = public_key_objects(session, id);
    if (!objects) return std::move(objects).error();
    found = std::move(objects).value();
  }
  if (found.empty()) {
    return make_error(ErrorCode::hsm_error, "token \"" + session.label() +
                                                "\" shows no certificate or public key with "
                                                "CKA_ID " + hex(id) + " before login");
  }
  if (std::adjacent_find(found.begin(), found.end(), std::not_equal_to<>()) != found.end()) {
    return make_error(ErrorCode::hsm_error, "token \"" + session.label() + "\" shows " +
                                                std::to_string(found.size()) +
                                                " different public keys with CKA_ID " + hex(id) +
                                                " before login");
  }
  return std::move(found.front());
}

Result<Bytes> public_key_der(EVP_PKEY* pkey) {
  unsigned char* der = nullptr;
  const int len = i2d_PUBKEY(pkey, &der);
  if (len <= 0) {
    return make_error(ErrorCode::internal,
                      "cannot encode a public key: " + drain_openssl_errors().text);
  }
  Bytes out(der, der + len);
  OPENSSL_free(der);
  return out;
}

Bytes to_der(X509* cert) {
  unsigned char* der = nullptr;
  const int len = i2d_X509(cert, &der);
  if (len <= 0) return {};
  Bytes out(der, der + len);
  OPENSSL_free(der);
  return out;
}

std::string subject_text(X509* cert) {
  Handle<BIO> bio(BIO_new(BIO_s_mem()));
  if (!bio || X509_NAME_print_ex(bio.get(), X509_get_subject_name(cert), 0, XN_FLAG_RFC2253) < 0) {
    return "";
  }
  char* data = nullptr;
  const long len = BIO_get_mem_data(bio.get(), &data);
  return std::string(data, static_cast<std::size_t>(len));
}

std::optional<std::int64_t> not_after(X509* cert) { return epoch(X509_get0_notAfter(cert)); }
std::optional<std::int64_t> not_before(X509* cert) { return epoch(X509_get0_notBefore(cert)); }

}  // namespace mpa::pkcs11
