// What the /token answer parser and the discovery parser share
// (agent/maskinporten/ only).
#pragma once

#include <algorithm>
#include <cstddef>
#include <string>
#include <string_view>

#include "agent/http/http.h"
#include "common/text.h"

namespace mpa::maskinporten_detail {

// A URL in the metadata; longer is not a real endpoint.
inline constexpr std::size_t kMaxUrlBytes = 2048;

// RFC 6749 Appendix A.12: access-token = 1*VSCHAR; we also refuse the space,
// because the token goes into "Authorization: Bearer <token>" headers.
inline bool is_token_text(std::string_view text) {
  return std::all_of(text.begin(), text.end(), [](char c) { return c > 0x20 && c < 0x7F; });
}

inline bool is_https_url(std::string_view url) {
  return url.rfind("https://", 0) == 0 && url.size() > 8;
}

inline std::string describe_body(const HttpResponse& response) {
  std::string words = std::to_string(response.body.size()) + " bytes";
  if (response.content_type) words = printable(*response.content_type, 64) + ", " + words;
  return words;
}

inline bool is_retryable_status(long status) { return status == 429 || status >= 500; }

}  // namespace mpa::maskinporten_detail
