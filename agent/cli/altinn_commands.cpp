// `verify-altinn`: verifies an Altinn consent token offline.
#include <chrono>
#include <cstdio>
#include <string>
#include <vector>

#include "agent/altinn/altinn.h"
#include "agent/cli/args.h"
#include "agent/cli/cli.h"
#include "common/clock.h"

namespace mpa::cli {
namespace {

constexpr int kDefaultLeewaySeconds = 60;
constexpr const char* kHelp =
    "usage: maskinporten-agent verify-altinn --cert PEM [--cert PEM2 ...] [--leeway SECONDS]\n"
    "                                        [TOKEN | -]\n"
    "\n"
    "Verifies an Altinn consent token (the self-contained JWT a data consumer sends a\n"
    "data source) offline: no network, no agent. On success prints its claims as one\n"
    "JSON object on stdout, with the Services/ServiceCodes claim also parsed into\n"
    "  \"services\": [{\"code\":\"4629\",\"edition\":\"2\",\"metadata\":{\"inntektsaar\":\"2016\"}}, ...]\n"
    "(one entry per service code and edition, with the metadata of all its strings).\n"
    "\n"
    "What is checked, in order:\n"
    "  - at most 16384 bytes, three base64url parts\n"
    "  - header: alg exactly RS256 (none, HS*, RS384/512, ES*, PS* are refused); no\n"
    "    jwk, x5c, jku, x5u or crit (a token may not bring its own key); typ JWT\n"
    "  - signature: RS256 by one of the --cert certificates; when the header has x5t\n"
    "    (SHA-1 thumbprint), only the certificate with that thumbprint is tried\n"
    "  - iss is \"altinn.no\"; exp present and not past (allowing the leeway); nbf,\n"
    "    if present, not in the future (allowing the leeway); ValidToDate, the end of\n"
    "    the consent, not past (no leeway)\n"
    "  - Services or ServiceCodes: CODE_EDITION[_name=value] strings; AuthorizationCode\n"
    "    a GUID; OfferedBy and CoveredBy (and HandledBy if present) an 11-digit national\n"
    "    identity number (D-numbers too) or a 9-digit organisation number, with valid\n"
    "    mod-11 check digits\n"
    "\n"
    "options:\n"
    "  --cert PEM         Altinn's public signing certificate (PEM; a file may hold several);\n"
    "                     repeat during Altinn's certificate rotation\n"
    "  --leeway SECONDS   clock skew allowed on exp and nbf (0-600, default 60)\n"
    "  TOKEN              the token; '-' or nothing reads it from stdin. Prefer stdin: a\n"
    "                     token on the command line is visible to other users in `ps`\n"
    "\n"
    "examples:\n"
    "  maskinporten-agent verify-altinn --cert altinn-prod.pem - < token.jwt\n"
    "  printf %s \"$TOKEN\" | maskinporten-agent verify-altinn --cert old.pem --cert new.pem\n"
    "\n"
    "exit status: 0 the token is valid (claims on stdout), 1 it is not, or a certificate\n"
    "cannot be used (`error: CODE: reason` on stderr), 2 usage error.\n";

int usage(const std::string& message) { return usage_error("verify-altinn", message); }

}  // namespace

int verify_altinn_command(const std::vector<std::string>& args) {
  auto parsed = parse_args("verify-altinn", args,
                           {{"cert", true, true}, {"leeway", true, false}}, 1);
  if (!parsed) return kExitUsage;
  if (parsed->has("help")) {
    std::fputs(kHelp, stdout);
    return kExitOk;
  }
  if (!parsed->has("cert")) return usage("at least one --cert PEM is required");
  long long leeway = kDefaultLeewaySeconds;
  if (const auto text = parsed->get("leeway")) {
    const auto number = parse_number(*text, 0, altinn::kMaxLeewaySeconds);
    if (!number) return usage("--leeway takes whole seconds from 0 to 600");
    leeway = *number;
  }
  auto verifier = altinn::ConsentVerifier::create(parsed->all("cert"), static_cast<int>(leeway));
  if (!verifier) return report_failure(verifier.error());

  auto token = token_argument(*parsed, altinn::kMaxConsentTokenBytes);
  if (!token) {
    return report_failure(make_error(ErrorCode::invalid_token,
                                     "the token on stdin is longer than " +
                                         std::to_string(altinn::kMaxConsentTokenBytes) + " bytes"));
  }
  if (token->empty()) return usage("no token given (on the command line or stdin)");

  auto claims = (*verifier)->verify(*token, epoch_seconds_now());
  if (!claims) return report_failure(claims.error());
  std::printf("%s\n", claims->c_str());
  return kExitOk;
}

}  // namespace mpa::cli
