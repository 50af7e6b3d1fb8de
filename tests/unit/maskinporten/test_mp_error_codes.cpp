#include <boost/test/unit_test.hpp>

#include <string>

#include "support/test_support.h"
#include "agent/maskinporten/maskinporten.h"
#include "agent/maskinporten/mp_error_codes.h"

using namespace mpa;
using mpa::test::contains;

namespace {

Error refusal_of(const std::string& description) {
  HttpResponse response;
  response.status = 400;
  response.content_type = "application/json";
  response.body = R"({"error":"invalid_grant","error_description":")" + description + "\"}";
  auto token = parse_token_response(response, 1795000000);
  BOOST_TEST_REQUIRE(!token.ok());
  return token.error();
}

}  // namespace

BOOST_AUTO_TEST_SUITE(MaskinportenErrorCodes)

BOOST_AUTO_TEST_CASE(Mp122SaysTheCertificateIsAnotherOrganisations) {
  const Error e = refusal_of("Invalid assertion. Client authentication failed. (MP-122)");
  BOOST_TEST(e.code == ErrorCode::invalid_grant);
  BOOST_TEST(e.message ==
             "Maskinporten refused the grant: invalid_grant: Invalid assertion. Client "
             "authentication failed. (MP-122). The certificate's organisation number is not the "
             "client's: use the virksomhetssertifikat of the organisation that owns client_id.");
}

BOOST_AUTO_TEST_CASE(EveryListedCodeGetsASentence) {
  for (const char* code : {"MP-011", "MP-012", "MP-100", "MP-110", "MP-120", "MP-121", "MP-122",
                           "MP-123", "MP-124", "MP-130", "MP-200", "MP-201", "MP-250", "MP-251",
                           "MP-301", "MP-302", "MP-303"}) {
    const std::string words = std::string("failed (") + code + ")";
    const std::string advised = with_mp_advice(words);
    BOOST_TEST(advised.size() > words.size() + 20, code);
    BOOST_TEST(advised.starts_with(words), code);
  }
}

BOOST_AUTO_TEST_CASE(Mp110NamesTheAudience) {
  BOOST_TEST(contains(with_mp_advice("Invalid JWT claim aud (MP-110)"), "aud is not"));
}

BOOST_AUTO_TEST_CASE(UnknownCodePassesThroughUntouched) {
  BOOST_TEST(with_mp_advice("Unknown client (MP-021)") == "Unknown client (MP-021)");
  const Error e = refusal_of("Invalid assertion. Client authentication failed. (MP-004)");
  BOOST_TEST(e.message ==
             "Maskinporten refused the grant: invalid_grant: Invalid assertion. Client "
             "authentication failed. (MP-004)");
}

BOOST_AUTO_TEST_CASE(NoCodeNoAdvice) {
  BOOST_TEST(with_mp_advice("Scope not allowed for client") == "Scope not allowed for client");
}

BOOST_AUTO_TEST_CASE(FourDigitsAreNotAListedCode) {
  BOOST_TEST(with_mp_advice("id MP-1220") == "id MP-1220");
  BOOST_TEST(with_mp_advice("MP-12") == "MP-12");
}

BOOST_AUTO_TEST_SUITE_END()
