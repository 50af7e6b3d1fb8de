// `check-config --online`: for each client, over the network the way the
// agent goes (the engine's HTTP lane: the client's ca_file, proxy and
// time-outs), TLS to the token endpoint's host, the issuer's RFC 8414
// metadata, and one /token round trip for a scope no client is given.
#pragma once

#include <vector>

#include "agent/config/config.h"
#include "agent/engine/engine.h"

namespace mpa::cli {

// The one scope the round trip asks for, reserved for this check.
// Maskinporten checks the scope after the grant's certificate, signature,
// iss and aud, so its invalid_scope answer is the proof that those are
// right, and no token is made.
inline constexpr const char* kOnlineCheckScope = "maskinporten-agent:check-config-online";

// `config` with kOnlineCheckScope added to every client's scopes: for the
// engine of the check's own process, so that it may sign the check's grant.
Config with_online_check_scope(Config config);

// Runs the checks for each of `clients`, in order; a client's checks stop
// at its first failure (the next need the one before), and nothing is
// retried. Prints an `ok: ...` line on stdout for each check passed and the
// CLI's `error: CODE: ...` line on stderr for a failure. Never prints a
// grant or a token. True when every check passed.
bool check_online(const Engine& engine, const std::vector<const ClientConfig*>& clients);

}  // namespace mpa::cli
