#include <boost/test/unit_test.hpp>

#include <rapidjson/document.h>
#include <unistd.h>

#include <cstdlib>
#include <deque>
#include <filesystem>
#include <fstream>
#include <map>
#include <sstream>
#include <string>
#include <vector>

#include "support/test_support.h"
#include "agent/altinn/altinn.h"
#include "agent/jwt/jose.h"
#include "vectors/generated_vectors.h"

#include "unit/altinn/altinn_test_helpers.h"

using namespace mpa;
using namespace mpa::altinn;
using mpa::test::altinn_jwt;
using mpa::test::answer;
using mpa::test::exchange_client;
namespace fs = std::filesystem;
using mpa::test::contains;
using mpa::test::why;

namespace {

// Vectors from tests/vectors/make_altinn_vectors.py (PyJWT + cryptography),
// made once per run around a fixed instant.
struct Vectors : mpa::test::GeneratedVectors {
  static constexpr std::int64_t kNow = 1795000000;  // 2026-11-18T11:06:40Z
  Vectors() : GeneratedVectors("make_altinn_vectors.py", kNow) { instance = this; }
  static Vectors* instance;
};
Vectors* Vectors::instance = nullptr;

std::string pem(const std::string& name) { return (Vectors::instance->dir / name).string(); }

const std::string& token(const std::string& name) {
  const auto it = Vectors::instance->tokens.find(name);
  BOOST_TEST_REQUIRE((it != Vectors::instance->tokens.end()), "no vector " << name);
  return it->second;
}

std::shared_ptr<const ConsentVerifier> verifier(std::vector<std::string> files = {"altinn.pem"},
                                                int leeway = 60) {
  for (auto& f : files) f = pem(f);
  auto v = ConsentVerifier::create(files, leeway);
  BOOST_TEST_REQUIRE(v.ok(), why(v));
  return *v;
}

rapidjson::Document accepted(const std::string& name,
                             std::vector<std::string> files = {"altinn.pem"}) {
  auto claims = verifier(std::move(files))->verify(token(name), Vectors::kNow);
  BOOST_TEST_REQUIRE(claims.ok(), name << ": " << why(claims));
  rapidjson::Document doc;
  doc.Parse(claims->c_str());
  BOOST_TEST_REQUIRE(doc.IsObject());
  return doc;
}

std::string refused(const std::string& text, std::vector<std::string> files = {"altinn.pem"}) {
  auto claims = verifier(std::move(files))->verify(text, Vectors::kNow);
  BOOST_TEST_REQUIRE(!claims.ok(), "expected a refusal, got " << (claims.ok() ? *claims : ""));
  BOOST_TEST(claims.error().code == ErrorCode::invalid_token);
  return claims.error().message;
}

void expect_refused(const std::string& name, const std::string& reason) {
  const std::string message = refused(token(name));
  BOOST_TEST(contains(message, reason), name << ": [" << message << "] lacks [" << reason << "]");
}

// Claims as the signature would let them through, for the claim checks.
std::string claims_with(const std::string& members,
                        const std::string& offered_by = "11025802170") {
  return R"({"iss":"altinn.no","exp":1795000030,"nbf":1794999970,)"
         R"("AuthorizationCode":"c7dbe642-0fc1-4c3b-8959-8a92e3e1f17d","OfferedBy":")" +
         offered_by + R"(","CoveredBy":"910514458",)" + members + "}";
}

std::string claims_refused(const std::string& json) {
  auto r = check_consent_claims(json, Vectors::kNow, 60);
  BOOST_TEST_REQUIRE(!r.ok(), "expected a refusal of " << json);
  return r.error().message;
}

}  // namespace

BOOST_TEST_GLOBAL_FIXTURE(Vectors);

BOOST_AUTO_TEST_SUITE(ConsentVerifierAccepts)

