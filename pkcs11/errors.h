// PKCS#11 return values and the OpenSSL error queue, in words. Private to
// pkcs11/.
#pragma once

#include <optional>
#include <string>

namespace mpa::pkcs11 {

// "CKR_PIN_INCORRECT (incorrect PIN)"; unknown values as "CKR 0x...".
std::string ckr_text(unsigned long rv);

struct DrainedErrors {
  std::optional<unsigned long> ckr;  // the last CKR_* value libp11 queued
  std::string text;                  // every queued error, "; "-separated
};

// Empties this thread's OpenSSL error queue (where libp11 also reports
// CKR_* values) into words.
DrainedErrors drain_openssl_errors();

// Whether `rv` says the session, the login or the token itself went away,
// so that opening the token again may help.
bool is_token_lost(unsigned long rv);

// Whether `rv` is the token refusing the PIN (never retried).
bool is_pin_refused(unsigned long rv);

}  // namespace mpa::pkcs11
