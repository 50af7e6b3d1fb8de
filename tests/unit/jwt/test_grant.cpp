#include <boost/test/unit_test.hpp>

#include <openssl/evp.h>
#include <openssl/x509.h>
#include <rapidjson/document.h>

#include <atomic>
#include <memory>
#include <regex>
#include <set>
#include <string>
#include <vector>

#include "support/test_support.h"
#include "agent/jwt/grant.h"
#include "agent/jwt/jose.h"
#include "common/jws_digest.h"
#include "common/openssl_handles.h"

using namespace mpa;
using mpa::test::contains;

namespace {

Handle<EVP_PKEY> make_rsa_key() {
  Handle<EVP_PKEY> key(EVP_PKEY_Q_keygen(nullptr, nullptr, "RSA", static_cast<size_t>(2048)));
  BOOST_TEST_REQUIRE(key != nullptr);
  return key;
}

// A self-signed certificate for `key`, DER-encoded.
Bytes make_certificate(EVP_PKEY* key, const char* common_name, long serial) {
  Handle<X509> cert(X509_new());
  BOOST_TEST_REQUIRE(cert != nullptr);
  BOOST_TEST_REQUIRE(X509_set_version(cert.get(), 2) == 1);
  BOOST_TEST_REQUIRE(ASN1_INTEGER_set(X509_get_serialNumber(cert.get()), serial) == 1);
  BOOST_TEST_REQUIRE(X509_gmtime_adj(X509_getm_notBefore(cert.get()), 0) != nullptr);
  BOOST_TEST_REQUIRE(X509_gmtime_adj(X509_getm_notAfter(cert.get()), 3600) != nullptr);
  BOOST_TEST_REQUIRE(X509_set_pubkey(cert.get(), key) == 1);
  X509_NAME* name = X509_get_subject_name(cert.get());
  BOOST_TEST_REQUIRE(X509_NAME_add_entry_by_txt(
                         name, "CN", MBSTRING_ASC,
                         reinterpret_cast<const unsigned char*>(common_name), -1, -1, 0) == 1);
  BOOST_TEST_REQUIRE(X509_set_issuer_name(cert.get(), name) == 1);
  BOOST_TEST_REQUIRE(X509_sign(cert.get(), key, EVP_sha256()) > 0);
  unsigned char* der = nullptr;
  const int length = i2d_X509(cert.get(), &der);
  BOOST_TEST_REQUIRE(length > 0);
  Bytes out(der, der + length);
  OPENSSL_free(der);
  return out;
}

// One key and two certificates for the whole run: RSA key generation is slow.
struct TestPki {
  Handle<EVP_PKEY> key = make_rsa_key();
  Bytes leaf = make_certificate(key.get(), "Virksomhet Test leaf", 1);
  Bytes intermediate = make_certificate(key.get(), "Virksomhet Test intermediate", 2);

  static const TestPki& get() {
    static const TestPki pki;
    return pki;
  }
};

// Signs in memory as the token would, and counts what it was asked.
class FakeSigner final : public GrantSigner {
 public:
  bool fail = false;
  std::atomic<int> sign_calls{0};

  FakeSigner() : chain{TestPki::get().leaf, TestPki::get().intermediate} {}

  Result<Bytes> sign(JwsAlg alg, std::string_view data) override {
    ++sign_calls;
    if (fail) return make_error(ErrorCode::hsm_error, "the token is not present");
    Handle<EVP_MD_CTX> ctx(EVP_MD_CTX_new());
    if (ctx == nullptr || EVP_DigestSignInit(ctx.get(), nullptr, digest_for(alg), nullptr,
                                             TestPki::get().key.get()) != 1) {
      return make_error(ErrorCode::hsm_error, "EVP_DigestSignInit failed");
    }
    std::size_t length = 0;
    const auto* input = reinterpret_cast<const unsigned char*>(data.data());
    if (EVP_DigestSign(ctx.get(), nullptr, &length, input, data.size()) != 1) {
      return make_error(ErrorCode::hsm_error, "EVP_DigestSign (size) failed");
    }
    Bytes signature(length);
    if (EVP_DigestSign(ctx.get(), signature.data(), &length, input, data.size()) != 1) {
      return make_error(ErrorCode::hsm_error, "EVP_DigestSign failed");
    }
    signature.resize(length);
    return signature;
  }

  const std::vector<Bytes>& certificate_chain() const override { return chain; }
  SignerInfo info() const override { return {}; }

  std::vector<Bytes> chain;
};

constexpr std::int64_t kNow = 1795391800;

ClientConfig test_client() {
  ClientConfig client;
  client.name = "default";
  client.client_id = "0ee1e2a9-7d3c-4f5e-9a1b-2c3d4e5f6a7b";
  client.issuer = "https://test.maskinporten.no/";
  client.token_endpoint = "https://test.maskinporten.no/token";
  client.scopes = {"altinn:enduser", "altinn:instances.read",
                   "altinn:authentication/systemuser.request.write"};
  return client;
}

GrantRequest request_for(std::vector<std::string> scopes) {
  GrantRequest request;
  request.scopes = std::move(scopes);
  return request;
}

GrantRequest enduser_request() { return request_for({"altinn:enduser"}); }

const char* kSystemUserDetails =
    R"([{"type":"urn:altinn:systemuser","systemuser_org":)"
    R"({"authority":"iso6523-actorid-upis","ID":"0192:999888777"}}])";

struct Fixture {
  std::shared_ptr<FakeSigner> signer = std::make_shared<FakeSigner>();
  ClientConfig client = test_client();

