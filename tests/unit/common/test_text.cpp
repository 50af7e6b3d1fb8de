#include <boost/test/unit_test.hpp>
#include <string>

#include "common/text.h"

using namespace mpa;

BOOST_AUTO_TEST_SUITE(QuotingOutsideText)

BOOST_AUTO_TEST_CASE(PlainTextIsQuotedAsItIs) {
  BOOST_TEST(quoted("default") == "\"default\"");
  BOOST_TEST(printable("a b") == "a b");
}

BOOST_AUTO_TEST_CASE(ControlCharactersBecomeQuestionMarks) {
  BOOST_TEST(printable("line\nINFO forged\x1b[0m\x7f") == "line?INFO forged?[0m?");
}

BOOST_AUTO_TEST_CASE(QuotesAndBackslashesAreHiddenOnlyInsideQuotes) {
  BOOST_TEST(quoted("a\"b\\c") == "\"a?b?c\"");
  BOOST_TEST(printable(R"(error="x")") == R"(error="x")");
}

BOOST_AUTO_TEST_CASE(ValidUtf8IsKeptAndInvalidBytesAreNot) {
  const std::string norwegian =
      "bl\xC3\xA5"
      "b\xC3\xA6"
      "r";  // blåbær
  BOOST_TEST(printable(norwegian) == norwegian);
  BOOST_TEST(printable("a\xFF"
                       "b\xC3") == "a?b?");
  BOOST_TEST(printable("\xED\xA0\x80") == "???");  // a surrogate is not UTF-8
}

BOOST_AUTO_TEST_CASE(LongTextIsCutWithAnEllipsis) {
  BOOST_TEST(quoted(std::string(100, 'x')) == "\"" + std::string(kMaxQuotedBytes, 'x') + "...\"");
  BOOST_TEST(printable("abcdef", 3) == "abc...");
  BOOST_TEST(printable("abc", 3) == "abc");
}

BOOST_AUTO_TEST_CASE(CutNeverSplitsACharacter) {
  // "aå" is 3 bytes; a cut after 2 bytes would split the å.
  BOOST_TEST(printable("a\xC3\xA5z", 2) == "a...");
}

BOOST_AUTO_TEST_CASE(TrimRemovesOnlySurroundingWhitespace) {
  BOOST_TEST(trim_whitespace(" \t a b\r\n") == "a b");
  BOOST_TEST(trim_whitespace("\r\n").empty());
}

BOOST_AUTO_TEST_CASE(PrefixComparisonIgnoresCase) {
  BOOST_TEST(starts_with_ignoring_case("HTTPS://host", "https://"));
  BOOST_TEST(starts_with_ignoring_case("Retry-After: 5", "retry-after"));
  BOOST_TEST(!starts_with_ignoring_case("http://host", "https://"));
  BOOST_TEST(!starts_with_ignoring_case("htt", "http"));
}

BOOST_AUTO_TEST_CASE(AllDigitsNeedsAtLeastOneDigit) {
  BOOST_TEST(all_digits("0123"));
  BOOST_TEST(!all_digits(""));
  BOOST_TEST(!all_digits("12a"));
  BOOST_TEST(!all_digits("-1"));
}

BOOST_AUTO_TEST_CASE(EditDistanceCountsEdits) {
  BOOST_TEST(edit_distance("socket", "sokcet") == 2u);
  BOOST_TEST(edit_distance("", "abc") == 3u);
}

BOOST_AUTO_TEST_SUITE_END()
