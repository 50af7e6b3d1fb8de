// The count of every request by op and result (docs/OPERATIONS.md "Metrics"), taken
// from the answer line each request gets.
#pragma once

#include <optional>
#include <string_view>

#include "agent/server/server.h"
#include "common/result.h"

namespace mpa {

// `reply`, counting the answer it sends under `op` and its result.
Reply counted_reply(std::string_view op, Reply reply);

// The error code an answer line carries; nullopt for {"ok":true,...}.
std::optional<ErrorCode> answer_failure(std::string_view response_line);

}  // namespace mpa
