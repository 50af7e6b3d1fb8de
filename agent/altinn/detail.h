// Pieces the Altinn verifier and exchange share (agent/altinn/ only).
#pragma once

#include <rapidjson/document.h>

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "common/result.h"

namespace mpa::altinn::detail {

// Deeper JSON than this is not a JWT header or Altinn's claims.
inline constexpr int kMaxJsonDepth = 16;

// A JSON object, strictly: valid UTF-8, nothing after it, no duplicate
// member names at any level (two parsers reading one token differently is
// how JWT checks get bypassed), nested at most kMaxJsonDepth deep.
// Errors: invalid_token "<what> is not ...".
Result<rapidjson::Document> parse_strict_object(std::string_view json, std::string_view what);

// "2026-11-24T10:00:00Z", or "epoch second N" when out of calendar range.
std::string utc_time(std::int64_t epoch_seconds);

// At most `max` bytes of `text`, anything outside printable ASCII as '?',
// with "..." when cut: safe to put into a message or a log line.
std::string printable_excerpt(std::string_view text, std::size_t max);

inline Error refuse(std::string message) {
  return make_error(ErrorCode::invalid_token, std::move(message));
}

}  // namespace mpa::altinn::detail
