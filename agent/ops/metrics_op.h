// The metrics op and what it shares with the HTTP listener: the agent's
// metrics as OpenMetrics text (docs/OPERATIONS.md "Metrics").
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>

#include "agent/ops/agent_state.h"
#include "agent/ops/op_support.h"
#include "agent/server/server.h"
#include "common/clock.h"

namespace mpa {

// The agent's metrics now, read from `state` where they are not counted as
// they happen (cache entries, each client's certificate). May talk to the
// token (signer_info): not on the socket's I/O thread.
std::string render_metrics(const AgentState& state, std::int64_t now);

// Answers {"metrics":"..."} on a worker, or `forbidden` (may_read_metrics,
// agent/access/metrics_access.h).
void handle_metrics(const std::shared_ptr<AgentState>& state, const PeerCredentials& peer,
                    const std::optional<std::string>& id, const WorkScheduler& scheduler,
                    const Clock& clock, Reply reply);

}  // namespace mpa
