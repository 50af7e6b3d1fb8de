#include "agent/access/metrics_access.h"

#include <unistd.h>

#include <string>

namespace mpa {

Status may_read_metrics(const PeerCredentials& peer) {
  if (peer.uid == ::geteuid() || peer.uid == 0) return {};
  return make_error(ErrorCode::forbidden,
                    "metrics are for the agent's own user and root (uid " +
                        std::to_string(peer.uid) + " is neither); a scraper can use [metrics] listen");
}

}  // namespace mpa
