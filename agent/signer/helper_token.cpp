#include "agent/signer/helper_token.h"

#include <cstdlib>
#include <string>

#include "common/log.h"

namespace mpa::signer {
namespace {

FailedMessage failure(const Error& error, SetupFailure kind = SetupFailure::other) {
  std::string message = error.message;
  if (message.size() > kMaxMessageBytes) message.resize(kMaxMessageBytes);
  return FailedMessage{kind, error.code, std::move(message)};
}

Result<SecretBytes> read_pin(const SetupMessage& setup) {
  if (setup.pin_source == PinSource::file) return pkcs11::read_pin_file(setup.pin_name);
  auto pin = pkcs11::read_pin_env(setup.pin_name);
  // Only this process needs it, and only in memory: a module that starts
  // processes of its own (p11-kit, pcscd clients) must not pass it on.
  pkcs11::remove_pin_env(setup.pin_name);
  return pin;
}

}  // namespace

std::variant<OpenedToken, FailedMessage> open_helper_token(const SetupMessage& setup) {
  auto uri = pkcs11::Pkcs11Uri::parse(setup.token_uri);
  if (!uri) return failure(uri.error());
  auto pin = read_pin(setup);
  if (!pin) return failure(pin.error(), SetupFailure::pin_unreadable);

  pkcs11::TokenOptions options;
  options.module_path = setup.module_path;
  options.pin = std::move(*pin);
  options.state_dir = setup.state_dir;
  options.warn = [](const std::string& message) { log::warning(message); };
  auto token = pkcs11::Pkcs11Token::open(std::move(options), *uri);
  if (!token) {
    const bool refused = token.error().reason == ErrorReason::pin_refused;
    return failure(token.error(), refused ? SetupFailure::pin_refused : SetupFailure::other);
  }
  auto signers = find_helper_keys(**token, setup.keys);
  if (auto* failed = std::get_if<FailedMessage>(&signers)) return *failed;
  return OpenedToken{*token, std::get<std::vector<std::shared_ptr<Signer>>>(std::move(signers))};
}

std::variant<std::vector<std::shared_ptr<Signer>>, FailedMessage> find_helper_keys(
    pkcs11::Pkcs11Token& token, const std::vector<KeySetup>& keys) {
  std::vector<std::shared_ptr<Signer>> signers;
  for (const KeySetup& key : keys) {
    auto signer = token.signer(pkcs11::KeyOptions{key.key_uri, key.chain_file});
    if (!signer) return failure(signer.error());
    signers.push_back(std::move(*signer));
  }
  return signers;
}

}  // namespace mpa::signer
