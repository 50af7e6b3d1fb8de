// Small JOSE pieces: base64url (RFC 4648 §5, no padding), standard base64,
// random UUIDs from OpenSSL's CSPRNG.
#pragma once

#include <optional>
#include <string>
#include <string_view>

#include "common/grant_signer.h"

namespace mpa::jose {

std::string base64url_encode(std::string_view data);
std::string base64url_encode(const Bytes& data);
// Strict: no padding, no characters outside the url-safe alphabet, and
// unused trailing bits zero (one text per value, RFC 4648 §3.5).
std::optional<std::string> base64url_decode(std::string_view text);
std::string base64_encode(const Bytes& data);   // standard, padded (x5c)

// A version-4 UUID (RFC 9562) from RAND_bytes. Errors: internal.
Result<std::string> random_uuid();

}  // namespace mpa::jose
