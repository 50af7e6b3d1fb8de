#include "agent/ops/op_support.h"

#include "common/log.h"
#include "protocol/messages.h"

namespace mpa {

void answer_internal(const Reply& reply, const std::optional<std::string>& id, const char* what) {
  log::error(std::string("bug: could not build the answer: ") + what);
  reply(protocol::encode_error(id, make_error(ErrorCode::internal, "the agent failed to answer")));
}

}  // namespace mpa
