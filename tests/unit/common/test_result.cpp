#define BOOST_TEST_MODULE result
#include <boost/test/unit_test.hpp>

#include "common/result.h"
#include "common/secret.h"

using namespace mpa;

BOOST_AUTO_TEST_SUITE(ResultType)

BOOST_AUTO_TEST_CASE(CarriesValueWhenOk) {
  Result<int> r = 42;
  BOOST_TEST(r.ok());
  BOOST_TEST(*r == 42);
}

BOOST_AUTO_TEST_CASE(CarriesErrorCodeAndMessage) {
  Result<int> r = make_error(ErrorCode::hsm_error, "token removed");
  BOOST_TEST(!r.ok());
  BOOST_TEST(to_string(r.error().code) == "hsm_error");
  BOOST_TEST(r.error().message == "token removed");
}

BOOST_AUTO_TEST_CASE(WithContextPrefixesMessageAndKeepsCode) {
  Error e = make_error(ErrorCode::unavailable, "connection refused").with_context("POST /token");
  BOOST_TEST(e.message == "POST /token: connection refused");
  BOOST_TEST(to_string(e.code) == "unavailable");
}

BOOST_AUTO_TEST_CASE(ConfigErrorsAreInternalOnTheWire) {
  BOOST_TEST(to_string(ErrorCode::invalid_config) == "internal");
}

BOOST_AUTO_TEST_CASE(SecretEqualComparesLengthAndBytes) {
  BOOST_TEST(secret_equal("1234", "1234"));
  BOOST_TEST(!secret_equal("1234", "1235"));
  BOOST_TEST(!secret_equal("1234", "12345"));
}

BOOST_AUTO_TEST_SUITE_END()