  Result<SignedGrant> build(const GrantRequest& request) const {
    return GrantBuilder(client, signer).build(request, kNow);
  }

  SignedGrant built(const GrantRequest& request) const {
    auto grant = build(request);
    BOOST_TEST_REQUIRE(grant.ok(), (grant.ok() ? "" : grant.error().message));
    return *grant;
  }

  // A refusal with this code whose message says `words`.
  void expect_refusal(const GrantRequest& request, ErrorCode code, const std::string& words) const {
    const Error error = refused(request);
    BOOST_TEST((error.code == code));
    BOOST_TEST(error.message.find(words) != std::string::npos, error.message);
  }

  // The error of a request that must be refused without anything signed.
  Error refused(const GrantRequest& request) const {
    auto grant = build(request);
    BOOST_TEST_REQUIRE(!grant.ok(), "expected a refusal");
    BOOST_TEST(signer->sign_calls == 0, "the signer was asked before the request was checked");
    return grant.error();
  }
};

// --- taking a JWT apart, as a relying party would ---------------------------------

std::vector<std::string> split_jwt(const std::string& jwt) {
  std::vector<std::string> parts;
  std::size_t start = 0;
  for (std::size_t dot = jwt.find('.'); dot != std::string::npos; dot = jwt.find('.', start)) {
    parts.push_back(jwt.substr(start, dot - start));
    start = dot + 1;
  }
  parts.push_back(jwt.substr(start));
  return parts;
}

std::string decoded_part(const std::string& jwt, std::size_t index) {
  const auto parts = split_jwt(jwt);
  BOOST_TEST_REQUIRE(parts.size() == 3u);
  auto decoded = jose::base64url_decode(parts[index]);
  BOOST_TEST_REQUIRE(decoded.has_value(), "part " << index << " is not base64url");
  return *decoded;
}

rapidjson::Document json_part(const std::string& jwt, std::size_t index) {
  const std::string text = decoded_part(jwt, index);
  rapidjson::Document document;
  document.Parse(text.data(), text.size());
  BOOST_TEST_REQUIRE(!document.HasParseError(), "part " << index << " is not JSON: " << text);
  BOOST_TEST_REQUIRE(document.IsObject());
  return document;
}

rapidjson::Document header_of(const SignedGrant& grant) { return json_part(grant.jwt, 0); }
rapidjson::Document body_of(const SignedGrant& grant) { return json_part(grant.jwt, 1); }

std::set<std::string> member_names(const rapidjson::Value& object) {
  std::set<std::string> names;
  for (const auto& member : object.GetObject()) names.insert(member.name.GetString());
  return names;
}

std::string string_at(const rapidjson::Value& object, const char* name) {
  BOOST_TEST_REQUIRE(object.HasMember(name), "no member " << name);
  BOOST_TEST_REQUIRE(object[name].IsString(), name << " is not a string");
  return object[name].GetString();
}

// Standard (padded) base64, as in x5c (RFC 7515 §4.1.6).
Bytes base64_decode(const std::string& text) {
  Bytes out(text.size() / 4 * 3 + 3);
  const int length = EVP_DecodeBlock(out.data(), reinterpret_cast<const unsigned char*>(text.data()),
                                     static_cast<int>(text.size()));
  BOOST_TEST_REQUIRE(length >= 0, "not base64: " << text);
  std::size_t padding = 0;
  for (auto it = text.rbegin(); it != text.rend() && *it == '='; ++it) ++padding;
  out.resize(static_cast<std::size_t>(length) - padding);
  return out;
}

Bytes x5c_entry(const rapidjson::Value& header, rapidjson::SizeType index) {
  return base64_decode(header["x5c"][index].GetString());
}

// Checks the signature with the public key of the certificate in the header's
// x5c[0], using the digest `md`.
bool signature_verifies(const SignedGrant& grant, const EVP_MD* md) {
  const auto parts = split_jwt(grant.jwt);
  const std::string signing_input = parts[0] + "." + parts[1];
  const std::string signature = decoded_part(grant.jwt, 2);
  const Bytes der = x5c_entry(header_of(grant), 0);
  const unsigned char* p = der.data();
  Handle<X509> cert(d2i_X509(nullptr, &p, static_cast<long>(der.size())));
  BOOST_TEST_REQUIRE(cert != nullptr);
  Handle<EVP_MD_CTX> ctx(EVP_MD_CTX_new());
  BOOST_TEST_REQUIRE(EVP_DigestVerifyInit(ctx.get(), nullptr, md, nullptr,
                                          X509_get0_pubkey(cert.get())) == 1);
  return EVP_DigestVerify(ctx.get(), reinterpret_cast<const unsigned char*>(signature.data()),
                          signature.size(),
                          reinterpret_cast<const unsigned char*>(signing_input.data()),
                          signing_input.size()) == 1;
}

// check_grant_request on a request that only differs from a good one in
// its authorization_details.
Status check_details(std::string_view json) {
  GrantRequest request = enduser_request();
  request.authorization_details = std::string(json);
  return check_grant_request(request, test_client());
}

// The message check_details gives; fails the test if it accepts.
std::string details_refusal(std::string_view json) {
  auto checked = check_details(json);
  BOOST_TEST_REQUIRE(!checked.ok(), "expected a refusal of " << json);
  BOOST_TEST((checked.error().code == ErrorCode::invalid_request));
  return checked.error().message;
}

std::string system_user_with_org(const std::string& org_object) {
  return R"([{"type":"urn:altinn:systemuser","systemuser_org":)" + org_object + "}]";
}

}  // namespace

