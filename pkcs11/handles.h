// One Deleter per C handle type that pkcs11/ owns, and one unique_ptr alias
// (the shape of Tink's SslUniquePtr). Private to pkcs11/.
#pragma once

#include <libp11.h>
#include <openssl/bio.h>
#include <openssl/evp.h>
#include <openssl/x509.h>

#include <memory>

namespace mpa::pkcs11 {

template <class T>
struct Deleter;

template <>
struct Deleter<X509> {
  void operator()(X509* p) const noexcept { X509_free(p); }
};
template <>
struct Deleter<EVP_PKEY> {
  void operator()(EVP_PKEY* p) const noexcept { EVP_PKEY_free(p); }
};
template <>
struct Deleter<EVP_MD_CTX> {
  void operator()(EVP_MD_CTX* p) const noexcept { EVP_MD_CTX_free(p); }
};
template <>
struct Deleter<BIO> {
  void operator()(BIO* p) const noexcept { BIO_free(p); }
};
// Frees the context only; unloading the module (C_Finalize) is the job of
// ModuleSession, which knows whether it was loaded.
template <>
struct Deleter<PKCS11_CTX> {
  void operator()(PKCS11_CTX* p) const noexcept { PKCS11_CTX_free(p); }
};

template <class T>
using UniquePtr = std::unique_ptr<T, Deleter<T>>;

}  // namespace mpa::pkcs11
