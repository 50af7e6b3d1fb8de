// What the token cache keys a token on, and the key itself.
#pragma once

#include <optional>
#include <string>

#include "common/grant_request.h"

namespace mpa {

// What one cache entry holds a token for: the resolved client (never
// empty), the grant asked for, and the exchange the Maskinporten token then
// goes through (none, or "altinn"). How long the token must stay valid is
// not part of it: that is an argument of get() and peek().
struct TokenTarget {
  std::string client;
  GrantRequest grant;
  std::optional<std::string> exchange;
};

// The canonical cache key of a target: every field, each length-prefixed
// so that no two different targets share a key. Scopes are a set: sorted,
// duplicates dropped (the fetcher gets them so too). Resource keeps its order.
std::string cache_key(const TokenTarget& target);

// The target as the fetcher gets it: scopes as the key sees them (sorted,
// each once), so that equal keys make equal grants.
TokenTarget normalised(const TokenTarget& target);

}  // namespace mpa