BOOST_AUTO_TEST_CASE(ValidTokenGivesClaimsAndParsedServices) {
  const auto doc = accepted("valid");
  BOOST_TEST(doc["iss"].GetString() == std::string("altinn.no"));
  BOOST_TEST(doc["CoveredBy"].GetString() == std::string("910514458"));
  const auto& services = doc["services"];
  BOOST_TEST_REQUIRE(services.Size() == 2u);  // 4629_2 twice merges into one
  BOOST_TEST(services[0]["code"].GetString() == std::string("4629"));
  BOOST_TEST(services[0]["edition"].GetString() == std::string("2"));
  BOOST_TEST(services[0]["metadata"]["inntektsaar"].GetString() == std::string("2016"));
  BOOST_TEST(services[1]["code"].GetString() == std::string("4630"));
  BOOST_TEST(services[1]["metadata"]["fraOgMed"].GetString() == std::string("2017-06"));
}

BOOST_AUTO_TEST_CASE(ServicesAsOneStringHasEmptyMetadata) {
  const auto doc = accepted("valid_services_string");
  BOOST_TEST_REQUIRE(doc["services"].Size() == 1u);
  BOOST_TEST(doc["services"][0]["code"].GetString() == std::string("4629"));
  BOOST_TEST(doc["services"][0]["metadata"].IsObject());
  BOOST_TEST(doc["services"][0]["metadata"].MemberCount() == 0u);
}

BOOST_AUTO_TEST_CASE(ServiceCodesArrayIsReadLikeServices) {
  const auto doc = accepted("valid_service_codes");
  BOOST_TEST_REQUIRE(doc["services"].Size() == 2u);
  BOOST_TEST(doc["services"][1]["code"].GetString() == std::string("4630"));
}

BOOST_AUTO_TEST_CASE(ServiceCodesStringIsReadLikeServices) {
  BOOST_TEST(accepted("valid_service_codes_string")["services"].Size() == 1u);
}

BOOST_AUTO_TEST_CASE(CommaSeparatedServiceWithTwoMetadataValues) {
  const auto doc = accepted("valid_comma_services");
  const auto& metadata = doc["services"][0]["metadata"];
  BOOST_TEST(metadata["fraOgMed"].GetString() == std::string("november 2016"));
  BOOST_TEST(metadata["tilOgMed"].GetString() == std::string("januar 2017"));
}

BOOST_AUTO_TEST_CASE(WithoutX5tEveryConfiguredCertificateIsTried) {
  accepted("valid_no_x5t");
  accepted("valid_next_no_x5t", {"altinn.pem", "altinn-next.pem"});
}

BOOST_AUTO_TEST_CASE(X5tPicksTheRotatedCertificate) {
  accepted("valid_next", {"altinn.pem", "altinn-next.pem"});
  accepted("valid_next", {"both.pem"});
  accepted("valid", {"both.pem"});
}

BOOST_AUTO_TEST_CASE(ExpiredWithinLeewayIsAccepted) { accepted("expired_within_leeway"); }

BOOST_AUTO_TEST_CASE(DNumberAndOrganisationNumberAreAccepted) {
  accepted("valid_d_number_and_org");
}

BOOST_AUTO_TEST_CASE(SyntheticTestPersonWithMonthPlus80IsAccepted) {
  accepted("valid_synthetic_person");
}

BOOST_AUTO_TEST_SUITE_END()

BOOST_AUTO_TEST_SUITE(ConsentVerifierRefuses)

BOOST_AUTO_TEST_CASE(AlgNone) { expect_refused("alg_none", "alg \"none\" is refused"); }

BOOST_AUTO_TEST_CASE(Hs256SignedWithTheCertificateAsSecret) {
  expect_refused("hs256_cert_secret", "alg \"HS256\" is refused");
}

BOOST_AUTO_TEST_CASE(Rs512) { expect_refused("rs512", "alg \"RS512\" is refused"); }

BOOST_AUTO_TEST_CASE(Ps256) { expect_refused("ps256", "alg \"PS256\" is refused"); }

BOOST_AUTO_TEST_CASE(JwkHeader) {
  expect_refused("jwk_header", "the token tries to bring its own key (jwk)");
}

