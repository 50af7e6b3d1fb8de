// `verify-token`: verifies a Maskinporten access token, for API providers
// and data sources; offline with --jwks, else with the issuer's keys.
#include <cstdio>
#include <string>
#include <vector>

#include "agent/cli/args.h"
#include "agent/cli/cli.h"
#include "agent/verify/key_source.h"
#include "agent/verify/verifier.h"
#include "common/clock.h"
#include "common/text.h"

namespace mpa::cli {
namespace {

constexpr const char* kCommand = "verify-token";

constexpr const char* kHelp =
    "usage: maskinporten-agent verify-token (--environment test|prod | --issuer URL)\n"
    "           [--jwks FILE] [--ca-file PEM] [--audience URL] [--scope S]...\n"
    "           [--consumer-org ORGNO] [--leeway SECONDS] [TOKEN | -]\n"
    "\n"
    "Verifies a Maskinporten access token as an API provider or data source does, and\n"
    "prints its claims as one JSON object on stdout. Altinn 3's authorization_details\n"
    "are normalised: a consent (urn:altinn:consent) as\n"
    "  {type, id, from: {person|organisation: N}, to: {organisation: N}, consented,\n"
    "   validTo, consentRights: [{action: [..], resource: [{type, value}], metadata: {..}}]}\n"
    "and a system user (urn:altinn:systemuser) as\n"
    "  {type, systemuser_id: [..], system_id, systemuser_org: {organisation: N}};\n"
    "entries of other types are printed as they are.\n"
    "\n"
    "What is checked, in order:\n"
    "  - at most 32768 bytes, three base64url parts, no repeated JSON member, no deep nesting\n"
    "  - header: alg exactly RS256 (none, HS*, RS384/512, ES*, PS* are refused); no jwk,\n"
    "    x5c, jku, x5u or crit (a token may not bring its own key); a kid\n"
    "  - signature: RS256 by the issuer's key that kid names; an unknown kid makes the keys\n"
    "    be fetched again once (a key rotated in), then the token is refused\n"
    "  - iss exactly the issuer; with --audience, aud equal to it (or, an array, holding it)\n"
    "  - exp not past and iat not in the future (nbf, if present,\n"
    "    not in the future), each allowing the leeway\n"
    "  - every --scope in the token's space-separated scope; --consumer-org equal to the\n"
    "    organisation number of consumer.ID (\"0192:NNNNNNNNN\")\n"
    "  - a consent: validTo not past (no leeway), from a person or organisation number\n"
    "    with valid mod-11 check digits\n"
    "\n"
    "options:\n"
    "  --environment E    test (https://test.maskinporten.no/) or prod (https://maskinporten.no/)\n"
    "  --issuer URL       another issuer (the stand-in, a proxy); iss must equal it exactly\n"
    "  --jwks FILE        the issuer's key set (JWKS) from a file: no network at all\n"
    "  --ca-file PEM      trust these CAs too when fetching <issuer>.well-known/\n"
    "                     oauth-authorization-server and its jwks_uri (TLS is always verified)\n"
    "  --audience URL     the token's aud must be this (your API's resource): a token made\n"
    "                     for another API is refused\n"
    "  --scope S          a scope the token must grant; repeat for several\n"
    "  --consumer-org N   the 9-digit organisation number the token must be issued to\n"
    "  --leeway SECONDS   clock skew allowed on exp, iat and nbf (0-600, default 60)\n"
    "  TOKEN              the token; '-' or nothing reads it from stdin. Prefer stdin: a\n"
    "                     token on the command line is visible to other users in `ps`\n"
    "\n"
    "examples:\n"
    "  maskinporten-agent verify-token --environment test --scope nav:x/y.read - < token.jwt\n"
    "  maskinporten-agent verify-token --issuer https://localhost:8443/ --jwks jwks.json -\n"
    "\n"
    "exit status: 0 the token is valid (claims on stdout), 1 it is not, or the keys cannot\n"
    "be had (`error: CODE: reason` on stderr, nothing on stdout), 2 usage error.\n";

// Expectations from the options; a usage message in `problem` otherwise.
std::optional<verify::Expectations> expectations(const ParsedArgs& parsed, std::string& problem) {
  verify::Expectations expect;
  const auto environment = parsed.get("environment");
  const auto issuer = parsed.get("issuer");
  if (environment.has_value() == issuer.has_value()) {
    problem = "give exactly one of --environment test|prod and --issuer URL";
    return std::nullopt;
  }
  if (environment) {
    const auto known = verify::issuer_of_environment(*environment);
    if (!known) {
      problem = "--environment is test or prod, not " + quoted(*environment);
      return std::nullopt;
    }
    expect.issuer = *known;
  } else {
    expect.issuer = *issuer;
  }
  expect.scopes = parsed.all("scope");
  expect.audience = parsed.get("audience");
  if (expect.audience && expect.audience->empty()) {
    problem = "--audience takes the audience the token must name, not an empty word";
    return std::nullopt;
  }
  if (const auto org = parsed.get("consumer-org")) {
    if (org->size() != 9 || !all_digits(*org)) {
      problem = "--consumer-org takes a 9-digit organisation number";
      return std::nullopt;
    }
    expect.consumer_org = *org;
  }
  if (const auto text = parsed.get("leeway")) {
    const auto number = parse_number(*text, 0, verify::kMaxLeewaySeconds);
    if (!number) {
      problem = "--leeway takes whole seconds from 0 to 600";
      return std::nullopt;
    }
    expect.leeway_seconds = static_cast<int>(*number);
  }
  return expect;
}

Result<std::shared_ptr<verify::KeySource>> key_source(const ParsedArgs& parsed,
                                                      const std::string& issuer) {
  if (const auto file = parsed.get("jwks")) {
    MPA_ASSIGN_OR_RETURN(auto keys, verify::FileKeys::load(*file));
    return std::shared_ptr<verify::KeySource>(std::move(keys));
  }
  HttpOptions options;
  options.ca_file = parsed.get("ca-file");
  return std::shared_ptr<verify::KeySource>(std::make_shared<verify::CachedJwks>(
      verify::issuer_jwks_fetch(issuer, options), issuer, Clock::system()));
}

}  // namespace

int verify_token_command(const std::vector<std::string>& args) {
  auto parsed = parse_args(kCommand, args,
                           {{"environment", true, false},
                            {"issuer", true, false},
                            {"jwks", true, false},
                            {"ca-file", true, false},
                            {"audience", true, false},
                            {"scope", true, true},
                            {"consumer-org", true, false},
                            {"leeway", true, false}},
                           1);
  if (!parsed) return kExitUsage;
  if (parsed->has("help")) {
    std::fputs(kHelp, stdout);
    return kExitOk;
  }
  std::string problem;
  const auto expect = expectations(*parsed, problem);
  if (!expect) return usage_error(kCommand, problem);
  auto token = token_argument(*parsed, verify::kMaxTokenBytes);
  if (!token) {
    return report_failure(make_error(ErrorCode::invalid_token,
                                     "the token on stdin is longer than " +
                                         std::to_string(verify::kMaxTokenBytes) + " bytes"));
  }
  if (token->empty()) return usage_error(kCommand, "no token given (on the command line or stdin)");
  auto keys = key_source(*parsed, expect->issuer);
  if (!keys) return report_failure(keys.error());
  auto claims = verify::verify_token(*token, **keys, *expect, epoch_seconds_now());
  if (!claims) return report_failure(claims.error());
  std::printf("%s\n", claims->c_str());
  return kExitOk;
}

}  // namespace mpa::cli