// ================================================================================

BOOST_FIXTURE_TEST_SUITE(GrantHeader, Fixture)

BOOST_AUTO_TEST_CASE(HeaderWithX5cHasExactlyAlgAndLeafOnly) {
  const auto header = header_of(built(enduser_request()));
  BOOST_TEST((member_names(header) == std::set<std::string>{"alg", "x5c"}));
  BOOST_TEST(string_at(header, "alg") == "RS256");
  BOOST_TEST_REQUIRE(header["x5c"].IsArray());
  BOOST_TEST_REQUIRE(header["x5c"].Size() == 1u);
  BOOST_TEST((x5c_entry(header, 0) == TestPki::get().leaf));
}

BOOST_AUTO_TEST_CASE(X5cChainCarriesLeafThenIntermediate) {
  client.x5c_chain = true;
  const auto header = header_of(built(enduser_request()));
  BOOST_TEST_REQUIRE(header["x5c"].Size() == 2u);
  BOOST_TEST((x5c_entry(header, 0) == TestPki::get().leaf));
  BOOST_TEST((x5c_entry(header, 1) == TestPki::get().intermediate));
}

BOOST_AUTO_TEST_CASE(X5cIsStandardBase64NotBase64Url) {
  const auto header = header_of(built(enduser_request()));
  const std::string x5c = header["x5c"][0].GetString();
  BOOST_TEST(x5c == jose::base64_encode(TestPki::get().leaf));
  BOOST_TEST(x5c.find_first_of("-_") == std::string::npos);
}

BOOST_AUTO_TEST_CASE(HeaderWithKidHasNoX5c) {
  client.kid = "my-registered-key";
  client.x5c_chain = true;
  const auto header = header_of(built(enduser_request()));
  BOOST_TEST((member_names(header) == std::set<std::string>{"alg", "kid"}));
  BOOST_TEST(string_at(header, "kid") == "my-registered-key");
}

BOOST_AUTO_TEST_CASE(HeaderNamesTheConfiguredAlg) {
  client.alg = JwsAlg::RS512;
  BOOST_TEST(string_at(header_of(built(enduser_request())), "alg") == "RS512");
}

BOOST_AUTO_TEST_CASE(RefusesX5cWhenTheSignerHasNoCertificate) {
  signer->chain.clear();
  auto grant = build(enduser_request());
  BOOST_TEST_REQUIRE(!grant.ok());
  BOOST_TEST((grant.error().code == ErrorCode::hsm_error));
  BOOST_TEST(contains(grant.error().message, "kid"));
  BOOST_TEST(signer->sign_calls == 0);
}

BOOST_AUTO_TEST_SUITE_END()

// ================================================================================

BOOST_FIXTURE_TEST_SUITE(GrantClaims, Fixture)

BOOST_AUTO_TEST_CASE(MinimalGrantHasExactlyTheRequiredClaims) {
  const auto body = body_of(built(enduser_request()));
  BOOST_TEST((member_names(body) ==
              std::set<std::string>{"aud", "iss", "iat", "exp", "jti", "scope"}));
}

BOOST_AUTO_TEST_CASE(FullGrantHasOnlyWhitelistedClaims) {
  GrantRequest request = request_for({"altinn:authentication/systemuser.request.write"});
  request.resource = {"https://tt02.altinn.no"};
  request.consumer_org = "999888777";
  request.pid = "01017012345";
  request.authorization_details = kSystemUserDetails;
  const auto body = body_of(built(request));
  BOOST_TEST((member_names(body) ==
              std::set<std::string>{"aud", "iss", "iat", "exp", "jti", "scope", "resource",
                                    "consumer_org", "pid", "authorization_details"}));
  BOOST_TEST(string_at(body, "consumer_org") == "999888777");
  BOOST_TEST(string_at(body, "pid") == "01017012345");
}

BOOST_AUTO_TEST_CASE(IssOnBehalfOfIsCarriedAsGiven) {
  GrantRequest request = enduser_request();
  request.iss_onbehalfof = "kunde-42";
  const auto body = body_of(built(request));
  BOOST_TEST(string_at(body, "iss_onbehalfof") == "kunde-42");
  BOOST_TEST(!body.HasMember("consumer_org"));
}

BOOST_AUTO_TEST_CASE(AudIsTheIssuerWithTrailingSlashNotTheTokenEndpoint) {
  const auto body = body_of(built(enduser_request()));
  BOOST_TEST(string_at(body, "aud") == "https://test.maskinporten.no/");
  BOOST_TEST(string_at(body, "aud") != client.token_endpoint);
}

BOOST_AUTO_TEST_CASE(IssIsTheClientId) {
  BOOST_TEST(string_at(body_of(built(enduser_request())), "iss") == client.client_id);
}