BOOST_AUTO_TEST_CASE(X5cHeader) {
  expect_refused("x5c_header",
                 "the token tries to bring its own key (x5c); only the configured Altinn "
                 "certificates are trusted");
}

BOOST_AUTO_TEST_CASE(JkuHeader) { expect_refused("jku_header", "bring its own key (jku)"); }

BOOST_AUTO_TEST_CASE(X5uHeader) { expect_refused("x5u_header", "bring its own key (x5u)"); }

BOOST_AUTO_TEST_CASE(CritHeader) { expect_refused("crit_header", "(crit)"); }

BOOST_AUTO_TEST_CASE(TypOtherThanJwt) { expect_refused("typ_not_jwt", "typ must be \"JWT\""); }

BOOST_AUTO_TEST_CASE(WrongIssuer) {
  expect_refused("wrong_iss", "iss is \"https://altinn.no\"; only \"altinn.no\" is accepted");
}

BOOST_AUTO_TEST_CASE(MissingExp) { expect_refused("missing_exp", "no exp"); }

BOOST_AUTO_TEST_CASE(ExpAsString) { expect_refused("exp_not_integer", "exp must be epoch seconds"); }

BOOST_AUTO_TEST_CASE(ExpiredBeyondLeeway) {
  expect_refused("expired", "token expired at 2026-11-18T11:04:40Z (leeway 60 s)");
}

BOOST_AUTO_TEST_CASE(NbfInTheFuture) { expect_refused("nbf_future", "token not valid before"); }

BOOST_AUTO_TEST_CASE(ValidToDateInThePast) {
  expect_refused("valid_to_date_past", "the consent ended at");
}

BOOST_AUTO_TEST_CASE(TamperedPayload) {
  expect_refused("bad_signature", "signature does not verify with any configured Altinn certificate");
}

BOOST_AUTO_TEST_CASE(UnknownX5t) {
  expect_refused("unknown_x5t", "no configured certificate has thumbprint");
}

BOOST_AUTO_TEST_CASE(SignedByAnUnconfiguredKey) {
  expect_refused("unconfigured_key", "signature does not verify");
}

BOOST_AUTO_TEST_CASE(SignedByAnExpiredCertificate) {
  const std::string message = refused(token("signed_by_expired_cert"), {"with-expired.pem"});
  BOOST_TEST(contains(message, "signed by Altinn certificate "), message);
  BOOST_TEST(contains(message, "(retired), which expired on 2026-10-09T11:06:40Z (leeway 60 s)"),
             message);
  BOOST_TEST(contains(message, "configure Altinn's current certificate"), message);
}

BOOST_AUTO_TEST_CASE(SignedByAnExpiredCertificateWithoutX5t) {
  const std::string message =
      refused(token("signed_by_expired_cert_no_x5t"), {"altinn.pem", "expired.pem"});
  BOOST_TEST(contains(message, "which expired on"), message);
}

BOOST_AUTO_TEST_CASE(SignedByACertificateNotYetValid) {
  const std::string message = refused(token("signed_by_future_cert"), {"altinn.pem", "future.pem"});
  BOOST_TEST(contains(message, "(future), which is not valid before 2026-11-28T11:06:40Z"), message);
}

BOOST_AUTO_TEST_CASE(TheCurrentCertificateStillVerifiesBesideAnExpiredOne) {
  auto claims = verifier({"with-expired.pem"})->verify(token("valid_no_x5t"), Vectors::kNow);
  BOOST_TEST(claims.ok(), why(claims));
}

BOOST_AUTO_TEST_CASE(ExpiryIsCheckedWithTheLeeway) {
  // 40 days after expiry no leeway helps; at the instant of expiry the
  // configured leeway does.
  auto v = verifier({"expired.pem"}, 600);
  const std::int64_t expired_at = Vectors::kNow - 40 * 86400;
  auto at_expiry = v->verify(token("signed_by_expired_cert"), expired_at + 600);
  BOOST_TEST(!contains(why(at_expiry), "expired on"), why(at_expiry));
  auto after = v->verify(token("signed_by_expired_cert"), expired_at + 601);
  BOOST_TEST(contains(why(after), "expired on"), why(after));
}

