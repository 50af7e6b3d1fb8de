// The [[client]] tables: one Maskinporten client each.
#include <algorithm>
#include <cctype>
#include <set>
#include <string>

#include "agent/config/sections.h"
#include "pkcs11/pkcs11.h"

namespace mpa::config_internal {

namespace fs = std::filesystem;

namespace {

// Client names are used in requests and messages; keep them plain.
constexpr std::size_t kMaxClientNameBytes = 64;

// Digdir's endpoints per environment (DESIGN.md "Maskinporten facts").
struct EnvironmentEndpoints {
  const char* issuer;
  const char* token_endpoint;
  const char* altinn_exchange_endpoint;
};
constexpr EnvironmentEndpoints kTestEndpoints{
    "https://test.maskinporten.no/", "https://test.maskinporten.no/token",
    "https://platform.tt02.altinn.no/authentication/api/v1/exchange/maskinporten"};
constexpr EnvironmentEndpoints kProdEndpoints{
    "https://maskinporten.no/", "https://maskinporten.no/token",
    "https://platform.altinn.no/authentication/api/v1/exchange/maskinporten"};

}  // namespace

// ---------------------------------------------------------------- [[client]]

bool is_name_char(char c) {
  return std::isalnum(static_cast<unsigned char>(c)) != 0 || c == '-' || c == '_' || c == '.';
}

// RFC 6749 §3.3: scope-token = 1*( %x21 / %x23-5B / %x5D-7E ).
bool is_scope_char(char c) {
  const auto u = static_cast<unsigned char>(c);
  return u == 0x21 || (u >= 0x23 && u <= 0x5b) || (u >= 0x5d && u <= 0x7e);
}

Status read_client_name(const ConfigTable& section, bool only_client, std::string& out) {
  MPA_RETURN_IF_ERROR(section.read("name", out));
  if (!section.has("name")) {
    if (!only_client) return section.error("name", "is required when there are several clients");
    out = "default";
    return {};
  }
  if (out.size() > kMaxClientNameBytes || !std::all_of(out.begin(), out.end(), is_name_char)) {
    return section.error(
        "name", quoted(out, kMaxQuotedValueBytes) + " is not a client name; use up to " +
                    std::to_string(kMaxClientNameBytes) + " letters, digits, '-', '_' or '.'");
  }
  return {};
}

Status read_environment(const ConfigTable& section, ClientConfig& client) {
  constexpr const char* kHint = "\"test\", \"prod\" or \"custom\"";
  MPA_RETURN_IF_ERROR(section.require("environment", std::string(kHint)));
  std::string text;
  MPA_RETURN_IF_ERROR(section.read("environment", text));
  if (text == "test") {
    client.environment = Environment::test;
  } else if (text == "prod") {
    client.environment = Environment::prod;
  } else if (text == "custom") {
    client.environment = Environment::custom;
  } else {
    return section.error("environment",
                         quoted(text, kMaxQuotedValueBytes) + " is not known; use " + kHint);
  }
  return {};
}

// issuer is the grant's aud, so it must be exactly the issuer Maskinporten
// publishes, trailing slash included (Digdir's JWT grant table).
Status read_custom_endpoints(const ConfigTable& section, ClientConfig& client) {
  MPA_RETURN_IF_ERROR(section.require(
      "issuer", "environment = \"custom\" needs the issuer, e.g. \"https://localhost:8443/\""));
  MPA_RETURN_IF_ERROR(read_https_url(section, "issuer", client.issuer));
  if (client.issuer.back() != '/') {
    return section.error("issuer", quoted(client.issuer, kMaxQuotedValueBytes) +
                                       " does not end with '/'; add the "
                                       "trailing slash; the grant's aud is the issuer exactly");
  }
  if (client.discovery) {
    if (section.has("token_endpoint")) {
      return section.error("token_endpoint", "and discovery = true are exclusive; keep one");
    }
    return {};
  }
  MPA_RETURN_IF_ERROR(section.require(
      "token_endpoint", "environment = \"custom\" needs the token endpoint (or discovery = true)"));
  return read_https_url(section, "token_endpoint", client.token_endpoint);
}

Status read_endpoints(const ConfigTable& section, ClientConfig& client) {
  MPA_RETURN_IF_ERROR(section.read("discovery", client.discovery));
  if (client.environment == Environment::custom) {
    MPA_RETURN_IF_ERROR(read_custom_endpoints(section, client));
  } else {
    const char* environment = client.environment == Environment::test ? "test" : "prod";
    for (std::string_view key : {"issuer", "token_endpoint"}) {
      if (section.has(key)) {
        return section.error(key, std::string("is set by environment = \"") + environment +
                                      "\"; remove it, or use environment = \"custom\"");
      }
    }
    const EnvironmentEndpoints& endpoints =
        client.environment == Environment::test ? kTestEndpoints : kProdEndpoints;
    client.issuer = endpoints.issuer;
    client.token_endpoint = endpoints.token_endpoint;
    client.altinn_exchange_endpoint = endpoints.altinn_exchange_endpoint;
  }
  return read_https_url(section, "altinn_exchange_endpoint", client.altinn_exchange_endpoint);
}

Status read_key(const ConfigTable& section, const Origin& origin, ClientConfig& client) {
  MPA_RETURN_IF_ERROR(
      section.require("key",
                      "an RFC 7512 URI of the private key, e.g. "
                      "\"pkcs11:token=Virksomhet%20Test;object=vsert-auth;type=private\""));
  MPA_RETURN_IF_ERROR(section.read("key", client.key));
  auto uri = pkcs11::Pkcs11Uri::parse(client.key);
  if (!uri) return section.error("key", uri.error().message);

  MPA_RETURN_IF_ERROR(section.read("kid", client.kid));
  std::string x5c;
  MPA_RETURN_IF_ERROR(section.read("x5c", x5c));
  if (client.kid && section.has("x5c")) {
    return section.error("x5c",
                         "and kid are exclusive: the grant's header carries one of "
                         "them; remove x5c to use kid, or kid to use x5c");
  }
  if (section.has("x5c") && x5c != "leaf" && x5c != "chain") {
    return section.error("x5c", quoted(x5c, kMaxQuotedValueBytes) +
                                    " is not known; use \"leaf\" (the certificate "
                                    "alone) or \"chain\" (with its intermediates)");
  }
  client.x5c_chain = x5c == "chain";
  return read_existing_file(section, origin, "chain_file", client.chain_file);
}

Status read_alg(const ConfigTable& section, JwsAlg& out) {
  std::string text;
  MPA_RETURN_IF_ERROR(section.read("alg", text));
  if (!section.has("alg")) return {};
  for (JwsAlg alg : {JwsAlg::RS256, JwsAlg::RS384, JwsAlg::RS512}) {
    if (text == to_string(alg)) {
      out = alg;
      return {};
    }
  }
  // Maskinporten accepts only these (Digdir's JWT grant table).
  return section.error(
      "alg", quoted(text, kMaxQuotedValueBytes) + " is not allowed; use RS256, RS384 or RS512");
}

Status read_proxy(const ConfigTable& section, std::optional<std::string>& out) {
  MPA_RETURN_IF_ERROR(section.read("proxy", out));
  if (!out) return {};
  // The value may carry a password: it is never quoted back.
  for (std::string_view scheme : {"http://", "https://"}) {
    if (starts_with_ignoring_case(*out, scheme) && out->size() > scheme.size()) return {};
  }
  // The exchange refuses any other proxy (agent/http/transfer.cpp), so
  // such a client could never get a token: said at load instead.
  if (starts_with_ignoring_case(*out, "socks")) {
    return section.error("proxy",
                         "is a SOCKS proxy, which the agent does not use; give an http:// or "
                         "https:// proxy (TLS to the endpoint stays end to end)");
  }
  return section.error("proxy",
                       "is not a proxy URL; expected http:// or https:// and a host (TLS to "
                       "the endpoint stays end to end)");
}

Status read_scopes(const ConfigTable& section, std::vector<std::string>& out) {
  MPA_RETURN_IF_ERROR(section.require("scopes",
                                      "the scopes this client may ask for, e.g. "
                                      "scopes = [\"altinn:instances.read\"]"));
  MPA_RETURN_IF_ERROR(section.read("scopes", out));
  if (out.empty())
    return section.error("scopes", "is empty; list the scopes this client may ask for");
  std::set<std::string> seen;
  for (const std::string& scope : out) {
    if (!std::all_of(scope.begin(), scope.end(), is_scope_char)) {
      return section.error("scopes", quoted(scope, kMaxQuotedValueBytes) +
                                         " is not a scope: a scope has no spaces, "
                                         "quotes or backslashes (RFC 6749 section 3.3)");
    }
    if (!seen.insert(scope).second) {
      return section.error("scopes", quoted(scope, kMaxQuotedValueBytes) + " is listed twice");
    }
  }
  return {};
}

Status read_timeouts(const ConfigTable& section, ClientConfig& client) {
  MPA_RETURN_IF_ERROR(
      section.read("connect_timeout_seconds", client.connect_timeout_seconds, 1, 300));
  MPA_RETURN_IF_ERROR(section.read("timeout_seconds", client.timeout_seconds, 1, 300));
  return section.read("retry_deadline_seconds", client.retry_deadline_seconds, 1, 300);
}

// Tokens fetched at start and kept fresh: each list a token's scopes, all
// among the client's.
Status read_prefetch(const ConfigTable& section, ClientConfig& client) {
  MPA_RETURN_IF_ERROR(section.read("prefetch", client.prefetch));
  if (client.prefetch.size() > kMaxPrefetchTokens) {
    return section.error("prefetch", "lists " + std::to_string(client.prefetch.size()) +
                                         " tokens; at most " +
                                         std::to_string(kMaxPrefetchTokens) + " are kept fresh");
  }
  for (std::size_t i = 0; i < client.prefetch.size(); ++i) {
    const std::string name = "prefetch[" + std::to_string(i) + "]";
    if (client.prefetch[i].empty()) {
      return section.error("prefetch", name + " is empty; list the token's scopes");
    }
    for (const std::string& scope : client.prefetch[i]) {
      if (std::find(client.scopes.begin(), client.scopes.end(), scope) == client.scopes.end()) {
        return section.error("prefetch", name + ": " + quoted(scope, kMaxQuotedValueBytes) +
                                             " is not in this client's scopes");
      }
    }
  }
  return {};
}

Result<ClientConfig> read_client(ConfigTable& section, const Origin& origin, bool only_client) {
  ClientConfig client;
  // The name first, so that even an unknown key is reported under it.
  const Status named = read_client_name(section, only_client, client.name);
  if (named) section.set_label("[[client]] \"" + client.name + "\"");
  MPA_RETURN_IF_ERROR(section.only_keys(
      {"name", "client_id", "environment", "issuer", "token_endpoint", "discovery", "key", "kid",
       "x5c", "chain_file", "alg", "grant_lifetime_seconds", "ca_file", "proxy",
       "altinn_exchange_endpoint", "scopes", "connect_timeout_seconds", "timeout_seconds",
       "retry_deadline_seconds", "prefetch"}));
  MPA_RETURN_IF_ERROR(named);

  MPA_RETURN_IF_ERROR(
      section.require("client_id", "your Maskinporten client id (the grant's iss)"));
  MPA_RETURN_IF_ERROR(section.read("client_id", client.client_id));
  MPA_RETURN_IF_ERROR(read_environment(section, client));
  MPA_RETURN_IF_ERROR(read_endpoints(section, client));
  MPA_RETURN_IF_ERROR(read_key(section, origin, client));
  MPA_RETURN_IF_ERROR(read_alg(section, client.alg));
  // Digdir: exp - iat is at most 120 seconds.
  MPA_RETURN_IF_ERROR(
      section.read("grant_lifetime_seconds", client.grant_lifetime_seconds, 1, 120));
  MPA_RETURN_IF_ERROR(read_existing_file(section, origin, "ca_file", client.ca_file));
  MPA_RETURN_IF_ERROR(read_proxy(section, client.proxy));
  MPA_RETURN_IF_ERROR(read_scopes(section, client.scopes));
  MPA_RETURN_IF_ERROR(read_timeouts(section, client));
  MPA_RETURN_IF_ERROR(read_prefetch(section, client));
  return client;
}

}  // namespace mpa::config_internal
