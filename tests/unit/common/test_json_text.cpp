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

BOOST_AUTO_TEST_SUITE(WriteString)

std::string written(std::string_view text) {
  rapidjson::StringBuffer buffer;
  json::Writer writer(buffer);
  json::write_string(writer, text);
  return std::string(buffer.GetString(), buffer.GetSize());
}

// What RapidJSON itself writes for the text made valid UTF-8.
std::string reference(std::string_view text) {
  rapidjson::StringBuffer buffer;
  json::Writer writer(buffer);
  const std::string valid = json::to_valid_utf8(text);
  writer.String(valid.data(), static_cast<rapidjson::SizeType>(valid.size()), true);
  return std::string(buffer.GetString(), buffer.GetSize());
}

// Every byte value at every place of an eight-byte word and of the tail:
// the word-at-a-time check must send each to the escaping path when needed.
BOOST_AUTO_TEST_CASE(EveryByteAtEveryPlaceIsWrittenAsRapidJsonWouldWriteIt) {
  for (int byte = 0; byte < 256; ++byte) {
    for (std::size_t place = 0; place < 19; ++place) {
      std::string text(19, 'a');
      text[place] = static_cast<char>(byte);
      BOOST_TEST_REQUIRE(written(text) == reference(text), "byte " << byte << " at " << place);
    }
  }
}

BOOST_AUTO_TEST_CASE(PlainTokenTextGoesOutUnchanged) {
  const std::string token = "eyJhbGciOiJSUzI1NiJ9.eyJzY29wZSI6ImEifQ.c2lnbmF0dXJl-_~";
  BOOST_TEST(written(token) == "\"" + token + "\"");
  BOOST_TEST(written("") == "\"\"");
}

BOOST_AUTO_TEST_CASE(QuotesControlsAndBadUtf8AreEscapedOrReplaced) {
  BOOST_TEST(written("12345678\"") == "\"12345678\\\"\"");
  BOOST_TEST(written("1234567\\8") == "\"1234567\\\\8\"");
  BOOST_TEST(written("abcdefgh\x01") == "\"abcdefgh\\u0001\"");
  BOOST_TEST(written("abcdefgh\xff") == "\"abcdefgh\xEF\xBF\xBD\"");
  BOOST_TEST(written("abcdefgh\xC3\xA6") == "\"abcdefgh\xC3\xA6\"");  // æ kept
}

// Written in one piece, a plain string still gets the commas and colons of
// the object or array it is in.
BOOST_AUTO_TEST_CASE(PlainStringsInObjectsAndArraysAreSeparatedAsUsual) {
  rapidjson::StringBuffer buffer;
  json::Writer writer(buffer);
  writer.StartObject();
  json::write_key(writer, "a");
  json::write_string(writer, "plain");
  json::write_key(writer, "b");
  writer.StartArray();
  json::write_string(writer, "x");
  json::write_string(writer, "needs \"escaping\"");
  json::write_string(writer, "y");
  writer.EndArray();
  writer.EndObject();
  BOOST_TEST(std::string(buffer.GetString()) ==
             R"({"a":"plain","b":["x","needs \"escaping\"","y"]})");
  rapidjson::Document document;
  BOOST_TEST(!json::parse_strict_json(document, buffer.GetString()).has_value());
}

BOOST_AUTO_TEST_SUITE_END()
