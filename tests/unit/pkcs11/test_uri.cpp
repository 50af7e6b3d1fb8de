#include <boost/test/unit_test.hpp>

#include <string>
#include <vector>

#include "support/test_support.h"
#include "pkcs11/pkcs11.h"

using mpa::ErrorCode;
using mpa::pkcs11::Pkcs11Uri;
using mpa::test::contains;

namespace {

// The message of the error parse() returns; fails the test if it succeeds.
std::string refusal(const std::string& uri) {
  auto parsed = Pkcs11Uri::parse(uri);
  BOOST_TEST_REQUIRE(!parsed.ok(), "expected a refusal for " << uri);
  BOOST_TEST((parsed.error().code == ErrorCode::invalid_config));
  return parsed.error().message;
}

}  // namespace

BOOST_AUTO_TEST_SUITE(Pkcs11UriParse)

BOOST_AUTO_TEST_CASE(ParsesTheConfigurationExample) {
  auto uri = Pkcs11Uri::parse("pkcs11:token=Virksomhet%20Test;object=vsert-auth;type=private");
  BOOST_TEST_REQUIRE(uri.ok());
  BOOST_TEST(*uri->token == "Virksomhet Test");
  BOOST_TEST(*uri->object == "vsert-auth");
  BOOST_TEST(*uri->type == "private");
  BOOST_TEST(!uri->id.has_value());
  BOOST_TEST(!uri->serial.has_value());
}

BOOST_AUTO_TEST_CASE(DecodesIdAsBytes) {
  auto uri = Pkcs11Uri::parse("pkcs11:id=%01%ff%00%Ab");
  BOOST_TEST_REQUIRE(uri.ok());
  const std::vector<std::uint8_t> expected{0x01, 0xff, 0x00, 0xab};
  BOOST_TEST(*uri->id == expected, boost::test_tools::per_element());
}

BOOST_AUTO_TEST_CASE(ParsesEveryTokenAttribute) {
  auto uri = Pkcs11Uri::parse(
      "pkcs11:token=T;serial=0123abcd;manufacturer=SoftHSM%20project;model=SoftHSM%20v2");
  BOOST_TEST_REQUIRE(uri.ok());
  BOOST_TEST(*uri->serial == "0123abcd");
  BOOST_TEST(*uri->manufacturer == "SoftHSM project");
  BOOST_TEST(*uri->model == "SoftHSM v2");
}

BOOST_AUTO_TEST_CASE(SchemeIsCaseInsensitive) {
  BOOST_TEST(Pkcs11Uri::parse("PKCS11:object=a").ok());
}

BOOST_AUTO_TEST_CASE(AcceptsRfc7512ReservedCharactersInValues) {
  auto uri = Pkcs11Uri::parse("pkcs11:object=a:b@c!$'()*+,=&[]~._-");
  BOOST_TEST_REQUIRE(uri.ok());
  BOOST_TEST(*uri->object == "a:b@c!$'()*+,=&[]~._-");
}

BOOST_AUTO_TEST_CASE(RejectsEmptyString) {
  BOOST_TEST(contains(refusal(""), "is empty"));
}

BOOST_AUTO_TEST_CASE(RejectsWrongScheme) {
  BOOST_TEST(contains(refusal("pkcs12:object=a"), "does not start with \"pkcs11:\""));
  BOOST_TEST(contains(refusal("object=a"), "does not start with \"pkcs11:\""));
  BOOST_TEST(contains(refusal(" pkcs11:object=a"), "does not start with"));
}

BOOST_AUTO_TEST_CASE(RejectsSchemeWithoutAttributes) {
  BOOST_TEST(contains(refusal("pkcs11:"), "names nothing"));
}

BOOST_AUTO_TEST_CASE(RejectsUnknownAttribute) {
  const auto message = refusal("pkcs11:token=T;colour=blue");
  BOOST_TEST(contains(message, "unknown attribute \"colour\""));
  BOOST_TEST(contains(message, "known: token"));
}

BOOST_AUTO_TEST_CASE(AttributeNamesAreCaseSensitive) {
  BOOST_TEST(contains(refusal("pkcs11:Token=T"), "unknown attribute \"Token\""));
}

BOOST_AUTO_TEST_CASE(RejectsUnsupportedLibraryAndSlotAttributes) {
  BOOST_TEST(contains(refusal("pkcs11:slot-id=0"), "slot-id is not supported"));
  BOOST_TEST(contains(refusal("pkcs11:library-manufacturer=X"), "not supported"));
}

BOOST_AUTO_TEST_CASE(RejectsDuplicateAttribute) {
  BOOST_TEST(contains(refusal("pkcs11:object=a;object=b"), "object appears twice"));
  BOOST_TEST(contains(refusal("pkcs11:id=%01;id=%02"), "id appears twice"));
  BOOST_TEST(contains(refusal("pkcs11:token=a;object=b;token=a"), "token appears twice"));
}

