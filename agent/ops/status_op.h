// The status op: the agent's version and uptime, the clients the peer may
// see (the agent's own uid and root see all) with their last errors, and
// the signing queues of those clients' tokens; the cache and worker
// counters, shared by every tenant, only for the agent's own uid and root.
// Another tenant's clients, tokens and traffic are not a peer's business.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>

#include "agent/cache/fair_scheduler.h"
#include "agent/ops/agent_state.h"
#include "agent/ops/op_support.h"
#include "agent/server/server.h"
#include "protocol/status.h"

namespace mpa {

// What `peer` sees of the agent now. May talk to the token (signer_info):
// not on the socket's I/O thread.
protocol::StatusResponse agent_status(const AgentState& state, const PeerCredentials& peer,
                                      std::int64_t uptime_seconds,
                                      const std::optional<FairScheduler::Stats>& workers);

// Answers agent_status on `scheduler`'s thread.
void handle_status(const std::shared_ptr<AgentState>& state, const PeerCredentials& peer,
                   const std::optional<std::string>& id, std::int64_t uptime_seconds,
                   std::optional<FairScheduler::Stats> workers, const WorkScheduler& scheduler,
                   Reply reply);

}  // namespace mpa
