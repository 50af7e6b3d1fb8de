#define BOOST_TEST_MODULE json_text
#include <boost/test/unit_test.hpp>
#include <string>

#include "common/json_text.h"

using namespace mpa;
using Kind = json::JsonProblem::Kind;

namespace {

std::optional<json::JsonProblem> parse(const std::string& text) {
  rapidjson::Document document;
  return json::parse_strict_json(document, text);
}

int kind_of(const std::string& text) {
  const auto problem = parse(text);
  return problem ? static_cast<int>(problem->kind) : -1;
}

}  // namespace

BOOST_AUTO_TEST_SUITE(StrictJson)

BOOST_AUTO_TEST_CASE(AcceptsAnObjectWithNestedValues) {
  BOOST_TEST(!parse(R"({"a":[1,{"b":true}],"c":{"d":null}})"));
}

BOOST_AUTO_TEST_CASE(RefusesADuplicateMemberAtTheTopAndNamesIt) {
  const auto problem = parse(R"({"iss":"a","iss":"b"})");
  BOOST_TEST_REQUIRE(problem.has_value());
  BOOST_TEST(static_cast<int>(problem->kind) == static_cast<int>(Kind::duplicate_member));
  BOOST_TEST(problem->member == "iss");
  BOOST_TEST(problem->words == "repeats the member \"iss\"");
}

BOOST_AUTO_TEST_CASE(RefusesADuplicateMemberDeepInside) {
  BOOST_TEST(kind_of(R"({"a":[{"x":{"k":1,"k":2}}]})") == static_cast<int>(Kind::duplicate_member));
}

BOOST_AUTO_TEST_CASE(SameNameInDifferentObjectsIsFine) {
  BOOST_TEST(!parse(R"({"k":{"k":1},"j":[{"k":2},{"k":3}]})"));
}

BOOST_AUTO_TEST_CASE(RefusesNestingBeyondTheBound) {
  const std::string ok =
      std::string(json::kMaxJsonDepth, '[') + std::string(json::kMaxJsonDepth, ']');
  BOOST_TEST(!parse(ok));
  const std::string deep = "[" + ok + "]";
  const auto problem = parse(deep);
  BOOST_TEST_REQUIRE(problem.has_value());
  BOOST_TEST(static_cast<int>(problem->kind) == static_cast<int>(Kind::too_deep));
  BOOST_TEST(problem->words == "nests deeper than 16 levels");
}

BOOST_AUTO_TEST_CASE(RefusesTrailingDataCommentsAndBadUtf8) {
  for (const char* text :
       {R"({"a":1} x)", R"({"a":1}/* c */)", "{\"a\":\"\xFF\"}", "{\"a\":NaN}", ""}) {
    BOOST_TEST(kind_of(text) == static_cast<int>(Kind::not_json), text);
  }
}

BOOST_AUTO_TEST_CASE(SyntaxErrorsSayWhereInWords) {
  const auto problem = parse(R"({"a" 1})");
  BOOST_TEST_REQUIRE(problem.has_value());
  BOOST_TEST(problem->words.find("(at byte 5)") != std::string::npos, problem->words);
}

BOOST_AUTO_TEST_SUITE_END()
