#include "agent/ops/counted_reply.h"

#include <string>
#include <utility>

#include "agent/metrics/agent_metrics.h"
#include "protocol/messages.h"

namespace mpa {

std::optional<ErrorCode> answer_failure(std::string_view response_line) {
  if (response_line.rfind(R"({"ok":true)", 0) == 0) return std::nullopt;
  constexpr std::string_view kErrorKey = R"("error":")";
  const auto at = response_line.find(kErrorKey);
  if (at == std::string_view::npos) return ErrorCode::internal;
  const auto start = at + kErrorKey.size();
  const auto end = response_line.find('"', start);
  if (end == std::string_view::npos) return ErrorCode::internal;
  return protocol::error_code_from_string(response_line.substr(start, end - start))
      .value_or(ErrorCode::internal);
}

Reply counted_reply(std::string_view op, Reply reply) {
  return [op, reply = std::move(reply)](std::string line) {
    metrics::agent_metrics().count_request(op, answer_failure(line));
    reply(std::move(line));
  };
}

}  // namespace mpa
