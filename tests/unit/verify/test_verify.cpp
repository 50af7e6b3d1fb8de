#include <boost/test/unit_test.hpp>

#include <rapidjson/document.h>
#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <map>
#include <sstream>
#include <string>
#include <vector>

#include "support/test_support.h"
#include "agent/verify/jwks.h"
#include "agent/verify/key_source.h"
#include "agent/verify/verifier.h"
#include "vectors/generated_vectors.h"

using namespace mpa;
using namespace mpa::verify;
namespace fs = std::filesystem;
using mpa::test::contains;
using mpa::test::read_text;

namespace {

// Vectors from tests/vectors/make_verify_vectors.py (PyJWT + cryptography),
// made once per run around a fixed instant.
struct Vectors : mpa::test::GeneratedVectors {
  static constexpr std::int64_t kNow = 1795000000;  // 2026-11-18T11:06:40Z
  Vectors() : GeneratedVectors("make_verify_vectors.py", kNow) { instance = this; }
  static Vectors* instance;
};
Vectors* Vectors::instance = nullptr;

std::string vector_file(const std::string& name) { return (Vectors::instance->dir / name).string(); }

const std::string& token(const std::string& name) {
  const auto it = Vectors::instance->tokens.find(name);
  BOOST_TEST_REQUIRE((it != Vectors::instance->tokens.end()), "no vector " << name);
  return it->second;
}

Expectations expected() {
  Expectations e;
  e.issuer = "https://issuer.test/";
  e.scopes = {"test:write"};
  e.consumer_org = "910514458";
  return e;
}

// A clock the test moves, and an issuer whose key set the test swaps.
struct World {
  std::chrono::steady_clock::time_point now{std::chrono::hours(1000)};
  std::vector<std::string> sets = {read_text(vector_file("jwks.json"))};
  bool reachable = true;
  std::size_t served = 0;

  std::shared_ptr<CachedJwks> cache() {
    Clock clock{[this] { return now; }, [] { return Vectors::kNow; }};
    return std::make_shared<CachedJwks>(
        [this]() -> Result<std::string> {
          if (!reachable) return make_error(ErrorCode::unavailable, "connection refused");
          const std::string& set = sets[std::min(served, sets.size() - 1)];
          ++served;
          return set;
        },
        "https://issuer.test/jwks", clock);
  }
};

std::shared_ptr<KeySource> file_keys(const std::string& name = "jwks.json") {
  auto keys = FileKeys::load(vector_file(name));
  BOOST_TEST_REQUIRE(keys.ok(), (keys.ok() ? "" : keys.error().message));
  return *keys;
}

rapidjson::Document accepted(const std::string& name, Expectations e = expected()) {
  auto keys = file_keys();
  auto claims = verify_token(token(name), *keys, e, Vectors::kNow);
  BOOST_TEST_REQUIRE(claims.ok(), name << ": " << (claims.ok() ? "" : claims.error().message));
  rapidjson::Document doc;
  doc.Parse(claims->c_str());
  BOOST_TEST_REQUIRE(doc.IsObject());
  return doc;
}

void expect_refused(const std::string& name, const std::string& reason, Expectations e = expected()) {
  auto keys = file_keys();
  auto claims = verify_token(token(name), *keys, e, Vectors::kNow);
  BOOST_TEST_REQUIRE(!claims.ok(), name << ": expected a refusal, got " << (claims.ok() ? *claims : ""));
  BOOST_TEST(claims.error().code == ErrorCode::invalid_token);
  BOOST_TEST(contains(claims.error().message, reason),
             name << ": [" << claims.error().message << "] lacks [" << reason << "]");
}

const rapidjson::Value& detail(const rapidjson::Document& claims) {
  BOOST_TEST_REQUIRE(claims["authorization_details"].IsArray());
  BOOST_TEST_REQUIRE(claims["authorization_details"].Size() == 1u);
  return claims["authorization_details"][0];
}

}  // namespace

BOOST_TEST_GLOBAL_FIXTURE(Vectors);

BOOST_AUTO_TEST_SUITE(VerifyTokenAccepts)

