// The [verify] table: how the agent verifies Maskinporten tokens for local
// API providers (the verify_token op).
#include <string>

#include "agent/config/sections.h"

namespace mpa::config_internal {

// ---------------------------------------------------------------- [verify]

Status read_verify(const ConfigTable& section, const Origin& origin, Config& config) {
  MPA_RETURN_IF_ERROR(section.only_keys(
      {"environment", "issuer", "audience", "jwks_file", "ca_file", "leeway_seconds"}));
  std::optional<std::string> environment, issuer;
  MPA_RETURN_IF_ERROR(section.read("environment", environment));
  MPA_RETURN_IF_ERROR(section.read("issuer", issuer));
  if (environment.has_value() == issuer.has_value()) {
    return section.error("", "needs exactly one of environment (\"test\" or \"prod\") and issuer");
  }
  if (environment == "test") {
    config.verify_issuer = "https://test.maskinporten.no/";
  } else if (environment == "prod") {
    config.verify_issuer = "https://maskinporten.no/";
  } else if (environment) {
    return section.error("environment", "is \"test\" or \"prod\"");
  } else {
    std::string url;
    MPA_RETURN_IF_ERROR(read_https_url(section, "issuer", url));
    config.verify_issuer = url;
  }
  MPA_RETURN_IF_ERROR(section.read("audience", config.verify_audience));
  if (config.verify_audience && config.verify_audience->empty()) {
    return section.error("audience",
                         "is empty; give the aud your API's tokens carry, or leave it out");
  }
  MPA_RETURN_IF_ERROR(read_existing_file(section, origin, "jwks_file", config.verify_jwks_file));
  MPA_RETURN_IF_ERROR(read_existing_file(section, origin, "ca_file", config.verify_ca_file));
  return section.read("leeway_seconds", config.verify_leeway_seconds, 0, 600);
}

}  // namespace mpa::config_internal
