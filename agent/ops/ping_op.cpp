#include "agent/ops/ping_op.h"

#include "protocol/messages.h"

namespace mpa {

void handle_ping(const std::optional<std::string>& id, const Reply& reply) {
  reply(protocol::encode_ok(id));
}

}  // namespace mpa