BOOST_AUTO_TEST_CASE(RotatedTokenWithoutItsCertificate) {
  expect_refused("valid_next", "no configured certificate has thumbprint");
}

BOOST_AUTO_TEST_CASE(OfferedByWithWrongCheckDigit) {
  expect_refused("offered_by_bad_check_digit", "OfferedBy is not a valid national identity number");
}

BOOST_AUTO_TEST_CASE(CoveredByWithWrongCheckDigit) {
  expect_refused("covered_by_bad_check_digit", "CoveredBy is not a valid organisation number");
}

BOOST_AUTO_TEST_CASE(OfferedByOfTenDigits) {
  expect_refused("offered_by_wrong_length", "OfferedBy must be an 11-digit");
}

BOOST_AUTO_TEST_CASE(MalformedServices) {
  expect_refused("malformed_services", "Services entry \"4629-2\" is not CODE_EDITION");
}

BOOST_AUTO_TEST_CASE(NoServices) {
  expect_refused("services_missing", "neither a Services nor a ServiceCodes claim");
}

BOOST_AUTO_TEST_CASE(AuthorizationCodeNotAGuid) {
  expect_refused("bad_authorization_code", "AuthorizationCode is not a GUID");
}

BOOST_AUTO_TEST_CASE(DuplicateClaim) { expect_refused("duplicate_iss", "repeats a member name"); }

BOOST_AUTO_TEST_CASE(OversizedToken) { expect_refused("oversized", "at most 16384 are accepted"); }

BOOST_AUTO_TEST_CASE(TwoPartsOnly) { expect_refused("two_parts", "three base64url parts"); }

BOOST_AUTO_TEST_CASE(GarbageBase64) {
  expect_refused("garbage_base64", "the header is not base64url");
}

BOOST_AUTO_TEST_CASE(HeaderNotJson) { expect_refused("header_not_json", "the header is not JSON"); }

BOOST_AUTO_TEST_CASE(EmptyToken) { BOOST_TEST(contains(refused(""), "three base64url parts")); }

BOOST_AUTO_TEST_CASE(FourParts) {
  BOOST_TEST(contains(refused(token("valid") + ".x"), "found 4"));
}

BOOST_AUTO_TEST_CASE(OversizeIsRefusedBeforeParsing) {
  BOOST_TEST(contains(refused(std::string(kMaxConsentTokenBytes + 1, '.')), "at most 16384"));
}

BOOST_AUTO_TEST_SUITE_END()

BOOST_AUTO_TEST_SUITE(ConsentVerifierCreate)

BOOST_AUTO_TEST_CASE(RefusesAnEcCertificateNamingTheFile) {
  auto v = ConsentVerifier::create({pem("ec.pem")}, 60);
  BOOST_TEST_REQUIRE(!v.ok());
  BOOST_TEST(v.error().code == ErrorCode::invalid_config);
  BOOST_TEST(contains(v.error().message, "ec.pem"));
  BOOST_TEST(contains(v.error().message, "no RSA public key"));
}

BOOST_AUTO_TEST_CASE(RefusesAFileWithoutCertificates) {
  auto v = ConsentVerifier::create({pem("not-a-cert.pem")}, 60);
  BOOST_TEST_REQUIRE(!v.ok());
  BOOST_TEST(contains(v.error().message, "not-a-cert.pem: no PEM certificate"));
}

BOOST_AUTO_TEST_CASE(RefusesAMissingFile) {
  auto v = ConsentVerifier::create({pem("missing.pem")}, 60);
  BOOST_TEST_REQUIRE(!v.ok());
  BOOST_TEST(v.error().code == ErrorCode::invalid_config);
  BOOST_TEST(contains(v.error().message, "missing.pem: cannot read"));
}

BOOST_AUTO_TEST_CASE(RefusesNoCertificates) {
  BOOST_TEST(!ConsentVerifier::create({}, 60).ok());
}

