// The agent's configuration (DESIGN.md "Configuration (TOML)").
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "common/log.h"
#include "common/result.h"
#include "common/grant_signer.h"

namespace mpa {

enum class Environment { test, prod, custom };

// The most tokens one client keeps fresh with `prefetch`.
inline constexpr std::size_t kMaxPrefetchTokens = 256;

struct ClientConfig {
  std::string name;
  std::string client_id;                   // the grant's iss
  Environment environment = Environment::test;
  std::string issuer;                      // the grant's aud, with trailing '/'
  std::string token_endpoint;
  bool discovery = false;                  // read token_endpoint from <issuer>.well-known/...
  std::string key;                         // RFC 7512 URI of the private key
  std::optional<std::string> kid;          // header carries kid instead of x5c
  bool x5c_chain = false;                  // x5c = "chain": leaf + intermediates
  std::optional<std::string> chain_file;
  JwsAlg alg = JwsAlg::RS256;
  int grant_lifetime_seconds = 120;        // exp - iat, at most 120
  std::optional<std::string> ca_file;
  std::optional<std::string> proxy;
  std::string altinn_exchange_endpoint;    // default per environment
  std::vector<std::string> scopes;         // the scopes this client may ask for
  std::vector<std::vector<std::string>> prefetch;  // tokens fetched at start and kept fresh
  int connect_timeout_seconds = 5;
  int timeout_seconds = 15;                // one HTTP attempt
  int retry_deadline_seconds = 30;         // all attempts of one exchange
};

// In an [[allow]] delegation list: every value.
inline constexpr std::string_view kAnyValue = "*";

// [metrics] listen: an IP address (no host name) and a port.
struct MetricsListen {
  std::string address;  // "127.0.0.1", "::1"
  std::uint16_t port = 0;
  bool operator==(const MetricsListen&) const = default;
};

struct AllowRule {
  std::optional<std::uint32_t> uid;
  std::optional<std::uint32_t> gid;
  std::vector<std::string> clients;        // empty: none
  std::vector<std::string> scopes;         // empty: any the client allows
  // The delegation fields a peer of this rule may put in a grant: empty
  // lists none, {"*"} any value (kAnyValue). The agent's own uid needs no rule.
  std::vector<std::string> consumer_orgs;     // consumer_org: organisation numbers
  std::vector<std::string> onbehalfof;        // iss_onbehalfof values
  std::vector<std::string> systemuser_orgs;   // authorization_details urn:altinn:systemuser:
                                              // the organisation number after "0192:"
  bool pid = false;                           // pid: any national identity number
  std::string who;                         // for logs: "uid 1001", "user alice (uid 1001)", ...
};

struct Config {
  std::string path;                        // the file it came from
  // [agent]
  std::string socket;
  std::uint32_t socket_mode = 0600;
  int refresh_margin_seconds = 30;
  int max_connections = 256;
  int max_connections_per_uid = 64;  // one uid's share of max_connections
  int max_concurrent_exchanges = 64;       // Maskinporten/Altinn exchanges in flight at once
  std::optional<std::string> state_dir;    // refused-PIN records; default per signer/state_dir.h
  log::Format log_format = log::Format::text;  // `run --log-format` overrides it
  // [pkcs11]
  std::string module;
  std::optional<std::string> pin_file;
  std::optional<std::string> pin_env;
  int sign_timeout_seconds = 10;           // a signer helper that takes longer is restarted
  int max_concurrent_signatures = 4;       // what the token can do at once; a smartcard is 1
  // [[client]]
  std::vector<ClientConfig> clients;
  // [altinn]
  std::vector<std::string> altinn_certificates;
  int altinn_leeway_seconds = 60;
  // [verify] (verify_token); no issuer: the table is absent
  std::optional<std::string> verify_issuer;
  std::optional<std::string> verify_jwks_file;  // else the issuer's jwks_uri
  std::optional<std::string> verify_ca_file;
  int verify_leeway_seconds = 60;
  std::optional<std::string> verify_audience;  // aud the token must name; else not checked
  // [[allow]]
  std::vector<AllowRule> allow;
  // [metrics]: the HTTP /metrics listener; none unless configured
  std::optional<MetricsListen> metrics_listen;

  // The client called `name`, or the only one when `name` is empty.
  const ClientConfig* find_client(const std::string& name) const;
};

// Reads and validates the file. Errors (invalid_config) name the file, the
// line, the key and what is wrong. Relative paths inside are resolved against
// the file's directory. user/group names in [[allow]] are resolved here;
// ca_file, chain_file and [altinn] certificates must be readable now.
// Refuses a file larger than 1 MiB or writable by other users.
Result<Config> load_config(const std::string& path);
// The same from text in memory; `path_for_messages` names it in errors and
// its directory anchors relative paths.
Result<Config> parse_config(std::string_view toml_text, const std::string& path_for_messages);

}  // namespace mpa