BOOST_AUTO_TEST_CASE(IatIsNowAndExpIs120SecondsLater) {
  const SignedGrant grant = built(enduser_request());
  const auto body = body_of(grant);
  BOOST_TEST_REQUIRE(body["iat"].IsInt64());
  BOOST_TEST_REQUIRE(body["exp"].IsInt64());
  BOOST_TEST(body["iat"].GetInt64() == kNow);
  BOOST_TEST(body["exp"].GetInt64() - body["iat"].GetInt64() == 120);
  BOOST_TEST(grant.iat == kNow);
  BOOST_TEST(grant.exp == kNow + 120);
}

BOOST_AUTO_TEST_CASE(CapsLifetimeAt120SecondsEvenIfConfiguredLonger) {
  client.grant_lifetime_seconds = 600;
  const auto body = body_of(built(enduser_request()));
  BOOST_TEST(body["exp"].GetInt64() - body["iat"].GetInt64() == 120);
}

BOOST_AUTO_TEST_CASE(KeepsAShorterConfiguredLifetime) {
  client.grant_lifetime_seconds = 60;
  const SignedGrant grant = built(enduser_request());
  BOOST_TEST(grant.exp - grant.iat == 60);
  BOOST_TEST(body_of(grant)["exp"].GetInt64() == kNow + 60);
}

BOOST_AUTO_TEST_CASE(TwoGrantsHaveDistinctUuidV4Jti) {
  const std::regex uuid_v4(
      "^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$");
  const SignedGrant first = built(enduser_request());
  const SignedGrant second = built(enduser_request());
  BOOST_TEST(first.jti != second.jti);
  BOOST_TEST(first.jwt != second.jwt);
  for (const SignedGrant* grant : {&first, &second}) {
    BOOST_TEST(std::regex_match(grant->jti, uuid_v4), grant->jti);
    BOOST_TEST(string_at(body_of(*grant), "jti") == grant->jti);
  }
}

BOOST_AUTO_TEST_CASE(ScopesAreJoinedWithOneSpace) {
  const auto body = body_of(built(request_for({"altinn:enduser", "altinn:instances.read"})));
  BOOST_TEST(string_at(body, "scope") == "altinn:enduser altinn:instances.read");
}

BOOST_AUTO_TEST_CASE(ResourceIsAnArrayOfStrings) {
  GrantRequest request = enduser_request();
  request.resource = {"https://tt02.altinn.no", "urn:altinn:resource:example"};
  const auto body = body_of(built(request));
  BOOST_TEST_REQUIRE(body["resource"].IsArray());
  BOOST_TEST_REQUIRE(body["resource"].Size() == 2u);
  BOOST_TEST(std::string(body["resource"][0].GetString()) == "https://tt02.altinn.no");
  BOOST_TEST(std::string(body["resource"][1].GetString()) == "urn:altinn:resource:example");
}

BOOST_AUTO_TEST_CASE(SingleResourceIsStillAnArray) {
  GrantRequest request = enduser_request();
  request.resource = {"https://tt02.altinn.no"};
  BOOST_TEST(body_of(built(request))["resource"].IsArray());
}

BOOST_AUTO_TEST_CASE(AuthorizationDetailsIsAJsonValueNotAString) {
  GrantRequest request = request_for({"altinn:authentication/systemuser.request.write"});
  request.authorization_details = kSystemUserDetails;
  const auto body = body_of(built(request));
  const rapidjson::Value& details = body["authorization_details"];
  BOOST_TEST_REQUIRE(details.IsArray());
  BOOST_TEST_REQUIRE(details.Size() == 1u);
  BOOST_TEST(string_at(details[0], "type") == "urn:altinn:systemuser");
  BOOST_TEST(string_at(details[0]["systemuser_org"], "ID") == "0192:999888777");
}

BOOST_AUTO_TEST_CASE(ConsentDetailsAreCarried) {
  GrantRequest request = enduser_request();
  request.authorization_details =
      R"([{"type":"urn:altinn:consent","id":"77ed8698-e619-4066-9eb4-5c1eb3f165a1",)"
      R"("from":"urn:altinn:person:identifier-no:21818297804"}])";
  const auto body = body_of(built(request));
  BOOST_TEST(string_at(body["authorization_details"][0], "id") ==
             "77ed8698-e619-4066-9eb4-5c1eb3f165a1");
}

BOOST_AUTO_TEST_CASE(ValuesWithQuotesAreEscapedNotInjected) {
  client.client_id = R"(id","scope":"evil)";
  const auto body = body_of(built(enduser_request()));
  BOOST_TEST(string_at(body, "iss") == client.client_id);
  BOOST_TEST(string_at(body, "scope") == "altinn:enduser");
}

BOOST_AUTO_TEST_SUITE_END()

// ================================================================================

BOOST_FIXTURE_TEST_SUITE(GrantSignature, Fixture)

BOOST_AUTO_TEST_CASE(JwtIsThreeUnpaddedBase64UrlParts) {
  const SignedGrant grant = built(enduser_request());
  const auto parts = split_jwt(grant.jwt);
  BOOST_TEST_REQUIRE(parts.size() == 3u);
  for (const std::string& part : parts) {
    BOOST_TEST(!part.empty());
    BOOST_TEST(part.find_first_of("=+/") == std::string::npos, part);
  }
}

BOOST_AUTO_TEST_CASE(SignsTheHeaderDotBodyOnce) {
  built(enduser_request());
  BOOST_TEST(signer->sign_calls == 1);
}

