// The token op: the peer's rights and the grant checked first, then the
// token from the cache (a hit, or an exchange the cache starts).
#pragma once

#include <memory>
#include <optional>
#include <string>

#include "agent/ops/agent_state.h"
#include "agent/server/server.h"
#include "common/clock.h"
#include "protocol/messages.h"

namespace mpa {

// Answers the token, or the refusal; `token.client` becomes the resolved
// client name. The answer may come later, from an exchange's thread.
void handle_token(const std::shared_ptr<AgentState>& state, const PeerCredentials& peer,
                  const std::optional<std::string>& id, protocol::TokenRequest& token,
                  const Clock& clock, Reply reply);

}  // namespace mpa
