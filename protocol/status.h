// The `status` answer of socket protocol v1 (DESIGN.md), typed: the agent
// fills it, protocol/ puts it on the wire and reads it back, the CLI shows
// it. Reading is lenient about what is missing (an older or newer agent):
// every part the agent always sends is still optional here, so that the
// CLI can say "unknown" instead of refusing the whole answer.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "common/result.h"

namespace mpa::protocol {

struct ClientStatus {
  std::optional<std::string> name;
  std::string client_id;                              // empty: not shown
  std::optional<bool> token_present;
  std::optional<bool> logged_in;
  std::string token_label;                            // empty: not shown
  std::optional<std::string> certificate_subject;
  std::optional<std::int64_t> certificate_not_after;  // epoch seconds
  std::string last_error;                             // empty: none (null on the wire)
  // When the last error was an exchange's failure: when it failed (epoch
  // seconds), and whether an exchange for the client succeeded since (then
  // it is history, not the client's state now). Unset: not known (the
  // signer's own words, or an older agent).
  std::optional<std::int64_t> last_error_at;
  std::optional<bool> last_error_past;
};

struct CacheStatus {
  std::optional<std::int64_t> entries, in_flight, hits, misses, exchanges, held;
};

struct WorkerStatus {
  std::optional<std::int64_t> size, exchanging, waiting;
};

// One token's signature queue (agent/engine/signature_queue.h): the grants
// waiting for its signatures. The wire calls it "signing".
struct SigningStatus {
  std::string token;                      // the token's label
  std::optional<std::int64_t> threads, signing, queued, oldest_wait_ms;
};

struct StatusResponse {
  std::optional<std::string> version;
  std::optional<std::int64_t> uptime_seconds;
  std::optional<std::vector<ClientStatus>> clients;
  std::optional<CacheStatus> cache;
  std::optional<WorkerStatus> workers;  // exchanges in flight; absent when not reported
  std::optional<std::vector<SigningStatus>> signing;
};

// One line ending in '\n': "ok":true, "id" if there is one, then the parts
// that are set, in the order above.
std::string encode_status_response(const std::optional<std::string>& id_json,
                                   const StatusResponse& status);
// An {"ok":false,...} line becomes its Error, as decode_response_status does.
Result<StatusResponse> decode_status_response(std::string_view line);

}  // namespace mpa::protocol