BOOST_AUTO_TEST_CASE(Rs256SignatureVerifiesWithTheCertificateKey) {
  const SignedGrant grant = built(enduser_request());
  BOOST_TEST(signature_verifies(grant, EVP_sha256()));
}

BOOST_AUTO_TEST_CASE(Rs384UsesSha384) {
  client.alg = JwsAlg::RS384;
  const SignedGrant grant = built(enduser_request());
  BOOST_TEST(string_at(header_of(grant), "alg") == "RS384");
  BOOST_TEST(signature_verifies(grant, EVP_sha384()));
  BOOST_TEST(!signature_verifies(grant, EVP_sha256()));
}

BOOST_AUTO_TEST_CASE(Rs512UsesSha512) {
  client.alg = JwsAlg::RS512;
  const SignedGrant grant = built(enduser_request());
  BOOST_TEST(string_at(header_of(grant), "alg") == "RS512");
  BOOST_TEST(signature_verifies(grant, EVP_sha512()));
  BOOST_TEST(!signature_verifies(grant, EVP_sha384()));
}

BOOST_AUTO_TEST_CASE(TamperedBodyDoesNotVerify) {
  SignedGrant grant = built(enduser_request());
  const auto parts = split_jwt(grant.jwt);
  std::string body = decoded_part(grant.jwt, 1);
  body.replace(body.find("altinn:enduser"), 14, "altinn:enduseR");
  grant.jwt = parts[0] + "." + jose::base64url_encode(std::string_view(body)) + "." + parts[2];
  BOOST_TEST(!signature_verifies(grant, EVP_sha256()));
}

BOOST_AUTO_TEST_CASE(SignerFailurePassesThroughAsHsmError) {
  signer->fail = true;
  auto grant = build(enduser_request());
  BOOST_TEST_REQUIRE(!grant.ok());
  BOOST_TEST((grant.error().code == ErrorCode::hsm_error));
  BOOST_TEST(grant.error().message == "the token is not present");
  BOOST_TEST(signer->sign_calls == 1);
}

BOOST_AUTO_TEST_SUITE_END()

// ================================================================================

BOOST_FIXTURE_TEST_SUITE(GrantRequestChecks, Fixture)

BOOST_AUTO_TEST_CASE(RefusesScopeNotInClientListBeforeSigning) {
  const Error error = refused(request_for({"altinn:enduser", "skatteetaten:secret"}));
  BOOST_TEST((error.code == ErrorCode::invalid_scope));
  BOOST_TEST(error.message ==
             R"(scope "skatteetaten:secret" is not in client "default"'s scopes; it may ask for )"
             "altinn:enduser, altinn:instances.read, altinn:authentication/systemuser.request.write");
}

BOOST_AUTO_TEST_CASE(RefusedScopeListsAtMostTwentyOfTheClientsScopes) {
  ClientConfig many = test_client();
  many.scopes.clear();
  for (int i = 0; i < 25; ++i) many.scopes.push_back("scope:" + std::to_string(i));
  const Status checked = check_grant_request(request_for({"other:scope"}), many);
  BOOST_TEST_REQUIRE(!checked.ok());
  BOOST_TEST(checked.error().message.find("scope:19 and 5 more") != std::string::npos,
             checked.error().message);
  BOOST_TEST(checked.error().message.find("scope:20") == std::string::npos);
}

BOOST_AUTO_TEST_CASE(CheckGrantRequestRefusesWhatBuildRefusesWithoutASigner) {
  GrantRequest bad_resource = enduser_request();
  bad_resource.resource = {"not a uri"};
  GrantRequest both_parties = enduser_request();
  both_parties.consumer_org = "999888777";
  both_parties.iss_onbehalfof = "my-org";
  GrantRequest bad_details = enduser_request();
  bad_details.authorization_details = "{}";
  for (const GrantRequest& request :
       {request_for({"skatteetaten:secret"}), request_for({}), bad_resource, both_parties,
        bad_details}) {
    const Status checked = check_grant_request(request, client);
    BOOST_TEST_REQUIRE(!checked.ok());
    BOOST_TEST(checked.error().message == refused(request).message);
  }
  BOOST_TEST(check_grant_request(enduser_request(), client).ok());
  BOOST_TEST(signer->sign_calls == 0);
}

BOOST_AUTO_TEST_CASE(RefusesEmptyScopeList) {
  const Error error = refused(request_for({}));
  BOOST_TEST((error.code == ErrorCode::invalid_request));
  BOOST_TEST(contains(error.message, "scope"));
}

BOOST_AUTO_TEST_CASE(RefusesScopeWithSpaceEvenIfJoinedScopesAreAllowed) {
  // "a b" would become two scopes once joined: refused as one bad scope.
  const Error error = refused(request_for({"altinn:enduser altinn:instances.read"}));
  BOOST_TEST((error.code == ErrorCode::invalid_scope));
  BOOST_TEST(contains(error.message, "altinn:enduser altinn:instances.read"));
}

BOOST_AUTO_TEST_CASE(RefusesEmptyScopeString) {
  expect_refusal(request_for({""}), ErrorCode::invalid_scope, R"(is not a valid scope (RFC 6749 §3.3)");
}

