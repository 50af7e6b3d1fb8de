// PKCS#11 return values and the OpenSSL error queue, in words. Private to
// pkcs11/.
#pragma once

#include <optional>
#include <string>

namespace mpa::pkcs11 {

// "CKR_PIN_INCORRECT (incorrect PIN)"; unknown values as "CKR 0x...".
std::string ckr_text(unsigned long rv);

// "CKR_HOST_MEMORY": the name alone; unknown values as "CKR 0x...".
std::string ckr_name(unsigned long rv);

struct DrainedErrors {
  std::optional<unsigned long> ckr;  // the last CKR_* value libp11 queued
  std::string text;                  // every queued error, "; "-separated
};

// Empties this thread's OpenSSL error queue (where libp11 also reports
// CKR_* values) into words.
DrainedErrors drain_openssl_errors();

// Why loading `module_path` failed when its initialisation (C_Initialize)
// answered `rv`. Modules with a daemon of their own (openCryptoki's
// pkcsslotd) answer CKR_HOST_MEMORY or CKR_FUNCTION_FAILED when it is not
// running or the user may not reach it, which is no shortage of memory.
std::string initialisation_failure(const std::string& module_path, unsigned long rv);

// Whether `rv` says the session, the login or the token itself went away,
// so that opening the token again may help.
bool is_token_lost(unsigned long rv);

// Whether `rv` is the token refusing the PIN (never retried).
bool is_pin_refused(unsigned long rv);

// What a failed C_Login says about the PIN, and so what is done with it.
enum class LoginFailure {
  pin_refused,      // a CKR_PIN_* answer: recorded, never presented again
  tries_counted,    // an unclear answer, and the token's PIN flags show a try
                    // counted: not presented again automatically, not recorded
  token_lost,       // the session or token went away: opened again later
  not_about_pin,    // any other failure: reported as it is, tried again later
};

// `ckr`: the CKR C_Login failed with (if libp11 queued one). `flags_before`,
// `flags_after`: the token's CK_TOKEN_INFO flags before the login and read
// again after it (nothing when the module could not say). Only the token's
// own words about the PIN (CKR_PIN_*) are taken as a refusal; after any
// other answer, the PIN flags decide whether it counted a try.
LoginFailure classify_login_failure(std::optional<unsigned long> ckr, unsigned long flags_before,
                                    std::optional<unsigned long> flags_after);

}  // namespace mpa::pkcs11
