// The verify_altinn op: an Altinn consent token checked against the
// [altinn] certificates.
#pragma once

#include <memory>
#include <optional>
#include <string>

#include "agent/ops/agent_state.h"
#include "agent/ops/op_support.h"
#include "agent/server/server.h"
#include "common/clock.h"

namespace mpa {

// Answers {"claims": {...}} or the refusal, on `scheduler`'s thread;
// invalid_request at once without [altinn].
void handle_verify_altinn(const std::shared_ptr<AgentState>& state,
                          const std::optional<std::string>& id, std::string token,
                          const WorkScheduler& scheduler, const Clock& clock, Reply reply);

}  // namespace mpa