BOOST_AUTO_TEST_CASE(RefusesANegativeOrHugeLeeway) {
  BOOST_TEST(!ConsentVerifier::create({pem("altinn.pem")}, -1).ok());
  BOOST_TEST(!ConsentVerifier::create({pem("altinn.pem")}, kMaxLeewaySeconds + 1).ok());
}

BOOST_AUTO_TEST_CASE(ZeroLeewayRefusesWhatSixtyAccepts) {
  auto strict = verifier({"altinn.pem"}, 0)->verify(token("expired_within_leeway"), Vectors::kNow);
  BOOST_TEST_REQUIRE(!strict.ok());
  BOOST_TEST(contains(strict.error().message, "(leeway 0 s)"));
}

BOOST_AUTO_TEST_SUITE_END()

BOOST_AUTO_TEST_SUITE(ConsentClaims)

BOOST_AUTO_TEST_CASE(ValidToDateAsUtcDateTimeIsRead) {
  auto past = claims_with(R"("Services":"1_1","ValidToDate":"2026-11-18T08:00:00Z")");
  BOOST_TEST(contains(claims_refused(past), "the consent ended at 2026-11-18T08:00:00Z"));
  auto future = claims_with(R"("Services":"1_1","ValidToDate":"2027-01-01T00:00:00+01:00")");
  BOOST_TEST(check_consent_claims(future, Vectors::kNow, 60).ok());
}

BOOST_AUTO_TEST_CASE(ValidToDateWithoutZoneIsReadAsEarliestOsloTime) {
  // kNow is 11:06:40Z; "12:00" in Oslo could mean 10:00Z at the earliest.
  auto local = claims_with(R"("Services":"1_1","ValidToDate":"2026-11-18 12:00:00")");
  BOOST_TEST(contains(claims_refused(local), "the consent ended at 2026-11-18T10:00:00Z"));
}

BOOST_AUTO_TEST_CASE(ValidToDateNotADate) {
  auto bad = claims_with(R"("Services":"1_1","ValidToDate":"2026-02-30T00:00:00Z")");
  BOOST_TEST(contains(claims_refused(bad), "is not a date-time"));
}

BOOST_AUTO_TEST_CASE(ServiceWithoutEdition) {
  BOOST_TEST(contains(claims_refused(claims_with(R"("Services":"4629")")), "no edition"));
}

BOOST_AUTO_TEST_CASE(ServiceMetadataWithoutEquals) {
  BOOST_TEST(contains(claims_refused(claims_with(R"("Services":"4629_2_inntektsaar")")),
                      "metadata without '='"));
}

BOOST_AUTO_TEST_CASE(ServiceMetadataWithControlCharacter) {
  BOOST_TEST(contains(claims_refused(claims_with(R"("Services":"4629_2_a=b\u0001")")),
                      "control characters"));
}

BOOST_AUTO_TEST_CASE(ServicesEmptyArray) {
  BOOST_TEST(contains(claims_refused(claims_with(R"("Services":[])")), "non-empty array"));
}

BOOST_AUTO_TEST_CASE(ServicesWithANumber) {
  BOOST_TEST(contains(claims_refused(claims_with(R"("Services":[4629])")), "not a string"));
}

BOOST_AUTO_TEST_CASE(ConflictingMetadataForOneService) {
  BOOST_TEST(contains(
      claims_refused(claims_with(R"("Services":["1_1_aar=2016","1_1_aar=2017"])")),
      "two values for aar"));
}

BOOST_AUTO_TEST_CASE(MetadataValueMayHoldUnderscores) {
  auto r = check_consent_claims(claims_with(R"("Services":"4630_2_fraOgMed=2017_06")"),
                                Vectors::kNow, 60);
  BOOST_TEST_REQUIRE(r.ok(), why(r));
  BOOST_TEST(contains(*r, R"("metadata":{"fraOgMed":"2017_06"})"));
}

BOOST_AUTO_TEST_CASE(ReservedServicesClaim) {
  BOOST_TEST(contains(claims_refused(claims_with(R"("Services":"1_1","services":[])")),
                      "reserves"));
}

