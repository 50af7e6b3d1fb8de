// An Altinn token for a request: the Maskinporten token for the same
// request (the cached one while it is long enough, else a fresh one)
// exchanged at Altinn, with no thread waiting on either leg.
#pragma once

#include <functional>
#include <optional>
#include <string>

#include "agent/altinn/altinn.h"
#include "agent/config/config.h"
#include "agent/maskinporten/maskinporten.h"

namespace mpa::altinn {

// Where the Maskinporten token comes from. None of these may block.
struct MaskinportenSource {
  // The cached token, if it is long enough to make an Altinn token from.
  std::function<std::optional<AccessToken>()> cached;
  // A new token (signed and exchanged; the source caches it in turn).
  std::function<void(AltinnDone done)> fresh;
  // Drops the cached token: Altinn refused it.
  std::function<void()> forget;
};

// Names the request in log lines: the client's name and the scopes.
struct AltinnRequest {
  std::string client;
  std::string scopes;
};

// Exchanges the cached Maskinporten token, or a fresh one. Altinn refusing
// a cached one (invalid_grant: revoked, or made before a change at Digdir)
// must not keep failing until it expires: it is forgotten and the exchange
// tried once more with a fresh one. `done` runs once, on whichever thread
// answered last.
void altinn_token(const ClientConfig& client, const AltinnRequest& request,
                  MaskinportenSource source, AltinnIo io, AltinnDone done);

}  // namespace mpa::altinn
