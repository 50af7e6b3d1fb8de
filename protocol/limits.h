// Named limits of socket protocol v1 (DESIGN.md), checked before anything
// is buffered or parsed further.
#pragma once

#include <cstddef>
#include <cstdint>

#include "common/grant_request.h"

namespace mpa::protocol {

// A request line longer than this gets an error and the connection closes.
inline constexpr std::size_t kMaxRequestLineBytes = 65536;
// A client that sends nothing for this long is disconnected.
inline constexpr int kIdleTimeoutSeconds = 30;
// A response line the client library accepts: a status answer for many
// clients, or an Altinn token, fits with room to spare.
inline constexpr std::size_t kMaxResponseLineBytes = 1024 * 1024;

// Deepest nesting of arrays and objects in a request: only
// authorization_details nests, one level inside the request object.
inline constexpr int kMaxRequestNestingDepth = 1 + kMaxAuthorizationDetailsDepth;
// Deepest nesting in an answer the client library accepts: verify_altinn
// echoes Altinn's claims, which nest deeper than any request.
inline constexpr int kMaxResponseNestingDepth = 16;
// The "id" a client may attach: a short correlation string or an integer.
inline constexpr std::size_t kMaxIdBytes = 256;
// Scopes, resources and authorization_details: the grant's own limits
// (common/grant_request.h), so the socket refuses what the grant would.
using mpa::kMaxAuthorizationDetailsBytes;
using mpa::kMaxOnBehalfOfBytes;
using mpa::kMaxResourceBytes;
using mpa::kMaxResources;
using mpa::kMaxScopeBytes;
using mpa::kMaxScopes;
// client, consumer_org, pid: names and numbers, all short.
inline constexpr std::size_t kMaxNameBytes = 256;
// min_ttl: no Maskinporten token lives longer than a day.
inline constexpr std::int64_t kMaxMinTtlSeconds = 86400;
// A token handed to verify_altinn: Altinn consent tokens are a few KiB.
inline constexpr std::size_t kMaxVerifyTokenBytes = 16384;
// A token handed to verify_token: Maskinporten's, with consent details.
inline constexpr std::size_t kMaxVerifyMaskinportenTokenBytes = 32768;

}  // namespace mpa::protocol