BOOST_AUTO_TEST_CASE(DeepNesting) {
  const std::string deep = std::string(40, '[') + std::string(40, ']');
  BOOST_TEST(contains(claims_refused(claims_with(R"("Services":"1_1","x":)" + deep)),
                      "nests deeper"));
}

BOOST_AUTO_TEST_CASE(TrailingGarbageAfterTheObject) {
  BOOST_TEST(contains(claims_refused(claims_with(R"("Services":"1_1")") + "x"), "is not JSON"));
}

BOOST_AUTO_TEST_CASE(IdentityNumberWithImpossibleDate) {
  // Valid check digits, but day 32 is no date (and not a D-number).
  BOOST_TEST(contains(claims_refused(claims_with(R"("Services":"1_1")", "32025802151")),
                      "OfferedBy is not a valid national identity number"));
}

BOOST_AUTO_TEST_CASE(HandledByIsCheckedWhenPresent) {
  BOOST_TEST(contains(claims_refused(claims_with(R"("Services":"1_1","HandledBy":"910459881")")),
                      "HandledBy is not a valid organisation number"));
}

BOOST_AUTO_TEST_CASE(MessagesNeverCarryTheIdentityNumber) {
  const auto message = claims_refused(claims_with(R"("Services":"1_1")", "11025802171"));
  BOOST_TEST(!contains(message, "11025802171"));
}

BOOST_AUTO_TEST_SUITE_END()

// ---------------------------------------------------------------------------
// Exchange, with a fake transport and a fake clock (no network, no waiting).

namespace {

struct FakeAltinn {
  std::deque<Result<HttpResponse>> answers;  // the last one repeats
  int calls = 0;
  std::chrono::milliseconds elapsed{0};
  int sleeps = 0;
  std::vector<std::string> last_headers;
  std::string last_url;

  ExchangeTransport transport() {
    ExchangeTransport t;
    t.get = [this](const std::string& url, const std::vector<std::string>& headers,
                   const HttpOptions&) -> Result<HttpResponse> {
      ++calls;
      last_url = url;
      last_headers = headers;
      auto answer = answers.front();
      if (answers.size() > 1) answers.pop_front();
      return answer;
    };
    t.clock = Clock{[this] { return std::chrono::steady_clock::time_point(elapsed); },
                    [] { return Vectors::kNow; }};
    t.sleep = [this](std::chrono::milliseconds d) {
      ++sleeps;
      elapsed += d;
    };
    return t;
  }
};

}  // namespace

BOOST_AUTO_TEST_SUITE(AltinnExchange)

BOOST_AUTO_TEST_CASE(OkGivesTheTokenWithExpiryFromExp) {
  FakeAltinn fake;
  const std::string jwt = altinn_jwt(R"({"exp":1795001800,"scope":"altinn:instances.read"})");
  fake.answers.push_back(answer(200, jwt + "\n"));
  auto token = exchange_for_altinn(exchange_client(), "mp-token", fake.transport());
  BOOST_TEST_REQUIRE(token.ok(), why(token));
  BOOST_TEST(token->access_token == jwt);
  BOOST_TEST(token->token_type == "Bearer");
  BOOST_TEST(token->expires_at == 1795001800);
  BOOST_TEST(token->expires_in == 1800);
  BOOST_TEST(token->scope == "altinn:instances.read");
  BOOST_TEST(fake.calls == 1);
  BOOST_TEST(fake.last_url == exchange_client().altinn_exchange_endpoint);
  BOOST_TEST(fake.last_headers.at(0) == "Authorization: Bearer mp-token");
}

BOOST_AUTO_TEST_CASE(OkWithAQuotedJwtIsUnquoted) {
  FakeAltinn fake;
  const std::string jwt = altinn_jwt(R"({"exp":1795001800})");
  fake.answers.push_back(answer(200, "\"" + jwt + "\""));
  auto token = exchange_for_altinn(exchange_client(), "mp-token", fake.transport());
  BOOST_TEST_REQUIRE(token.ok(), why(token));
  BOOST_TEST(token->access_token == jwt);
}