BOOST_AUTO_TEST_CASE(RejectsTruncatedPercentEscape) {
  BOOST_TEST(contains(refusal("pkcs11:id=%0"), "bad %-escape in id"));
  BOOST_TEST(contains(refusal("pkcs11:id=%"), "bad %-escape"));
  BOOST_TEST(contains(refusal("pkcs11:object=a%2"), "bad %-escape in object"));
}

BOOST_AUTO_TEST_CASE(RejectsNonHexPercentEscape) {
  BOOST_TEST(contains(refusal("pkcs11:id=%zz"), "expected % and two hex digits"));
  BOOST_TEST(contains(refusal("pkcs11:id=%0g"), "bad %-escape"));
}

BOOST_AUTO_TEST_CASE(RejectsLiteralSpaceWithAdvice) {
  BOOST_TEST(contains(refusal("pkcs11:token=Virksomhet Test"), "write it as %20"));
}

BOOST_AUTO_TEST_CASE(RejectsRawCharactersOutsideTheGrammar) {
  BOOST_TEST(contains(refusal("pkcs11:object=a/b"), "'/' (write it as %2F)"));
  BOOST_TEST(contains(refusal("pkcs11:object=a\"b"), "write it as %22"));
  BOOST_TEST(contains(refusal("pkcs11:object=a\nb"), "byte 0x0A"));
  BOOST_TEST(contains(refusal("pkcs11:object=\xc3\xa6"), "byte 0xC3"));
}

BOOST_AUTO_TEST_CASE(RejectsNulInTextAttribute) {
  BOOST_TEST(contains(refusal("pkcs11:object=a%00b"), "NUL byte"));
}

BOOST_AUTO_TEST_CASE(RejectsEmptyValue) {
  BOOST_TEST(contains(refusal("pkcs11:token="), "token has an empty value"));
  BOOST_TEST(contains(refusal("pkcs11:id="), "id has an empty value"));
}

BOOST_AUTO_TEST_CASE(RejectsAttributeWithoutValue) {
  BOOST_TEST(contains(refusal("pkcs11:token"), "has no '='"));
}

BOOST_AUTO_TEST_CASE(RejectsAttributeWithoutName) {
  BOOST_TEST(contains(refusal("pkcs11:=x"), "no name"));
}

BOOST_AUTO_TEST_CASE(RejectsStraySemicolons) {
  BOOST_TEST(contains(refusal("pkcs11:token=a;"), "empty attribute"));
  BOOST_TEST(contains(refusal("pkcs11:;token=a"), "empty attribute"));
  BOOST_TEST(contains(refusal("pkcs11:token=a;;object=b"), "empty attribute"));
}

BOOST_AUTO_TEST_CASE(RejectsUnknownType) {
  BOOST_TEST(contains(refusal("pkcs11:object=a;type=secret-key"),
                      "type must be private, cert or public"));
  BOOST_TEST(contains(refusal("pkcs11:object=a;type=Private"), "type must be"));
}

BOOST_AUTO_TEST_CASE(RejectsPinValueInQueryPointingToPinFile) {
  const auto message = refusal("pkcs11:token=T;object=k?pin-value=1234");
  BOOST_TEST(contains(message, "pin-value is refused"));
  BOOST_TEST(contains(message, "pin_file"));
  BOOST_TEST(contains(refusal("pkcs11:object=k?module-name=x&pin-value=1"), "pin-value"));
}

BOOST_AUTO_TEST_CASE(RejectsPinValueInPath) {
  BOOST_TEST(contains(refusal("pkcs11:object=k;pin-value=1234"), "pin_file"));
}

BOOST_AUTO_TEST_CASE(PinValueRefusalDoesNotEchoThePin) {
  BOOST_TEST(!contains(refusal("pkcs11:object=k?pin-value=s3cr3t"), "s3cr3t"));
  BOOST_TEST(!contains(refusal("pkcs11:object=k;pin-value=s3cr3t"), "s3cr3t"));
  BOOST_TEST(!contains(refusal("pkcs11:object=k;pin-value=s3cr3t;bad"), "s3cr3t"));
}

BOOST_AUTO_TEST_CASE(RejectsPinSource) {
  BOOST_TEST(contains(refusal("pkcs11:object=k?pin-source=file:/etc/pin"), "pin-source"));
}

BOOST_AUTO_TEST_CASE(RejectsModuleQueryPointingToConfiguration) {
  BOOST_TEST(contains(refusal("pkcs11:object=k?module-path=/usr/lib/x.so"),
                      "module in [pkcs11]"));
  BOOST_TEST(contains(refusal("pkcs11:object=k?module-name=softhsm2"), "module in [pkcs11]"));
}

BOOST_AUTO_TEST_CASE(RejectsAnyOtherQuery) {
  BOOST_TEST(contains(refusal("pkcs11:object=k?"), "query part"));
  BOOST_TEST(contains(refusal("pkcs11:object=k?x=y"), "query part"));
}

BOOST_AUTO_TEST_CASE(RejectsOverlongUri) {
  BOOST_TEST(contains(refusal("pkcs11:object=" + std::string(5000, 'a')), "longer than"));
}

BOOST_AUTO_TEST_SUITE_END()
