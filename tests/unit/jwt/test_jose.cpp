#include <boost/test/unit_test.hpp>

#include <regex>
#include <set>
#include <string>
#include <utility>
#include <vector>

#include "agent/jwt/jose.h"

using namespace mpa;

namespace {

Bytes bytes(std::string_view text) { return Bytes(text.begin(), text.end()); }

// RFC 4648 §10 test vectors: input and its standard base64 encoding.
const std::vector<std::pair<std::string, std::string>> kRfc4648Vectors = {
    {"", ""},          {"f", "Zg=="},         {"fo", "Zm8="},        {"foo", "Zm9v"},
    {"foob", "Zm9vYg=="}, {"fooba", "Zm9vYmE="}, {"foobar", "Zm9vYmFy"},
};

std::string without_padding(std::string text) {
  while (!text.empty() && text.back() == '=') text.pop_back();
  return text;
}

}  // namespace

BOOST_AUTO_TEST_SUITE(Base64)

BOOST_AUTO_TEST_CASE(StandardEncodingMatchesRfc4648Vectors) {
  for (const auto& [input, expected] : kRfc4648Vectors) {
    BOOST_TEST(jose::base64_encode(bytes(input)) == expected, "input " << input);
  }
}

BOOST_AUTO_TEST_CASE(StandardEncodingUsesPlusAndSlash) {
  BOOST_TEST(jose::base64_encode(Bytes{0xfb, 0xff, 0xbf}) == "+/+/");
}

BOOST_AUTO_TEST_SUITE_END()

BOOST_AUTO_TEST_SUITE(Base64Url)

// RFC 4648 §5 with the padding left out, as RFC 7515 §2 asks.
BOOST_AUTO_TEST_CASE(EncodingMatchesRfc4648VectorsWithoutPadding) {
  for (const auto& [input, expected] : kRfc4648Vectors) {
    BOOST_TEST(jose::base64url_encode(std::string_view(input)) == without_padding(expected),
               "input " << input);
    BOOST_TEST(jose::base64url_encode(bytes(input)) == without_padding(expected));
  }
}

BOOST_AUTO_TEST_CASE(DecodingMatchesRfc4648VectorsWithoutPadding) {
  for (const auto& [input, encoded] : kRfc4648Vectors) {
    auto decoded = jose::base64url_decode(without_padding(encoded));
    BOOST_TEST_REQUIRE(decoded.has_value(), "encoded " << encoded);
    BOOST_TEST(*decoded == input);
  }
}

BOOST_AUTO_TEST_CASE(EncodingUsesDashAndUnderscore) {
  BOOST_TEST(jose::base64url_encode(Bytes{0xfb, 0xff, 0xbf}) == "-_-_");
}

BOOST_AUTO_TEST_CASE(RoundTripsEveryByteValue) {
  std::string all;
  for (int i = 0; i < 256; ++i) all += static_cast<char>(i);
  for (std::size_t n = 0; n <= all.size(); n += 37) {
    const std::string part = all.substr(0, n);
    const auto decoded = jose::base64url_decode(jose::base64url_encode(std::string_view(part)));
    BOOST_TEST_REQUIRE(decoded.has_value());
    BOOST_TEST(*decoded == part);
  }
}

BOOST_AUTO_TEST_CASE(RejectsPadding) {
  BOOST_TEST(!jose::base64url_decode("Zg==").has_value());
  BOOST_TEST(!jose::base64url_decode("Zm8=").has_value());
}

BOOST_AUTO_TEST_CASE(RejectsStandardAlphabetPlus) {
  BOOST_TEST(!jose::base64url_decode("+/+/").has_value());
  BOOST_TEST(!jose::base64url_decode("ab+c").has_value());
}

BOOST_AUTO_TEST_CASE(RejectsStandardAlphabetSlash) {
  BOOST_TEST(!jose::base64url_decode("ab/c").has_value());
}

BOOST_AUTO_TEST_CASE(RejectsWhitespaceAndNul) {
  BOOST_TEST(!jose::base64url_decode("Zm9v Zm9v").has_value());
  BOOST_TEST(!jose::base64url_decode("Zm9v\n").has_value());
  BOOST_TEST(!jose::base64url_decode(std::string_view("Zm9\0", 4)).has_value());
}

BOOST_AUTO_TEST_CASE(RejectsLengthOneMoreThanMultipleOfFour) {
  BOOST_TEST(!jose::base64url_decode("Z").has_value());
  BOOST_TEST(!jose::base64url_decode("Zm9vY").has_value());
}

// "Zh" and "Zg" both carry 'f' in their first 8 bits; only "Zg" has zero
// trailing bits, so only it is the canonical encoding (RFC 4648 §3.5).
BOOST_AUTO_TEST_CASE(RejectsNonCanonicalTrailingBits) {
  BOOST_TEST(jose::base64url_decode("Zg").has_value());
  BOOST_TEST(!jose::base64url_decode("Zh").has_value());
  BOOST_TEST(jose::base64url_decode("Zm8").has_value());
  BOOST_TEST(!jose::base64url_decode("Zm9").has_value());
}

BOOST_AUTO_TEST_CASE(RejectsNonAsciiBytes) {
  BOOST_TEST(!jose::base64url_decode("Zm9v\xc3\xa6").has_value());
}

BOOST_AUTO_TEST_SUITE_END()

BOOST_AUTO_TEST_SUITE(RandomUuid)

// RFC 9562 §5.4: version nibble 4, variant bits 10.
BOOST_AUTO_TEST_CASE(HasVersion4AndRfc9562VariantShape) {
  const std::regex shape("^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$");
  for (int i = 0; i < 64; ++i) {
    auto uuid = jose::random_uuid();
    BOOST_TEST_REQUIRE(uuid.ok());
    BOOST_TEST(std::regex_match(*uuid, shape), *uuid);
  }
}

BOOST_AUTO_TEST_CASE(DiffersEveryTime) {
  std::set<std::string> seen;
  for (int i = 0; i < 1000; ++i) {
    auto uuid = jose::random_uuid();
    BOOST_TEST_REQUIRE(uuid.ok());
    BOOST_TEST(seen.insert(*uuid).second, "repeated " << *uuid);
  }
}

BOOST_AUTO_TEST_SUITE_END()
