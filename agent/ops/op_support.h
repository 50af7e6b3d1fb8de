// What every op handler uses: where slow work runs, and the answer when
// our own code fails to build one.
#pragma once

#include <functional>
#include <optional>
#include <string>

#include "agent/server/server.h"

namespace mpa {

// Runs a job on the worker pool, never on the socket I/O thread.
using WorkScheduler = std::function<void(std::function<void()> job)>;

// A reply built by our own code failed: our bug, logged, answered `internal`.
void answer_internal(const Reply& reply, const std::optional<std::string>& id, const char* what);

}  // namespace mpa