// The one quoting rule (common/text.h): a control character shows as '?'.
BOOST_AUTO_TEST_CASE(RefusesScopeWithControlCharacterAndEscapesIt) {
  client.scopes.push_back("altinn:enduser\n");
  const Error error = refused(request_for({"altinn:enduser\n"}));
  BOOST_TEST((error.code == ErrorCode::invalid_scope));
  BOOST_TEST(contains(error.message, R"("altinn:enduser?")"), error.message);
  BOOST_TEST(!contains(error.message, "\n"));
}

BOOST_AUTO_TEST_CASE(RefusesScopeWithQuote) {
  client.scopes.push_back("altinn:\"x");
  expect_refusal(request_for({"altinn:\"x"}), ErrorCode::invalid_scope, R"(is not a valid scope (RFC 6749 §3.3)");
}

BOOST_AUTO_TEST_CASE(RefusesTheSameScopeTwice) {
  const Error error = refused(request_for({"altinn:enduser", "altinn:enduser"}));
  BOOST_TEST((error.code == ErrorCode::invalid_request));
  BOOST_TEST(contains(error.message, "twice"));
}

BOOST_AUTO_TEST_CASE(RefusesConsumerOrgOfEightDigits) {
  GrantRequest request = enduser_request();
  request.consumer_org = "99988877";
  const Error error = refused(request);
  BOOST_TEST((error.code == ErrorCode::invalid_request));
  BOOST_TEST(contains(error.message, "consumer_org"));
}

BOOST_AUTO_TEST_CASE(RefusesConsumerOrgOfTenDigits) {
  GrantRequest request = enduser_request();
  request.consumer_org = "9998887776";
  expect_refusal(request, ErrorCode::invalid_request, R"(consumer_org "9998887776" is not an organisation number (exactly 9 digits))");
}

BOOST_AUTO_TEST_CASE(RefusesConsumerOrgWithLetters) {
  GrantRequest request = enduser_request();
  request.consumer_org = "99988877a";
  expect_refusal(request, ErrorCode::invalid_request, R"(consumer_org "99988877a" is not an organisation number (exactly 9 digits))");
}

BOOST_AUTO_TEST_CASE(RefusesConsumerOrgWithSpaces) {
  GrantRequest request = enduser_request();
  request.consumer_org = "999 888 777";
  expect_refusal(request, ErrorCode::invalid_request, R"(consumer_org "999 888 777" is not an organisation number (exactly 9 digits))");
}

BOOST_AUTO_TEST_CASE(RefusesConsumerOrgTogetherWithIssOnBehalfOf) {
  GrantRequest request = enduser_request();
  request.consumer_org = "999888777";
  request.iss_onbehalfof = "kunde-42";
  const Error error = refused(request);
  BOOST_TEST((error.code == ErrorCode::invalid_request));
  BOOST_TEST(contains(error.message, "iss_onbehalfof"));
  BOOST_TEST(contains(error.message, "consumer_org"));
  BOOST_TEST(contains(error.message, "only one"));
}

BOOST_AUTO_TEST_CASE(RefusesEmptyIssOnBehalfOf) {
  GrantRequest request = enduser_request();
  request.iss_onbehalfof = "";
  expect_refusal(request, ErrorCode::invalid_request, R"(iss_onbehalfof "" must be 1 to 255 printable ASCII characters)");
}

BOOST_AUTO_TEST_CASE(RefusesIssOnBehalfOfWithControlCharacter) {
  GrantRequest request = enduser_request();
  request.iss_onbehalfof = "kunde\r\n42";
  expect_refusal(request, ErrorCode::invalid_request, R"(must be 1 to 255 printable ASCII characters)");
}

BOOST_AUTO_TEST_CASE(RefusesOverlongIssOnBehalfOf) {
  GrantRequest request = enduser_request();
  request.iss_onbehalfof = std::string(256, 'a');
  expect_refusal(request, ErrorCode::invalid_request, R"(must be 1 to 255 printable ASCII characters)");
}

BOOST_AUTO_TEST_CASE(RefusesPidOfTenDigits) {
  GrantRequest request = enduser_request();
  request.pid = "0101701234";
  const Error error = refused(request);
  BOOST_TEST((error.code == ErrorCode::invalid_request));
  BOOST_TEST(contains(error.message, "pid"));
  // An identity number is personal data: it is not repeated back.
  BOOST_TEST(!contains(error.message, "0101701234"));
}

BOOST_AUTO_TEST_CASE(RefusesPidWithLetters) {
  GrantRequest request = enduser_request();
  request.pid = "0101701234x";
  expect_refusal(request, ErrorCode::invalid_request, R"(pid must be a national identity number (exactly 11 digits))");
}

BOOST_AUTO_TEST_CASE(RefusesRelativeResource) {
  GrantRequest request = enduser_request();
  request.resource = {"/api/v1"};
  const Error error = refused(request);
  BOOST_TEST((error.code == ErrorCode::invalid_request));
  BOOST_TEST(contains(error.message, "/api/v1"));
}