BOOST_AUTO_TEST_CASE(OkWithoutExpIsRefused) {
  FakeAltinn fake;
  fake.answers.push_back(answer(200, altinn_jwt(R"({"scope":"x"})")));
  auto token = exchange_for_altinn(exchange_client(), "mp-token", fake.transport());
  BOOST_TEST_REQUIRE(!token.ok());
  BOOST_TEST(contains(token.error().message, "no integer exp"));
  BOOST_TEST(fake.calls == 1);
}

BOOST_AUTO_TEST_CASE(OkWithGarbageIsRefusedNotRetried) {
  FakeAltinn fake;
  fake.answers.push_back(answer(200, "<html>hello</html>"));
  auto token = exchange_for_altinn(exchange_client(), "mp-token", fake.transport());
  BOOST_TEST_REQUIRE(!token.ok());
  BOOST_TEST(contains(token.error().message, "not with a token"));
  BOOST_TEST(fake.calls == 1);
}

BOOST_AUTO_TEST_CASE(OkWithAnExpiredTokenIsRefused) {
  FakeAltinn fake;
  fake.answers.push_back(answer(200, altinn_jwt(R"({"exp":1794999999})")));
  auto token = exchange_for_altinn(exchange_client(), "mp-token", fake.transport());
  BOOST_TEST_REQUIRE(!token.ok());
  BOOST_TEST(contains(token.error().message, "expired at"));
}

BOOST_AUTO_TEST_CASE(Unauthorized401IsInvalidGrantInWords) {
  FakeAltinn fake;
  fake.answers.push_back(answer(401, "Token is not valid\x01"));
  auto token = exchange_for_altinn(exchange_client(), "mp-token", fake.transport());
  BOOST_TEST_REQUIRE(!token.ok());
  BOOST_TEST(token.error().code == ErrorCode::invalid_grant);
  BOOST_TEST(token.error().message ==
             "Altinn refused the Maskinporten token (401): Token is not valid?");
  BOOST_TEST(fake.calls == 1);
}

BOOST_AUTO_TEST_CASE(Unauthorized401WithAnEmptyBodyGivesTheWwwAuthenticateReason) {
  FakeAltinn fake;
  HttpResponse refused = answer(401, "");
  refused.www_authenticate =
      R"(Bearer error="invalid_token", error_description="The token expired")";
  fake.answers.push_back(refused);
  auto token = exchange_for_altinn(exchange_client(), "mp-token", fake.transport());
  BOOST_TEST_REQUIRE(!token.ok());
  BOOST_TEST(token.error().code == ErrorCode::invalid_grant);
  BOOST_TEST(token.error().message ==
             "Altinn refused the Maskinporten token (401): WWW-Authenticate: Bearer "
             R"(error="invalid_token", error_description="The token expired")");
}

BOOST_AUTO_TEST_CASE(WwwAuthenticateIsCutShortAndMadePrintable) {
  FakeAltinn fake;
  HttpResponse refused = answer(401, "no");
  refused.www_authenticate = "Bearer \x7f" + std::string(5000, 'y');
  fake.answers.push_back(refused);
  auto token = exchange_for_altinn(exchange_client(), "mp-token", fake.transport());
  BOOST_TEST_REQUIRE(!token.ok());
  BOOST_TEST(contains(token.error().message, "(401): no; WWW-Authenticate: Bearer ?yyy"));
  BOOST_TEST(token.error().message.size() < 500u);
}

BOOST_AUTO_TEST_CASE(ErrorBodyIsCutShort) {
  FakeAltinn fake;
  fake.answers.push_back(answer(401, std::string(5000, 'x')));
  auto token = exchange_for_altinn(exchange_client(), "mp-token", fake.transport());
  BOOST_TEST_REQUIRE(!token.ok());
  BOOST_TEST(token.error().message.size() < 300u);
}

