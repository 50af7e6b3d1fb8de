#include "agent/signer_helper/helper_token.h"

#include <cstdlib>
#include <string>

#include "common/log.h"

namespace mpa::signer_helper {
namespace {

Result<SecretBytes> read_pin(const SetupMessage& setup) {
  if (setup.pin_source == PinSource::file) return pkcs11::read_pin_file(setup.pin_name);
  auto pin = pkcs11::read_pin_env(setup.pin_name);
  // Only this process needs it, and only in memory: a module that starts
  // processes of its own (p11-kit, pcscd clients) must not pass it on.
  pkcs11::remove_pin_env(setup.pin_name);
  return pin;
}

}  // namespace

Result<OpenedToken> open_helper_token(const SetupMessage& setup) {
  auto uri = pkcs11::Pkcs11Uri::parse(setup.token_uri);
  if (!uri) return std::move(uri).error();
  auto pin = read_pin(setup);
  if (!pin) return make_error(pin.error().code, pin.error().message, ErrorReason::pin_unreadable);

  pkcs11::TokenOptions options;
  options.module_path = setup.module_path;
  options.pin = std::move(*pin);
  options.state_dir = setup.state_dir;
  options.warn = [](const std::string& message) { log::warning(message); };
  auto token = pkcs11::Pkcs11Token::open(std::move(options), *uri);
  if (!token) return std::move(token).error();
  auto signers = find_helper_keys(**token, setup.keys);
  if (!signers) return std::move(signers).error();
  return OpenedToken{*token, std::move(*signers)};
}

Result<std::vector<std::shared_ptr<GrantSigner>>> find_helper_keys(
    pkcs11::Pkcs11Token& token, const std::vector<KeySetup>& keys) {
  std::vector<std::shared_ptr<GrantSigner>> signers;
  for (const KeySetup& key : keys) {
    auto signer = token.signer(pkcs11::KeyOptions{key.key_uri, key.chain_file});
    if (!signer) return std::move(signer).error();
    signers.push_back(std::move(*signer));
  }
  return signers;
}

}  // namespace mpa::signer_helper