BOOST_AUTO_TEST_CASE(PlainTokenWithItsClaims) {
  const auto claims = accepted("valid");
  BOOST_TEST(claims["iss"].GetString() == std::string("https://issuer.test/"));
  BOOST_TEST(claims["scope"].GetString() == std::string("test:read test:write"));
  BOOST_TEST(!claims.HasMember("authorization_details"));
}

BOOST_AUTO_TEST_CASE(ConsentNormalised) {
  const auto claims = accepted("valid_consent");
  const auto& c = detail(claims);
  BOOST_TEST(c["type"].GetString() == std::string("urn:altinn:consent"));
  BOOST_TEST(c["id"].GetString() == std::string("93413201-b7e8-4ec3-a899-580fc02c6aeb"));
  BOOST_TEST(c["from"]["person"].GetString() == std::string("11025802170"));
  BOOST_TEST(c["to"]["organisation"].GetString() == std::string("991825827"));
  BOOST_TEST(c["validTo"].GetString() == std::string("2027-11-18T11:06:40.639509+00:00"));
  const auto& right = c["consentRights"][0];
  BOOST_TEST(right["action"][0].GetString() == std::string("consent"));
  BOOST_TEST(right["resource"][0]["value"].GetString() == std::string("samtykke-test"));
  BOOST_TEST(right["metadata"]["inntektsaar"].GetString() == std::string("2022"));
}

BOOST_AUTO_TEST_CASE(ConsentMetaDataSpellingBecomesMetadata) {
  const auto claims = accepted("valid_consent_metaData");
  const auto& right = detail(claims)["consentRights"][0];
  BOOST_TEST(right["metadata"]["inntektsaar"].GetString() == std::string("2028"));
  BOOST_TEST(!right.HasMember("metaData"));
}

BOOST_AUTO_TEST_CASE(ConsentFromAnOrganisation) {
  const auto claims = accepted("valid_consent_from_org");
  BOOST_TEST(detail(claims)["from"]["organisation"].GetString() == std::string("910514458"));
}

BOOST_AUTO_TEST_CASE(SystemUserNormalised) {
  const auto claims = accepted("valid_systemuser");
  const auto& s = detail(claims);
  BOOST_TEST(s["type"].GetString() == std::string("urn:altinn:systemuser"));
  BOOST_TEST(s["systemuser_id"][0].GetString() == std::string("ebe4a681-0a8c-429e-a36f-8f9ca942b59f"));
  BOOST_TEST(s["system_id"].GetString() == std::string("991825827_smartcloud"));
  BOOST_TEST(s["systemuser_org"]["organisation"].GetString() == std::string("314168267"));
}

BOOST_AUTO_TEST_CASE(UnknownDetailTypePassedThrough) {
  const auto claims = accepted("valid_unknown_type");
  const auto& d = detail(claims);
  BOOST_TEST(d["type"].GetString() == std::string("urn:example:other"));
  BOOST_TEST(d["anything"]["kept"].Size() == 2u);
}

BOOST_AUTO_TEST_CASE(TypAtJwt) { accepted("valid_typ_at_jwt"); }

BOOST_AUTO_TEST_CASE(NoScopeOrConsumerAskedForNoneChecked) {
  Expectations e;
  e.issuer = "https://issuer.test/";
  accepted("other_consumer", e);
  accepted("scope_read_only", e);
}

BOOST_AUTO_TEST_SUITE_END()

BOOST_AUTO_TEST_SUITE(VerifyTokenRefuses)

