// Refused PINs remembered across restarts (DESIGN.md "The signer
// process"): a smartcard locks after a few wrong tries, and each start,
// restart or reload of the agent would be one more. A record is keyed by
// the token's serial and holds a salted, slow hash of the PIN (PBKDF2),
// never the PIN. Private to pkcs11/.
#pragma once

#include <string>

#include "common/result.h"
#include "common/secret.h"

namespace mpa::pkcs11 {

class RefusedPins {
 public:
  // `state_dir` empty: nothing is recorded or checked.
  explicit RefusedPins(std::string state_dir) : state_dir_(std::move(state_dir)) {}

  // The record file of the token with `serial`.
  std::string record_path(const std::string& serial) const;

  // hsm_error if this token refused `pin` before, saying how to clear it.
  Status check(const std::string& serial, const std::string& label, const SecretBytes& pin) const;

  // Remembers that the token refused `pin`. Errors: internal (the words say
  // which file could not be written).
  Status record(const std::string& serial, const SecretBytes& pin) const;

 private:
  std::string state_dir_;
};

}  // namespace mpa::pkcs11
