// The helper's side of setup: the PIN read from where the setup says, the
// token opened and logged in, a signer per key. Private to agent/signer_helper.
#pragma once

#include <memory>
#include <vector>

#include "agent/signer_helper/wire.h"
#include "common/grant_signer.h"
#include "common/result.h"
#include "pkcs11/pkcs11.h"

namespace mpa::signer_helper {

struct OpenedToken {
  std::shared_ptr<pkcs11::Pkcs11Token> token;
  std::vector<std::shared_ptr<GrantSigner>> signers;  // in the order of the setup's keys
};

// Reads the PIN (pin_env is removed from the environment after), opens
// the token and finds every key. The error's reason says whether the PIN
// was refused (ErrorReason::pin_refused, which the agent never retries)
// or could not be read (ErrorReason::pin_unreadable).
Result<OpenedToken> open_helper_token(const SetupMessage& setup);

// A signer per key on a token already open and logged in (no new login),
// in the order of `keys`.
Result<std::vector<std::shared_ptr<GrantSigner>>> find_helper_keys(
    pkcs11::Pkcs11Token& token, const std::vector<KeySetup>& keys);

}  // namespace mpa::signer_helper
