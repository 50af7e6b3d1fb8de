// Named limits of socket protocol v1 (DESIGN.md), checked before anything
// is buffered or parsed further.
#pragma once

#include <cstddef>
#include <cstdint>

namespace mpa::protocol {

// A request line longer than this gets an error and the connection closes.
inline constexpr std::size_t kMaxRequestLineBytes = 65536;
// A client that sends nothing for this long is disconnected.
inline constexpr int kIdleTimeoutSeconds = 30;
// A response line the client library accepts: a status answer for many
// clients, or an Altinn token, fits with room to spare.
inline constexpr std::size_t kMaxResponseLineBytes = 1024 * 1024;

// Deepest nesting of arrays and objects in a request; the deepest request
// DESIGN.md shows (authorization_details with systemuser_org) needs 4.
inline constexpr int kMaxNestingDepth = 16;
// The "id" a client may attach: a short correlation string or an integer.
inline constexpr std::size_t kMaxIdBytes = 256;
// Scopes per request: Maskinporten clients rarely hold more than a few.
inline constexpr std::size_t kMaxScopes = 64;
// One scope ("prefix:name/sub.path"); Digdir's scope names are far shorter.
inline constexpr std::size_t kMaxScopeBytes = 256;
// Audience restrictions (RFC 8707 resource indicators) per request.
inline constexpr std::size_t kMaxResources = 16;
// One resource URL.
inline constexpr std::size_t kMaxResourceBytes = 2048;
// client, consumer_org, iss_onbehalfof, pid: names and numbers, all short.
inline constexpr std::size_t kMaxNameBytes = 256;
// authorization_details as compact JSON: Altinn's system user and consent
// objects are a few hundred bytes.
inline constexpr std::size_t kMaxAuthorizationDetailsBytes = 8192;
// min_ttl: no Maskinporten token lives longer than a day.
inline constexpr std::int64_t kMaxMinTtlSeconds = 86400;
// A token handed to verify_altinn: Altinn consent tokens are a few KiB.
inline constexpr std::size_t kMaxVerifyTokenBytes = 16384;

}  // namespace mpa::protocol
