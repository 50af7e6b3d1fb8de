// Altinn 3's authorization_details (RFC 9396) in Maskinporten tokens, put in
// one shape for whoever reads the verifier's output (agent/verify only).
#pragma once

#include <rapidjson/document.h>

#include <cstdint>
#include <string>
#include <string_view>

#include "common/result.h"

namespace mpa::verify {

// {"authority":"iso6523-actorid-upis","ID":"0192:910514458"} (Altinn's
// examples also spell it "id") -> "910514458". `what` names the claim.
Result<std::string> organisation_of(const rapidjson::Value& party, std::string_view what);

// Replaces each urn:altinn:consent and urn:altinn:systemuser entry of
// claims["authorization_details"] by its normalised form; entries of other
// types are kept as they are. A consent whose validTo has passed is refused,
// as is one whose `from` has wrong check digits. Errors: invalid_token.
Status normalise_authorization_details(rapidjson::Document& claims, std::int64_t now);

}  // namespace mpa::verify