BOOST_AUTO_TEST_CASE(Forbidden403IsForbidden) {
  FakeAltinn fake;
  fake.answers.push_back(answer(403, ""));
  auto token = exchange_for_altinn(exchange_client(), "mp-token", fake.transport());
  BOOST_TEST_REQUIRE(!token.ok());
  BOOST_TEST(token.error().code == ErrorCode::forbidden);
  BOOST_TEST(contains(token.error().message, "(403): (empty body)"));
  BOOST_TEST(fake.calls == 1);
}

BOOST_AUTO_TEST_CASE(NotFoundIsNotRetried) {
  FakeAltinn fake;
  fake.answers.push_back(answer(404, "no such endpoint"));
  auto token = exchange_for_altinn(exchange_client(), "mp-token", fake.transport());
  BOOST_TEST_REQUIRE(!token.ok());
  BOOST_TEST(fake.calls == 1);
}

BOOST_AUTO_TEST_CASE(TwoUnavailableThenOkSucceedsOnTheThirdCall) {
  FakeAltinn fake;
  fake.answers.push_back(answer(503, "busy"));
  fake.answers.push_back(answer(503, "busy"));
  fake.answers.push_back(answer(200, altinn_jwt(R"({"exp":1795001800})")));
  auto token = exchange_for_altinn(exchange_client(), "mp-token", fake.transport());
  BOOST_TEST_REQUIRE(token.ok(), why(token));
  BOOST_TEST(fake.calls == 3);
  // It waited between attempts (full jitter may draw a wait of 0 ms).
  BOOST_TEST(fake.sleeps == 2);
}

BOOST_AUTO_TEST_CASE(NetworkErrorIsRetried) {
  FakeAltinn fake;
  fake.answers.push_back(make_error(ErrorCode::unavailable, "Could not resolve host"));
  fake.answers.push_back(answer(200, altinn_jwt(R"({"exp":1795001800})")));
  auto token = exchange_for_altinn(exchange_client(), "mp-token", fake.transport());
  BOOST_TEST_REQUIRE(token.ok(), why(token));
  BOOST_TEST(fake.calls == 2);
}

BOOST_AUTO_TEST_CASE(ServerErrorForeverIsUnavailableWithinTheDeadline) {
  FakeAltinn fake;
  fake.answers.push_back(answer(500, "internal"));
  auto token = exchange_for_altinn(exchange_client(), "mp-token", fake.transport());
  BOOST_TEST_REQUIRE(!token.ok());
  BOOST_TEST(token.error().code == ErrorCode::unavailable);
  BOOST_TEST(contains(token.error().message, "within 20 s; last: Altinn answered (500): internal"));
  BOOST_TEST(fake.calls > 2);
  BOOST_TEST(fake.elapsed <= std::chrono::seconds(20));
}

BOOST_AUTO_TEST_CASE(NoEndpointIsARequestErrorSayingWhatToSetBeforeAnyExchange) {
  ClientConfig client = exchange_client();
  client.name = "bare";
  client.altinn_exchange_endpoint.clear();
  const Status possible = check_exchange_endpoint(client);
  BOOST_TEST_REQUIRE(!possible.ok());
  BOOST_TEST(possible.error().code == ErrorCode::invalid_request);
  BOOST_TEST(possible.error().message ==
             "client \"bare\" has no altinn_exchange_endpoint, so it cannot make Altinn tokens; "
             "set altinn_exchange_endpoint in its [[client]] table (environment \"custom\" has "
             "no default) to use \"exchange\":\"altinn\"");
}

BOOST_AUTO_TEST_CASE(AClientWithAnEndpointCanExchange) {
  BOOST_TEST(check_exchange_endpoint(exchange_client()).ok());
}

BOOST_AUTO_TEST_CASE(NoEndpointIsAConfigurationError) {
  FakeAltinn fake;
  ClientConfig client = exchange_client();
  client.altinn_exchange_endpoint.clear();
  auto token = exchange_for_altinn(client, "mp-token", fake.transport());
  BOOST_TEST_REQUIRE(!token.ok());
  BOOST_TEST(token.error().code == ErrorCode::invalid_config);
  BOOST_TEST(fake.calls == 0);
}

BOOST_AUTO_TEST_SUITE_END()
