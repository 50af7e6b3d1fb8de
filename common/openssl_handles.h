// Handle<T> for the OpenSSL types the project owns (see common/handle.h).
#pragma once

#include <openssl/bio.h>
#include <openssl/bn.h>
#include <openssl/evp.h>
#include <openssl/x509.h>

#include "common/handle.h"

MPA_HANDLE_DELETER(BIO, BIO_free);
MPA_HANDLE_DELETER(BIGNUM, BN_free);
MPA_HANDLE_DELETER(EVP_MD_CTX, EVP_MD_CTX_free);
MPA_HANDLE_DELETER(EVP_PKEY, EVP_PKEY_free);
MPA_HANDLE_DELETER(EVP_PKEY_CTX, EVP_PKEY_CTX_free);
MPA_HANDLE_DELETER(X509, X509_free);
MPA_HANDLE_DELETER(X509_STORE, X509_STORE_free);
MPA_HANDLE_DELETER(X509_STORE_CTX, X509_STORE_CTX_free);
