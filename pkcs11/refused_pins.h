// Refused PINs remembered across restarts (DESIGN.md "The signer
// process"): a smartcard locks after a few wrong tries, and each start,
// restart or reload of the agent would be one more. A record is keyed by
// what identifies the token (manufacturer, model, serial and label: all of
// openCryptoki's soft tokens report serial 123) and holds a salted, slow
// hash of the PIN (PBKDF2), never the PIN. Private to pkcs11/.
#pragma once

#include <string>

#include "common/result.h"
#include "common/secret.h"

namespace mpa::pkcs11 {

// The CK_TOKEN_INFO fields that together tell one token from another.
struct TokenIdentity {
  std::string manufacturer;
  std::string model;
  std::string serial;
  std::string label;
};

class RefusedPins {
 public:
  // `state_dir` empty: nothing is recorded or checked.
  explicit RefusedPins(std::string state_dir) : state_dir_(std::move(state_dir)) {}

  // The record file of `token`.
  std::string record_path(const TokenIdentity& token) const;
  // Where versions keyed by the serial alone put it; still read.
  std::string serial_record_path(const std::string& serial) const;

  // hsm_error if this token refused `pin` before, saying how to clear it,
  // or if its records hold more than is ever written (64 records of at
  // most 256 bytes each: every record costs a slow hash), naming the file.
  Status check(const TokenIdentity& token, const SecretBytes& pin) const;

  // Remembers that the token refused `pin`. Errors: internal (the words say
  // which file could not be written).
  Status record(const TokenIdentity& token, const SecretBytes& pin) const;

 private:
  std::string state_dir_;
};

}  // namespace mpa::pkcs11
