// The metrics op and what it shares with the HTTP listener: the agent's
// metrics as OpenMetrics text, and the count of every request by op and
// result (README "Metrics").
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

#include "agent/ops/agent_handler.h"
#include "agent/server/metrics_listener.h"
#include "agent/access/peer_policy.h"
#include "agent/server/server.h"
#include "common/clock.h"

namespace mpa {

// The agent's metrics now, read from `state` where they are not counted as
// they happen (cache entries, each client's certificate). May talk to the
// token (signer_info): not on the socket's I/O thread.
std::string render_metrics(const AgentState& state, std::int64_t now);

// Only the agent's own uid and root may read metrics on the socket: they
// name the configured clients and when each last got a token, which other
// peers, allowed only some clients, have no business seeing.
Status may_read_metrics(const PeerCredentials& peer);

// Answers {"metrics":"..."} on a worker, or `forbidden`.
void handle_metrics(const std::shared_ptr<AgentState>& state, const PeerCredentials& peer,
                    const std::optional<std::string>& id, const WorkScheduler& scheduler,
                    const Clock& clock, Reply reply);

// The HTTP listener [metrics] listen asks for, serving what `handler`'s
// state says; null when the configuration has none.
Result<std::unique_ptr<MetricsListener>> start_metrics_listener(
    const Config& config, std::shared_ptr<const AgentHandler> handler);

// `reply`, counting the answer it sends under `op` and its result.
Reply counted_reply(std::string_view op, Reply reply);

// The error code an answer line carries; nullopt for {"ok":true,...}.
std::optional<ErrorCode> answer_failure(std::string_view response_line);

}  // namespace mpa
