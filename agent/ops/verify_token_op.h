// The verify_token op: a Maskinporten token checked against the [verify]
// issuer with the keys the agent keeps cached.
#pragma once

#include <memory>
#include <optional>
#include <string>

#include "agent/config/config.h"
#include "agent/ops/agent_state.h"
#include "agent/ops/op_support.h"
#include "agent/server/server.h"
#include "agent/verify/key_source.h"
#include "common/clock.h"
#include "protocol/messages.h"

namespace mpa {

// The keys [verify] names: its jwks_file, or the issuer's jwks_uri behind
// a cache; null without [verify]. Errors: invalid_config (a bad jwks_file).
Result<std::shared_ptr<verify::KeySource>> make_verify_keys(const Config& config);

// Answers {"claims": {...}} or the refusal, on a worker: a fetch of the
// keys may wait on the network.
void handle_verify_token(const std::shared_ptr<AgentState>& state,
                         const std::optional<std::string>& id,
                         protocol::VerifyTokenRequest request, const WorkScheduler& scheduler,
                         const Clock& clock, Reply reply);

}  // namespace mpa
