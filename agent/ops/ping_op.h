// The ping op: {"ok":true}, at once, on the I/O thread.
#pragma once

#include <optional>
#include <string>

#include "agent/server/server.h"

namespace mpa {

void handle_ping(const std::optional<std::string>& id, const Reply& reply);

}  // namespace mpa
