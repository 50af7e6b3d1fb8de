#include <boost/test/unit_test.hpp>

#include "common/result.h"

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

namespace {

Status fails_when(bool fail) {
  if (fail) return make_error(ErrorCode::forbidden, "no");
  return {};
}

Result<int> number_or_error(bool fail) {
  if (fail) return make_error(ErrorCode::unavailable, "down");
  return 7;
}

Status checks_twice(bool first_fails, bool second_fails, int& reached) {
  MPA_RETURN_IF_ERROR(fails_when(first_fails));
  reached = 1;
  MPA_RETURN_IF_ERROR(fails_when(second_fails));
  reached = 2;
  return {};
}

Result<int> doubled(bool fail) {
  MPA_ASSIGN_OR_RETURN(const int n, number_or_error(fail));
  MPA_ASSIGN_OR_RETURN(int m, number_or_error(false));  // a second use in one scope
  return n + m;
}

}  // namespace

BOOST_AUTO_TEST_CASE(ReturnIfErrorStopsAtTheFirstFailure) {
  int reached = 0;
  const Status status = checks_twice(true, false, reached);
  BOOST_TEST(!status.ok());
  BOOST_TEST(status.error().message == "no");
  BOOST_TEST(reached == 0);
}

BOOST_AUTO_TEST_CASE(ReturnIfErrorPassesSuccessOn) {
  int reached = 0;
  BOOST_TEST(checks_twice(false, false, reached).ok());
  BOOST_TEST(reached == 2);
  BOOST_TEST(!checks_twice(false, true, reached).ok());
}

BOOST_AUTO_TEST_CASE(AssignOrReturnGivesTheValue) {
  const Result<int> r = doubled(false);
  BOOST_TEST_REQUIRE(r.ok());
  BOOST_TEST(*r == 14);
}

BOOST_AUTO_TEST_CASE(AssignOrReturnReturnsTheErrorWithItsCode) {
  const Result<int> r = doubled(true);
  BOOST_TEST_REQUIRE(!r.ok());
  BOOST_TEST(r.error().message == "down");
  BOOST_TEST(to_string(r.error().code) == "unavailable");
}

BOOST_AUTO_TEST_SUITE_END()
