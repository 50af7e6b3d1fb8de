// Maskinporten's error ids and what to do about each. The ids and their
// headings: Digdir's "Feilsøking i Maskinporten" (docs.digdir.no,
// maskinporten_feilsoking); the sentences are ours, about this agent's
// configuration where it can be the cause.
#include "agent/maskinporten/mp_error_codes.h"

#include <optional>

#include "common/text.h"

namespace mpa {
namespace {

struct Advice {
  std::string_view code;
  std::string_view sentence;
};

constexpr Advice kAdvice[] = {
    {"MP-011", "The token request was not understood: check token_endpoint in the "
               "configuration and that nothing between the agent and Maskinporten rewrites the "
               "form body."},
    {"MP-012", "The token request lacked or repeated a parameter: check that no proxy alters "
               "the form body, and report it if `maskinporten-agent grant` looks right."},
    {"MP-100", "Maskinporten could not authenticate the client from the grant: compare "
               "client_id, the certificate and the environment with the client at Digdir's "
               "self-service portal."},
    {"MP-110", "The grant's aud is not this Maskinporten's issuer: set audience (or the "
               "environment) to the issuer of the Maskinporten you send the grant to."},
    {"MP-120", "The grant is signed with a certificate Maskinporten does not accept: use a "
               "valid virksomhetssertifikat (a test one in test, a production one in prod)."},
    {"MP-121", "The key or certificate that signed the grant has expired: renew it and "
               "register the new one with the client."},
    {"MP-122", "The certificate's organisation number is not the client's: use the "
               "virksomhetssertifikat of the organisation that owns client_id."},
    {"MP-123", "The certificate or key is not the one registered for this client: register "
               "it with the client at Digdir, or configure the key that is registered."},
    {"MP-124", "The grant names a key (kid) the client does not have: check key_id against the "
               "keys registered with the client."},
    {"MP-130", "The grant's claims are not what Maskinporten accepts: run `maskinporten-agent "
               "grant` and compare iat, exp (at most 120 s apart), jti and scope with Digdir's "
               "grant table; check this machine's clock."},
    {"MP-200", "The client may not have the scope it asked for: add the scope to the client at "
               "Digdir, or ask the API provider for access to it."},
    {"MP-201", "The scope asked for does not exist or is not available to this client: check "
               "the scope's spelling with the API provider."},
    {"MP-250", "The grant's resource (audience restriction) is not one the API allows: check "
               "the resource value with the API provider."},
    {"MP-251", "The grant's authorization_details are not accepted: check their type and "
               "members against the API provider's or Altinn's documentation."},
    {"MP-301", "The delegation in Altinn that the grant relies on was not found: check that "
               "the organisation has delegated the scope (or the consent or system user) in "
               "Altinn."},
    {"MP-302", "The consent or system user in authorization_details was not found or is no "
               "longer valid: check its id and that it has not been withdrawn or expired."},
    {"MP-303", "Altinn could not be asked about the delegation, consent or system user: try "
               "again later, and check Digdir's status page if it persists."},
};

// The first "MP-" followed by exactly three digits.
std::optional<std::string_view> mp_code_in(std::string_view words) {
  for (std::size_t at = words.find("MP-"); at != std::string_view::npos;
       at = words.find("MP-", at + 1)) {
    const std::string_view digits = words.substr(at + 3, 3);
    const bool fourth_digit = at + 6 < words.size() && words[at + 6] >= '0' && words[at + 6] <= '9';
    if (digits.size() == 3 && all_digits(digits) && !fourth_digit) return words.substr(at, 6);
  }
  return std::nullopt;
}

}  // namespace

std::string with_mp_advice(std::string_view words) {
  const auto code = mp_code_in(words);
  if (!code) return std::string(words);
  for (const Advice& advice : kAdvice) {
    if (advice.code == *code) return std::string(words) + ". " + std::string(advice.sentence);
  }
  return std::string(words);
}

}  // namespace mpa
