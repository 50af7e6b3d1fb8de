// Parsers for the values tests write into control files. Each returns
// nullopt for text it does not understand; the caller says so on stderr and
// fails the call, so that a typo in a test shows instead of passing quietly.
#pragma once

#include <p11-kit-1/p11-kit/pkcs11.h>

#include <chrono>
#include <optional>
#include <string>

namespace mpa_fault {

// A return value: a PKCS#11 v2.40 name ("CKR_PIN_INCORRECT") or a number,
// hexadecimal with 0x ("0x000000A0") or decimal ("160").
std::optional<CK_RV> parse_ckr(const std::string& text);

// The v2.40 name of `rv` ("CKR_PIN_INCORRECT"), or "0x%08lX" for one
// without a name (vendor-defined values).
std::string ckr_name(CK_RV rv);

// Space-separated names among CKF_USER_PIN_COUNT_LOW, CKF_USER_PIN_FINAL_TRY
// and CKF_USER_PIN_LOCKED, OR-ed together; empty text is no flags.
std::optional<CK_FLAGS> parse_pin_flags(const std::string& text);

// A whole number of milliseconds, decimal ("50").
std::optional<std::chrono::milliseconds> parse_millis(const std::string& text);

}  // namespace mpa_fault
