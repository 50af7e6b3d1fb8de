// GrantSigners on tokens opened in the benchmark's own process, for the
// benchmarks that measure signing without a signer helper's round trip
// (the agent itself signs only through helpers). The token is opened with
// the agent's state directory, as a helper opens it, so a PIN the token
// once refused is not presented again.
#pragma once

#include <map>
#include <memory>
#include <string>
#include <vector>

#include "agent/config/config.h"
#include "agent/engine/engine.h"
#include "agent/signer_helper/state_dir.h"
#include "common/log.h"
#include "pkcs11/pkcs11.h"

namespace mpa::bench {

inline Result<SecretBytes> read_pin(const Config& config) {
  if (config.pin_file) return pkcs11::read_pin_file(*config.pin_file);
  if (config.pin_env) return pkcs11::read_pin_env(*config.pin_env);
  return make_error(ErrorCode::invalid_config, "needs pin_file or pin_env");
}

// One token per distinct token selector, logged in once; the signers keep
// their token open.
inline Result<std::vector<std::shared_ptr<GrantSigner>>> in_process_signers(const Config& config) {
  auto pin = read_pin(config);
  if (!pin) return pin.error().with_context(config.path + ": [pkcs11]");
  std::map<std::string, std::shared_ptr<pkcs11::Pkcs11Token>> tokens;
  std::vector<std::shared_ptr<GrantSigner>> signers;
  for (const ClientConfig& client : config.clients) {
    const std::string where = config.path + ": client \"" + client.name + "\"";
    auto uri = pkcs11::Pkcs11Uri::parse(client.key);
    if (!uri) return uri.error().with_context(where + ": key");
    auto found = tokens.find(uri->token_selector());
    if (found == tokens.end()) {
      pkcs11::TokenOptions options;
      options.module_path = config.module;
      options.pin = *pin;
      options.warn = [](const std::string& message) { log::warning(message); };
      options.state_dir = signer_helper::state_directory(config.state_dir);
      auto token = pkcs11::Pkcs11Token::open(std::move(options), *uri);
      if (!token) return token.error().with_context(where);
      found = tokens.emplace(uri->token_selector(), std::move(*token)).first;
    }
    auto signer = found->second->signer(pkcs11::KeyOptions{client.key, client.chain_file});
    if (!signer) return signer.error().with_context(where);
    signers.push_back(std::move(*signer));
  }
  return signers;
}

}  // namespace mpa::bench
