#include <boost/test/unit_test.hpp>

#include "agent/jwt/jose.h"
#include "agent/signer_helper/signing_policy.h"

using namespace mpa;
using namespace mpa::signer_helper;

namespace {

constexpr std::int64_t kNow = 1'800'000'000;
const std::string kAud = "https://test.maskinporten.no/";

SigningPolicy policy() { return SigningPolicy{{JwsAlg::RS256}, {kAud}}; }

std::string input(const std::string& header, const std::string& claims) {
  return jose::base64url_encode(header) + "." + jose::base64url_encode(claims);
}

std::string claims(std::int64_t iat, std::int64_t exp, const std::string& aud = kAud) {
  return R"({"aud":")" + aud + R"(","iss":"c","iat":)" + std::to_string(iat) +
         R"(,"exp":)" + std::to_string(exp) + R"(,"jti":"x"})";
}

const std::string kHeader = R"({"alg":"RS256","x5c":["AAAA"]})";

void check_refused(const std::string& signing_input, const std::string& words,
                   JwsAlg alg = JwsAlg::RS256) {
  const Status status = check_signing_input(policy(), alg, signing_input, kNow);
  BOOST_REQUIRE(!status.ok());
  BOOST_TEST((status.error().code == ErrorCode::forbidden));
  BOOST_TEST(status.error().message.find(words) != std::string::npos, status.error().message);
}

}  // namespace

BOOST_AUTO_TEST_CASE(SignsAGrantForAConfiguredIssuer) {
  BOOST_TEST(check_signing_input(policy(), JwsAlg::RS256, input(kHeader, claims(kNow, kNow + 120)), kNow).ok());
  BOOST_TEST(check_signing_input(policy(), JwsAlg::RS256, input(kHeader, claims(kNow - 60, kNow + 1)), kNow).ok());
}

BOOST_AUTO_TEST_CASE(RefusesOtherAudience) {
  check_refused(input(kHeader, claims(kNow, kNow + 60, "https://evil.example/")),
                "is not a configured issuer");
}

BOOST_AUTO_TEST_CASE(RefusesAudienceArray) {
  check_refused(input(kHeader, R"({"aud":["https://test.maskinporten.no/"],"iat":1,"exp":2})"),
                "no aud string");
}

BOOST_AUTO_TEST_CASE(RefusesGrantWithExpBeyond120s) {
  check_refused(input(kHeader, claims(kNow, kNow + 121)), "exp - iat is 121 s, more than 120");
}

BOOST_AUTO_TEST_CASE(RefusesExpNotAfterIat) {
  check_refused(input(kHeader, claims(kNow, kNow)), "exp is not after iat");
}

BOOST_AUTO_TEST_CASE(RefusesIatFarFromClock) {
  check_refused(input(kHeader, claims(kNow - 61, kNow + 10)), "iat is -61 s from the signer's clock");
  check_refused(input(kHeader, claims(kNow + 61, kNow + 100)), "iat is 61 s from");
}

BOOST_AUTO_TEST_CASE(RefusesMissingOrNonIntegerTimes) {
  check_refused(input(kHeader, R"({"aud":"https://test.maskinporten.no/","exp":1})"), "integer iat and exp");
  check_refused(input(kHeader, R"({"aud":"https://test.maskinporten.no/","iat":1.5,"exp":2})"),
                "integer iat and exp");
}

BOOST_AUTO_TEST_CASE(RefusesAlgNotConfigured) {
  check_refused(input(R"({"alg":"RS512"})", claims(kNow, kNow + 10)), "alg RS512 is not configured",
                JwsAlg::RS512);
}

BOOST_AUTO_TEST_CASE(RefusesHeaderAlgOtherThanAskedFor) {
  check_refused(input(R"({"alg":"none"})", claims(kNow, kNow + 10)), "is not the RS256 asked for");
  check_refused(input(R"({"typ":"JWT"})", claims(kNow, kNow + 10)), "the header has no alg");
}

BOOST_AUTO_TEST_CASE(RefusesDuplicateMembers) {
  check_refused(input(R"({"alg":"RS256","alg":"none"})", claims(kNow, kNow + 10)), "repeats a member name");
  check_refused(input(kHeader, R"({"aud":"https://test.maskinporten.no/","aud":"x","iat":)" +
                                   std::to_string(kNow) + R"(,"exp":)" + std::to_string(kNow + 5) + "}"),
                "repeats a member name");
}

BOOST_AUTO_TEST_CASE(RefusesWhatIsNotAJwsSigningInput) {
  check_refused("", "not header.claims");
  check_refused("abc", "not header.claims");
  check_refused(input(kHeader, claims(kNow, kNow + 5)) + ".sig", "not header.claims");
  check_refused("e30=." + jose::base64url_encode(claims(kNow, kNow + 5)), "header is not base64url");
  check_refused(input("[1]", claims(kNow, kNow + 5)), "header is not a JSON object");
  check_refused(input(kHeader, "{"), "claims is not JSON");
  check_refused(input(kHeader, std::string(40, '[') + std::string(40, ']')), "nests too deep");
}

BOOST_AUTO_TEST_CASE(RefusesATlsHandshakeDigest) {
  // What a TLS client would ask a key to sign: raw bytes, not a JWS.
  check_refused(std::string("\x30\x31\x30\x0d\x06\x09", 6) + std::string(32, '\x11'), "not header.claims");
}