BOOST_AUTO_TEST_CASE(AlgNone) { expect_refused("alg_none", "alg \"none\" is refused"); }
BOOST_AUTO_TEST_CASE(Hs256WithTheJwksKeyBytes) {
  expect_refused("hs256_jwks_key", "alg \"HS256\" is refused; only RS256 (Maskinporten's");
}
BOOST_AUTO_TEST_CASE(Rs512) { expect_refused("rs512", "alg \"RS512\" is refused"); }
BOOST_AUTO_TEST_CASE(JwkHeader) { expect_refused("jwk_header", "bring its own key (jwk)"); }
BOOST_AUTO_TEST_CASE(JkuHeader) { expect_refused("jku_header", "bring its own key (jku)"); }
BOOST_AUTO_TEST_CASE(X5cHeader) { expect_refused("x5c_header", "bring its own key (x5c)"); }
BOOST_AUTO_TEST_CASE(NoKid) { expect_refused("no_kid", "the header has no kid"); }
BOOST_AUTO_TEST_CASE(UnknownKid) {
  expect_refused("unknown_kid", "no key with kid \"key-c\" in the issuer's key set");
}
BOOST_AUTO_TEST_CASE(OtherKeyUnderKnownKid) {
  expect_refused("other_key_known_kid", "the signature does not verify with the issuer's key \"key-a\"");
}
BOOST_AUTO_TEST_CASE(TamperedPayload) { expect_refused("tampered_payload", "does not verify"); }
BOOST_AUTO_TEST_CASE(Expired) {
  expect_refused("expired", "token expired at 2026-11-18T11:04:40Z (leeway 60 s)");
}
BOOST_AUTO_TEST_CASE(IatInTheFuture) { expect_refused("iat_future", "token issued in the future"); }
BOOST_AUTO_TEST_CASE(NbfInTheFuture) { expect_refused("nbf_future", "token not valid before"); }
BOOST_AUTO_TEST_CASE(MissingExp) { expect_refused("missing_exp", "no exp"); }
BOOST_AUTO_TEST_CASE(WrongIssuer) {
  expect_refused("wrong_issuer",
                 "iss is \"https://maskinporten.no/\"; only \"https://issuer.test/\" is accepted");
}
BOOST_AUTO_TEST_CASE(IssuerWithoutTrailingSlash) {
  expect_refused("issuer_without_slash", "iss is \"https://issuer.test\"");
}
BOOST_AUTO_TEST_CASE(MissingScope) {
  expect_refused("scope_read_only", "the token's scope lacks \"test:write\" (it grants \"test:read\")");
}
BOOST_AUTO_TEST_CASE(ScopeMatchedWholeNotByPrefix) {
  expect_refused("scope_prefix_only", "lacks \"test:write\"");
}
BOOST_AUTO_TEST_CASE(WrongConsumer) {
  expect_refused("other_consumer", "the token's consumer is organisation 991825827 (consumer.ID), not 910514458");
}
BOOST_AUTO_TEST_CASE(ConsentEnded) {
  expect_refused("consent_ended", "the consent ended at 2026-11-08T11:06:40Z (validTo)");
}
BOOST_AUTO_TEST_CASE(ConsentFromBadCheckDigit) {
  expect_refused("consent_from_bad_check_digit",
                 "the consent's from is not a valid national identity number");
}
BOOST_AUTO_TEST_CASE(ConsentWithBothMetadataSpellings) {
  expect_refused("consent_both_metadata", "both metadata and metaData");
}
BOOST_AUTO_TEST_CASE(SystemUserOrgWithoutIcd) {
  expect_refused("systemuser_bad_org", "systemuser_org.ID is not \"0192:\"");
}
BOOST_AUTO_TEST_CASE(DuplicateMember) { expect_refused("duplicate_iss", "repeats a member name"); }
BOOST_AUTO_TEST_CASE(DuplicateMemberInsideConsent) {
  expect_refused("duplicate_in_consent", "repeats a member name");
}
BOOST_AUTO_TEST_CASE(DeepNesting) { expect_refused("deep_nesting", "nests deeper than"); }
BOOST_AUTO_TEST_CASE(Oversized) { expect_refused("oversized", "at most 32768 are accepted"); }
BOOST_AUTO_TEST_CASE(TwoParts) { expect_refused("two_parts", "three base64url parts"); }

BOOST_AUTO_TEST_SUITE_END()

// aud (RFC 7519 §4.1.3), checked only when an audience is expected.
BOOST_AUTO_TEST_SUITE(VerifyAudience)

