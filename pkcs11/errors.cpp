#include "pkcs11/errors.h"

#include <libp11.h>
#include <openssl/err.h>
#include <p11-kit-1/p11-kit/pkcs11.h>

#include <cstdio>

namespace mpa::pkcs11 {

std::string ckr_text(unsigned long rv) {
  struct Known {
    unsigned long rv;
    const char* name;
    const char* words;
  };
  static constexpr Known kKnown[] = {
      {CKR_OK, "CKR_OK", "success"},
      {CKR_HOST_MEMORY, "CKR_HOST_MEMORY", "the module ran out of memory"},
      {CKR_SLOT_ID_INVALID, "CKR_SLOT_ID_INVALID", "no such slot"},
      {CKR_GENERAL_ERROR, "CKR_GENERAL_ERROR", "unrecoverable error in the module"},
      {CKR_FUNCTION_FAILED, "CKR_FUNCTION_FAILED", "the function failed"},
      {CKR_ARGUMENTS_BAD, "CKR_ARGUMENTS_BAD", "bad arguments"},
      {CKR_CANT_LOCK, "CKR_CANT_LOCK", "the module cannot use OS locking"},
      {CKR_ATTRIBUTE_SENSITIVE, "CKR_ATTRIBUTE_SENSITIVE", "attribute is sensitive"},
      {CKR_DATA_LEN_RANGE, "CKR_DATA_LEN_RANGE", "data length out of range"},
      {CKR_DEVICE_ERROR, "CKR_DEVICE_ERROR", "device error"},
      {CKR_DEVICE_MEMORY, "CKR_DEVICE_MEMORY", "the token is out of memory"},
      {CKR_DEVICE_REMOVED, "CKR_DEVICE_REMOVED", "the token was removed"},
      {CKR_FUNCTION_CANCELED, "CKR_FUNCTION_CANCELED", "canceled"},
      {CKR_FUNCTION_NOT_SUPPORTED, "CKR_FUNCTION_NOT_SUPPORTED", "not supported by the module"},
      {CKR_KEY_HANDLE_INVALID, "CKR_KEY_HANDLE_INVALID", "the key handle is no longer valid"},
      {CKR_KEY_FUNCTION_NOT_PERMITTED, "CKR_KEY_FUNCTION_NOT_PERMITTED",
       "the key may not be used for this (CKA_SIGN false?)"},
      {CKR_KEY_TYPE_INCONSISTENT, "CKR_KEY_TYPE_INCONSISTENT", "wrong key type for the mechanism"},
      {CKR_MECHANISM_INVALID, "CKR_MECHANISM_INVALID", "mechanism not supported by the token"},
      {CKR_OBJECT_HANDLE_INVALID, "CKR_OBJECT_HANDLE_INVALID", "the object handle is no longer valid"},
      {CKR_OPERATION_ACTIVE, "CKR_OPERATION_ACTIVE", "another operation is active"},
      {CKR_PIN_INCORRECT, "CKR_PIN_INCORRECT", "incorrect PIN"},
      {CKR_PIN_INVALID, "CKR_PIN_INVALID", "the PIN has invalid characters"},
      {CKR_PIN_LEN_RANGE, "CKR_PIN_LEN_RANGE", "the PIN is too long or too short"},
      {CKR_PIN_EXPIRED, "CKR_PIN_EXPIRED", "the PIN has expired"},
      {CKR_PIN_LOCKED, "CKR_PIN_LOCKED", "the PIN is locked"},
      {CKR_SESSION_CLOSED, "CKR_SESSION_CLOSED", "the session was closed"},
      {CKR_SESSION_COUNT, "CKR_SESSION_COUNT", "too many sessions"},
      {CKR_SESSION_HANDLE_INVALID, "CKR_SESSION_HANDLE_INVALID", "the session is no longer valid"},
      {CKR_TOKEN_NOT_PRESENT, "CKR_TOKEN_NOT_PRESENT", "no token in the slot"},
      {CKR_TOKEN_NOT_RECOGNIZED, "CKR_TOKEN_NOT_RECOGNIZED", "the token is not recognized"},
      {CKR_USER_ALREADY_LOGGED_IN, "CKR_USER_ALREADY_LOGGED_IN", "already logged in"},
      {CKR_USER_NOT_LOGGED_IN, "CKR_USER_NOT_LOGGED_IN", "not logged in"},
      {CKR_USER_PIN_NOT_INITIALIZED, "CKR_USER_PIN_NOT_INITIALIZED", "the user PIN is not set"},
      {CKR_USER_TYPE_INVALID, "CKR_USER_TYPE_INVALID", "invalid user type"},
      {CKR_CRYPTOKI_NOT_INITIALIZED, "CKR_CRYPTOKI_NOT_INITIALIZED", "the module is not initialized"},
  };
  for (const Known& k : kKnown) {
    if (k.rv == rv) return std::string(k.name) + " (" + k.words + ")";
  }
  char buf[32];
  std::snprintf(buf, sizeof buf, "CKR 0x%08lX", rv);
  return buf;
}

std::string ckr_name(unsigned long rv) {
  std::string text = ckr_text(rv);
  const auto words = text.find(" (");
  if (words != std::string::npos) text.resize(words);
  return text;
}

std::string initialisation_failure(const std::string& module_path, unsigned long rv) {
  return "the PKCS#11 module " + module_path + " failed to initialise (C_Initialize: " +
         ckr_name(rv) +
         "); a daemon, service or group it needs may be missing (openCryptoki: is pkcsslotd "
         "running, and is the agent's user in group pkcs11?)";
}

DrainedErrors drain_openssl_errors() {
  DrainedErrors out;
  const int ckr_lib = ERR_get_CKR_code();
  const char* file = nullptr;
  const char* func = nullptr;
  int line = 0;
  for (unsigned long e = ERR_get_error_all(&file, &line, &func, nullptr, nullptr); e != 0;
       e = ERR_get_error_all(&file, &line, &func, nullptr, nullptr)) {
    std::string one;
    if (ERR_GET_LIB(e) == ckr_lib) {
      const auto rv = static_cast<unsigned long>(ERR_GET_REASON(e));
      out.ckr = rv;
      one = ckr_text(rv);
    } else {
      char buf[256];
      ERR_error_string_n(e, buf, sizeof buf);
      one = buf;
    }
    if (!out.text.empty()) out.text += "; ";
    out.text += one;
  }
  return out;
}

bool is_token_lost(unsigned long rv) {
  switch (rv) {
    case CKR_DEVICE_ERROR:
    case CKR_DEVICE_REMOVED:
    case CKR_TOKEN_NOT_PRESENT:
    case CKR_TOKEN_NOT_RECOGNIZED:
    case CKR_SESSION_CLOSED:
    case CKR_SESSION_HANDLE_INVALID:
    case CKR_USER_NOT_LOGGED_IN:
    case CKR_KEY_HANDLE_INVALID:
    case CKR_OBJECT_HANDLE_INVALID:
    case CKR_CRYPTOKI_NOT_INITIALIZED:
      return true;
    default:
      return false;
  }
}

bool is_pin_refused(unsigned long rv) {
  return rv == CKR_PIN_INCORRECT || rv == CKR_PIN_INVALID || rv == CKR_PIN_LEN_RANGE ||
         rv == CKR_PIN_EXPIRED || rv == CKR_PIN_LOCKED;
}

LoginFailure classify_login_failure(std::optional<unsigned long> ckr, unsigned long flags_before,
                                    std::optional<unsigned long> flags_after) {
  if (ckr && is_pin_refused(*ckr)) return LoginFailure::pin_refused;
  if (ckr && is_token_lost(*ckr)) return LoginFailure::token_lost;
  if (!flags_after) return LoginFailure::not_about_pin;
  // A flag the token shows now and did not show before the login: it
  // counted this try. A lock or a final try already shown means one more
  // automatic try could lock the token.
  constexpr unsigned long kWarnings =
      CKF_USER_PIN_COUNT_LOW | CKF_USER_PIN_FINAL_TRY | CKF_USER_PIN_LOCKED;
  constexpr unsigned long kGrave = CKF_USER_PIN_FINAL_TRY | CKF_USER_PIN_LOCKED;
  const unsigned long raised = *flags_after & kWarnings & ~flags_before;
  if (raised != 0 || (*flags_after & kGrave) != 0) return LoginFailure::tries_counted;
  return LoginFailure::not_about_pin;
}

}  // namespace mpa::pkcs11
