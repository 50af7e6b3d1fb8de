// What a caller asks to have in a Maskinporten grant beside the client's
// own fields (DESIGN.md lists the claims). A core type: the socket's token
// request carries one, the grant builder and the token cache take one, and
// none of them needs to know the wire format to do so.
#pragma once

#include <cstddef>
#include <optional>
#include <string>
#include <vector>

namespace mpa {

// Limits of each field, checked by the socket's decoder (so nothing larger
// is buffered) and again by the grant builder (the one-shot command has no
// socket in front of it).

// A client asks for a handful of scopes; more than this is a mistake, not a need.
inline constexpr std::size_t kMaxScopes = 32;
// One scope ("prefix:name/sub.path"); Digdir's scope names are far shorter.
inline constexpr std::size_t kMaxScopeBytes = 256;
// Each resource becomes an audience of the token (RFC 8707); a few are plenty.
inline constexpr std::size_t kMaxResources = 16;
// One resource URL or URN (common URL length limits are ~2 KiB).
inline constexpr std::size_t kMaxResourceBytes = 2048;
// An onbehalfof value is a short identifier registered on the client.
inline constexpr std::size_t kMaxOnBehalfOfBytes = 255;
// authorization_details as compact JSON goes into a JWT sent in a form body:
// Altinn's system user and consent objects are a few hundred bytes.
inline constexpr std::size_t kMaxAuthorizationDetailsBytes = 8 * 1024;
// Entries of authorization_details; Altinn's flows use one or two.
inline constexpr std::size_t kMaxAuthorizationDetailsEntries = 8;
// Array > object > object > value is as deep as Altinn's types go; leave room.
inline constexpr int kMaxAuthorizationDetailsDepth = 8;

struct GrantRequest {
  std::vector<std::string> scopes;                    // non-empty
  std::vector<std::string> resource;                  // RFC 8707 resource indicators
  std::optional<std::string> consumer_org;            // 9 digits
  std::optional<std::string> iss_onbehalfof;          // exclusive with consumer_org
  std::optional<std::string> pid;                     // 11 digits
  std::optional<std::string> authorization_details;   // compact JSON text of the array
};

}  // namespace mpa
