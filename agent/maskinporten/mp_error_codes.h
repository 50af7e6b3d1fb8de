// Maskinporten's own error ids ("MP-122") in error_description, each given
// one sentence saying what to do (Digdir's "Feilsøking i Maskinporten").
#pragma once

#include <string>
#include <string_view>

namespace mpa {

// `words` with one actionable sentence after it when it carries a code
// Digdir lists; unchanged otherwise (no code, or one we do not know).
std::string with_mp_advice(std::string_view words);

}  // namespace mpa