namespace {

std::string claims_with(const std::string& aud_member) {
  return R"({"iss":"https://issuer.test/","iat":1794999990,"exp":1795000120)" + aud_member + "}";
}

Expectations for_audience(const std::string& audience) {
  Expectations e;
  e.issuer = "https://issuer.test/";
  e.audience = audience;
  return e;
}

void audience_refused(const std::string& aud_member, const std::string& reason) {
  auto claims = check_token_claims(claims_with(aud_member), for_audience("https://api.test/"),
                                   Vectors::kNow);
  BOOST_TEST_REQUIRE(!claims.ok(), aud_member);
  BOOST_TEST(claims.error().code == ErrorCode::invalid_token);
  BOOST_TEST(contains(claims.error().message, reason), claims.error().message);
}

}  // namespace

BOOST_AUTO_TEST_CASE(MatchingStringIsAccepted) {
  auto claims = check_token_claims(claims_with(R"(,"aud":"https://api.test/")"),
                                   for_audience("https://api.test/"), Vectors::kNow);
  BOOST_TEST(claims.ok(), (claims.ok() ? "" : claims.error().message));
}

BOOST_AUTO_TEST_CASE(WrongAudIsRefused) {
  audience_refused(R"(,"aud":"https://other-api.test/")",
                   "aud is \"https://other-api.test/\"; only \"https://api.test/\" is accepted");
}

BOOST_AUTO_TEST_CASE(AudMatchedWholeNotByPrefix) {
  audience_refused(R"(,"aud":"https://api.test/more")", "aud is \"https://api.test/more\"");
}

BOOST_AUTO_TEST_CASE(MissingAudIsRefused) {
  audience_refused("", "the token has no aud claim; audience \"https://api.test/\" is required");
}

BOOST_AUTO_TEST_CASE(ArrayHoldingTheAudienceIsAccepted) {
  auto claims =
      check_token_claims(claims_with(R"(,"aud":["https://other.test/","https://api.test/"])"),
                         for_audience("https://api.test/"), Vectors::kNow);
  BOOST_TEST(claims.ok(), (claims.ok() ? "" : claims.error().message));
}

BOOST_AUTO_TEST_CASE(ArrayWithoutTheAudienceIsRefused) {
  audience_refused(R"(,"aud":["https://other.test/",7])",
                   "aud does not name \"https://api.test/\" (an array of 2)");
  audience_refused(R"(,"aud":[])", "aud does not name");
}

BOOST_AUTO_TEST_CASE(AudOfAnotherTypeIsRefused) {
  audience_refused(R"(,"aud":{"x":1})", "aud is neither a string nor an array of strings");
}

BOOST_AUTO_TEST_CASE(NoAudienceExpectedNothingChecked) {
  Expectations e;
  e.issuer = "https://issuer.test/";
  BOOST_TEST(check_token_claims(claims_with(""), e, Vectors::kNow).ok());
  BOOST_TEST(check_token_claims(claims_with(R"(,"aud":"https://x.test/")"), e, Vectors::kNow).ok());
}

BOOST_AUTO_TEST_SUITE_END()

BOOST_AUTO_TEST_SUITE(JwksCache)

BOOST_AUTO_TEST_CASE(UnknownKidFetchesOnceThenRefuses) {
  World world;
  auto cache = world.cache();
  auto r = verify_token(token("unknown_kid"), *cache, expected(), Vectors::kNow);
  BOOST_TEST_REQUIRE(!r.ok());
  BOOST_TEST(contains(r.error().message, "no key with kid \"key-c\""), r.error().message);
  BOOST_TEST(world.served == 2u);  // the first fetch, and one again for the unknown kid
  // Within the minute, an unknown kid does not fetch again.
  auto again = verify_token(token("unknown_kid"), *cache, expected(), Vectors::kNow);
  BOOST_TEST(!again.ok());
  BOOST_TEST(world.served == 2u);
  world.now += std::chrono::seconds(61);
  auto later = verify_token(token("unknown_kid"), *cache, expected(), Vectors::kNow);
  BOOST_TEST(!later.ok());
  BOOST_TEST(world.served == 3u);
}

BOOST_AUTO_TEST_CASE(KeyRotatedInIsAcceptedAfterTheFetch) {
  World world;
  auto cache = world.cache();
  BOOST_TEST_REQUIRE(verify_token(token("valid"), *cache, expected(), Vectors::kNow).ok());
  world.sets.push_back(read_text(vector_file("jwks-rotated.json")));
  auto r = verify_token(token("rotated_kid"), *cache, expected(), Vectors::kNow);
  BOOST_TEST(r.ok(), (r.ok() ? "" : r.error().message));
  BOOST_TEST(world.served == 2u);
  // The old key still serves after the switch-over.
  BOOST_TEST(verify_token(token("valid"), *cache, expected(), Vectors::kNow).ok());
  BOOST_TEST(world.served == 2u);
}

BOOST_AUTO_TEST_CASE(LastGoodSetServesWhileTheIssuerIsUnreachable) {
  World world;
  auto cache = world.cache();
  BOOST_TEST_REQUIRE(verify_token(token("valid"), *cache, expected(), Vectors::kNow).ok());
  world.reachable = false;
  world.now += std::chrono::hours(2);  // past refresh_after: fetched again, and that fails
  auto r = verify_token(token("valid"), *cache, expected(), Vectors::kNow);
  BOOST_TEST(r.ok(), (r.ok() ? "" : r.error().message));
}

BOOST_AUTO_TEST_CASE(TooStaleASetIsNotUsed) {
  World world;
  auto cache = world.cache();
  BOOST_TEST_REQUIRE(verify_token(token("valid"), *cache, expected(), Vectors::kNow).ok());
  world.reachable = false;
  world.now += std::chrono::hours(25);
  auto r = verify_token(token("valid"), *cache, expected(), Vectors::kNow);
  BOOST_TEST_REQUIRE(!r.ok());
  BOOST_TEST(r.error().code == ErrorCode::unavailable);
  BOOST_TEST(contains(r.error().message, "longer than the 86400 s a held set may serve"),
             r.error().message);
}

BOOST_AUTO_TEST_CASE(UnreachableIssuerWithoutASetIsUnavailable) {
  World world;
  world.reachable = false;
  auto cache = world.cache();
  auto r = verify_token(token("valid"), *cache, expected(), Vectors::kNow);
  BOOST_TEST_REQUIRE(!r.ok());
  BOOST_TEST(r.error().code == ErrorCode::unavailable);
  BOOST_TEST(contains(r.error().message, "cannot fetch the issuer's keys: connection refused"),
             r.error().message);
}

BOOST_AUTO_TEST_SUITE_END()

BOOST_AUTO_TEST_SUITE(JwksParse)

BOOST_AUTO_TEST_CASE(SmallKeyRefused) {
  auto keys = FileKeys::load(vector_file("jwks-small.json"));
  BOOST_TEST_REQUIRE(!keys.ok());
  BOOST_TEST(contains(keys.error().message, "has 1024 bits; at least 2048 expected"),
             keys.error().message);
}

BOOST_AUTO_TEST_CASE(RepeatedKidRefused) {
  auto set = Jwks::parse(
      R"({"keys":[{"kty":"RSA","kid":"a","n":"AQAB","e":"AQAB"},{"kty":"RSA","kid":"a","n":"AQAB","e":"AQAB"}]})",
      "test");
  BOOST_TEST_REQUIRE(!set.ok());
}

BOOST_AUTO_TEST_CASE(SetWithoutRsaSigningKeysRefused) {
  auto set = Jwks::parse(R"({"keys":[{"kty":"EC","kid":"e","crv":"P-256"}]})", "test");
  BOOST_TEST_REQUIRE(!set.ok());
  BOOST_TEST(contains(set.error().message, "holds no RSA signing key"), set.error().message);
}

BOOST_AUTO_TEST_CASE(NotJsonRefused) {
  auto set = Jwks::parse("{\"keys\":[", "test");
  BOOST_TEST_REQUIRE(!set.ok());
  BOOST_TEST(set.error().code == ErrorCode::invalid_config);
}

BOOST_AUTO_TEST_SUITE_END()
