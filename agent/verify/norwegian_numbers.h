// Norwegian national identity numbers (fødselsnummer, D-numbers, and the
// synthetic persons of Tenor) and organisation numbers, with their mod-11
// check digits (Skatteetaten; Brønnøysundregistrene).
#pragma once

#include <string_view>

namespace mpa::verify {

// 11 digits, a plausible date part and both check digits right.
bool national_identity_number_ok(std::string_view number);
// 9 digits and the check digit right.
bool organisation_number_ok(std::string_view number);

}  // namespace mpa::verify
