// Who may read the agent's metrics on the socket.
#pragma once

#include "agent/server/peer_credentials.h"
#include "common/result.h"

namespace mpa {

// Only the agent's own uid and root may read metrics on the socket: they
// name the configured clients and when each last got a token, which other
// peers, allowed only some clients, have no business seeing.
Status may_read_metrics(const PeerCredentials& peer);

}  // namespace mpa
