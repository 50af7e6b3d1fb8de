// The helper's side of setup: the PIN read from where the setup says, the
// token opened and logged in, a signer per key. Private to agent/signer.
#pragma once

#include <memory>
#include <variant>
#include <vector>

#include "agent/signer/wire.h"
#include "common/signer.h"
#include "pkcs11/pkcs11.h"

namespace mpa::signer {

struct OpenedToken {
  std::shared_ptr<pkcs11::Pkcs11Token> token;
  std::vector<std::shared_ptr<Signer>> signers;  // in the order of the setup's keys
};

// Reads the PIN (pin_env is removed from the environment after), opens
// the token and finds every key. The failure says whether the PIN was
// refused, which the agent never retries.
std::variant<OpenedToken, FailedMessage> open_helper_token(const SetupMessage& setup);

// A signer per key on a token already open and logged in (no new login),
// in the order of `keys`.
std::variant<std::vector<std::shared_ptr<Signer>>, FailedMessage> find_helper_keys(
    pkcs11::Pkcs11Token& token, const std::vector<KeySetup>& keys);

}  // namespace mpa::signer
