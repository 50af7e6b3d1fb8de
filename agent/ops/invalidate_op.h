// The invalidate op: drops the peer's cached token for a client and grant
// (the peer must have the rights a token request for it would need).
#pragma once

#include <optional>
#include <string>

#include "agent/ops/agent_state.h"
#include "agent/server/server.h"
#include "protocol/messages.h"

namespace mpa {

// Answers {"invalidated":true|false}, or the refusal, at once.
void handle_invalidate(const AgentState& state, const PeerCredentials& peer,
                       const std::optional<std::string>& id,
                       protocol::InvalidateRequest& invalidate, const Reply& reply);

}  // namespace mpa