BOOST_AUTO_TEST_CASE(RefusesResourceWithOtherScheme) {
  GrantRequest request = enduser_request();
  request.resource = {"ftp://tt02.altinn.no"};
  expect_refusal(request, ErrorCode::invalid_request, R"(resource "ftp://tt02.altinn.no" is not an absolute https://, http:// or urn: URI)");
}

BOOST_AUTO_TEST_CASE(RefusesResourceWithoutHost) {
  GrantRequest request = enduser_request();
  request.resource = {"https://"};
  expect_refusal(request, ErrorCode::invalid_request, R"(resource "https://" is not an absolute https://, http:// or urn: URI)");
}

BOOST_AUTO_TEST_CASE(RefusesResourceWithWhitespace) {
  GrantRequest request = enduser_request();
  request.resource = {"https://tt02.altinn.no/a b"};
  expect_refusal(request, ErrorCode::invalid_request, R"(is not an absolute https://, http:// or urn: URI without spaces or fragment)");
}

BOOST_AUTO_TEST_CASE(RefusesResourceWithFragment) {
  GrantRequest request = enduser_request();
  request.resource = {"https://tt02.altinn.no/#x"};
  expect_refusal(request, ErrorCode::invalid_request, R"(is not an absolute https://, http:// or urn: URI without spaces or fragment)");
}

BOOST_AUTO_TEST_CASE(RefusesUrnWithoutNamespaceSpecificPart) {
  GrantRequest request = enduser_request();
  request.resource = {"urn:altinn"};
  expect_refusal(request, ErrorCode::invalid_request, R"(resource "urn:altinn" is not an absolute https://, http:// or urn: URI)");
}

BOOST_AUTO_TEST_CASE(RefusesEmptyResource) {
  GrantRequest request = enduser_request();
  request.resource = {""};
  expect_refusal(request, ErrorCode::invalid_request, R"(resource "" is not an absolute https://, http:// or urn: URI)");
}

BOOST_AUTO_TEST_CASE(RefusesOverlongResource) {
  GrantRequest request = enduser_request();
  request.resource = {"https://tt02.altinn.no/" + std::string(2048, 'a')};
  expect_refusal(request, ErrorCode::invalid_request, R"((at most 2048 characters))");
}

BOOST_AUTO_TEST_CASE(RefusesSeventeenResources) {
  GrantRequest request = enduser_request();
  request.resource.assign(17, "https://tt02.altinn.no");
  const Error error = refused(request);
  BOOST_TEST((error.code == ErrorCode::invalid_request));
  BOOST_TEST(contains(error.message, "16"));
}

BOOST_AUTO_TEST_CASE(RefusesBadAuthorizationDetailsBeforeSigning) {
  GrantRequest request = enduser_request();
  request.authorization_details = R"([{"type":"urn:example:other"}])";
  expect_refusal(request, ErrorCode::invalid_request, R"(authorization_details[0] has type "urn:example:other"; known types are urn:altinn:systemuser and urn:altinn:consent)");
}

BOOST_AUTO_TEST_CASE(RefusesIssuerWithoutTrailingSlash) {
  client.issuer = "https://test.maskinporten.no";
  expect_refusal(enduser_request(), ErrorCode::invalid_config, R"(the grant's aud must be the issuer ending in '/')");
}

BOOST_AUTO_TEST_CASE(RefusesEmptyClientId) {
  client.client_id.clear();
  expect_refusal(enduser_request(), ErrorCode::invalid_config, R"(has no client_id (the grant's iss))");
}

BOOST_AUTO_TEST_CASE(RefusesEmptyKid) {
  client.kid = "";
  expect_refusal(enduser_request(), ErrorCode::invalid_config, R"(has an empty kid)");
}

BOOST_AUTO_TEST_CASE(RefusesNonPositiveLifetime) {
  client.grant_lifetime_seconds = 0;
  expect_refusal(enduser_request(), ErrorCode::invalid_config, R"(s; it must be 1 to 120)");
}

BOOST_AUTO_TEST_SUITE_END()

// ================================================================================

BOOST_AUTO_TEST_SUITE(AuthorizationDetails)

BOOST_AUTO_TEST_CASE(AcceptsSystemUser) {
  BOOST_TEST(check_details(kSystemUserDetails).ok());
}

BOOST_AUTO_TEST_CASE(AcceptsConsentWithIdAndFrom) {
  BOOST_TEST(check_details(
                 R"([{"type":"urn:altinn:consent","id":"77ed8698-e619-4066-9eb4-5c1eb3f165a1",)"
                 R"("from":"urn:altinn:person:identifier-no:21818297804"}])")
                 .ok());
}

BOOST_AUTO_TEST_CASE(AcceptsWhitespaceAroundTheValue) {
  BOOST_TEST(check_details(std::string(" ") + kSystemUserDetails + "\n ").ok());
}

BOOST_AUTO_TEST_CASE(RefusesAnObjectInsteadOfAnArray) {
  const std::string message = details_refusal(
      R"({"type":"urn:altinn:systemuser","systemuser_org":)"
      R"({"authority":"iso6523-actorid-upis","ID":"0192:999888777"}})");
  BOOST_TEST(contains(message, "array"));
}

BOOST_AUTO_TEST_CASE(RefusesAJsonString) {
  details_refusal(R"("[{\"type\":\"urn:altinn:systemuser\"}]")");
}

BOOST_AUTO_TEST_CASE(RefusesAnEmptyArray) { details_refusal("[]"); }

BOOST_AUTO_TEST_CASE(RefusesAnEntryThatIsNotAnObject) {
  BOOST_TEST(contains(details_refusal(R"(["urn:altinn:systemuser"])"), "[0]"));
}

BOOST_AUTO_TEST_CASE(RefusesAnObjectWithoutType) {
  BOOST_TEST(contains(details_refusal(R"([{"id":"x"}])"), "\"type\""));
}

BOOST_AUTO_TEST_CASE(RefusesANonStringType) {
  details_refusal(R"([{"type":42}])");
}

BOOST_AUTO_TEST_CASE(RefusesAnUnknownTypeAndNamesIt) {
  BOOST_TEST(contains(details_refusal(R"([{"type":"urn:example:other"}])"),
                      "\"urn:example:other\""));
}

BOOST_AUTO_TEST_CASE(RefusesAnUnknownTypeInTheSecondEntryAndNamesItsIndex) {
  std::string text(kSystemUserDetails);
  text.insert(text.size() - 1, R"(,{"type":"x"})");
  BOOST_TEST(contains(details_refusal(text), "authorization_details[1]"));
}

BOOST_AUTO_TEST_CASE(RefusesSystemUserWithoutSystemUserOrg) {
  BOOST_TEST(contains(details_refusal(R"([{"type":"urn:altinn:systemuser"}])"),
                      "systemuser_org"));
}

BOOST_AUTO_TEST_CASE(RefusesSystemUserOrgThatIsAString) {
  details_refusal(system_user_with_org(R"("0192:999888777")"));
}

BOOST_AUTO_TEST_CASE(RefusesSystemUserWithWrongAuthority) {
  BOOST_TEST(contains(
      details_refusal(system_user_with_org(R"({"authority":"x","ID":"0192:999888777"})")),
      "authority"));
}

BOOST_AUTO_TEST_CASE(RefusesSystemUserIdWithoutIcdPrefix) {
  BOOST_TEST(contains(details_refusal(system_user_with_org(
                          R"({"authority":"iso6523-actorid-upis","ID":"999888777"})")),
                      "0192:"));
}

BOOST_AUTO_TEST_CASE(RefusesSystemUserIdWithEightDigits) {
  details_refusal(
      system_user_with_org(R"({"authority":"iso6523-actorid-upis","ID":"0192:99988877"})"));
}

BOOST_AUTO_TEST_CASE(RefusesSystemUserIdWithOtherIcd) {
  details_refusal(
      system_user_with_org(R"({"authority":"iso6523-actorid-upis","ID":"0088:999888777"})"));
}

BOOST_AUTO_TEST_CASE(RefusesSystemUserWithLowercaseIdKey) {
  details_refusal(
      system_user_with_org(R"({"authority":"iso6523-actorid-upis","id":"0192:999888777"})"));
}

BOOST_AUTO_TEST_CASE(RefusesConsentWithoutId) {
  BOOST_TEST(contains(
      details_refusal(R"([{"type":"urn:altinn:consent","from":"urn:altinn:person:x"}])"),
      "\"id\""));
}

BOOST_AUTO_TEST_CASE(RefusesConsentWithoutFrom) {
  details_refusal(R"([{"type":"urn:altinn:consent","id":"77ed8698"}])");
}

BOOST_AUTO_TEST_CASE(RefusesTrailingGarbage) {
  BOOST_TEST(contains(details_refusal(std::string(kSystemUserDetails) + "]"), "JSON"));
}

BOOST_AUTO_TEST_CASE(RefusesASecondValueAfterTheArray) {
  details_refusal(std::string(kSystemUserDetails) + " []");
}

BOOST_AUTO_TEST_CASE(RefusesTruncatedJson) {
  const std::string text(kSystemUserDetails);
  details_refusal(text.substr(0, text.size() - 1));
}

BOOST_AUTO_TEST_CASE(RefusesTextOverEightKiB) {
  std::string text(kSystemUserDetails);
  text.append(8 * 1024, ' ');
  BOOST_TEST(contains(details_refusal(text), "8192"));
}

BOOST_AUTO_TEST_CASE(RefusesNineEntries) {
  const std::string entry = R"({"type":"urn:altinn:consent","id":"a","from":"b"})";
  std::string text = "[" + entry;
  for (int i = 1; i < 9; ++i) text += "," + entry;
  text += "]";
  BOOST_TEST(contains(details_refusal(text), "at most 8"));
}

BOOST_AUTO_TEST_CASE(RefusesDeepNesting) {
  const std::string text = R"([{"type":"urn:altinn:consent","id":"a","from":"b","x":)" +
                           std::string(50, '[') + std::string(50, ']') + "}]";
  BOOST_TEST(contains(details_refusal(text), "deeper"));
}

BOOST_AUTO_TEST_CASE(RefusesVeryDeepNestingWithoutCrashing) {
  BOOST_TEST(contains(details_refusal(std::string(4000, '[') + std::string(4000, ']')),
                      "deeper"));
}

BOOST_AUTO_TEST_CASE(RefusesADuplicateType) {
  BOOST_TEST(contains(
      details_refusal(R"([{"type":"urn:example:other","type":"urn:altinn:consent",)"
                      R"("id":"a","from":"b"}])"),
      "twice"));
}

BOOST_AUTO_TEST_CASE(RefusesInvalidUtf8) {
  details_refusal("[{\"type\":\"urn:altinn:consent\",\"id\":\"\xff\",\"from\":\"b\"}]");
}

BOOST_AUTO_TEST_CASE(RefusesNaN) {
  details_refusal(R"([{"type":"urn:altinn:consent","id":"a","from":"b","n":NaN}])");
}

BOOST_AUTO_TEST_SUITE_END()
