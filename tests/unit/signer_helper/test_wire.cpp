#include <boost/test/unit_test.hpp>

#include <sys/socket.h>

#include "agent/signer_helper/wire.h"
#include "common/unique_fd.h"

using namespace mpa;
using namespace mpa::signer_helper;

namespace {

SetupMessage sample_setup() {
  SetupMessage m;
  m.module_path = "/usr/lib/softhsm/libsofthsm2.so";
  m.token_uri = "pkcs11:token=A;object=k;type=private";
  m.keys = {{"pkcs11:token=A;object=k;type=private", std::nullopt},
            {"pkcs11:token=A;object=j;type=private", std::string("/etc/chain.pem")}};
  m.pin_source = PinSource::env;
  m.pin_name = "MPA_PIN";
  m.allowed_algs = {JwsAlg::RS256, JwsAlg::RS512};
  m.allowed_audiences = {"https://test.maskinporten.no/"};
  m.state_dir = "/var/lib/maskinporten-agent";
  m.max_concurrent_signatures = 4;
  return m;
}

Message round_trip(const Message& in) {
  auto body = encode(in);
  BOOST_REQUIRE_MESSAGE(body.ok(), (body.ok() ? std::string() : body.error().message));
  auto out = decode(*body);
  BOOST_REQUIRE_MESSAGE(out.ok(), (out.ok() ? std::string() : out.error().message));
  BOOST_REQUIRE_EQUAL(out->index(), in.index());
  return *out;
}

Bytes body_of(const Message& m) { return encode(m).value(); }

void check_refused(const Bytes& body, const std::string& words) {
  auto out = decode(body);
  BOOST_REQUIRE(!out.ok());
  BOOST_TEST(out.error().message.find(words) != std::string::npos, out.error().message);
}

void put_u32(Bytes& b, std::size_t at, std::uint32_t v) {
  for (int i = 0; i < 4; ++i) b[at + i] = static_cast<std::uint8_t>(v >> (24 - 8 * i));
}

}  // namespace

BOOST_AUTO_TEST_CASE(SetupRoundTripsEveryField) {
  const SetupMessage in = sample_setup();
  const auto out = std::get<SetupMessage>(round_trip(in));
  BOOST_TEST(out.module_path == in.module_path);
  BOOST_TEST(out.token_uri == in.token_uri);
  BOOST_REQUIRE_EQUAL(out.keys.size(), 2u);
  BOOST_TEST(!out.keys[0].chain_file.has_value());
  BOOST_TEST(*out.keys[1].chain_file == "/etc/chain.pem");
  BOOST_TEST((out.pin_source == PinSource::env));
  BOOST_TEST(out.pin_name == "MPA_PIN");
  BOOST_TEST((out.allowed_algs == in.allowed_algs));
  BOOST_TEST(out.allowed_audiences == in.allowed_audiences);
  BOOST_TEST(out.state_dir == in.state_dir);
  BOOST_TEST(out.max_concurrent_signatures == 4u);
}

BOOST_AUTO_TEST_CASE(ReadyRoundTripsChainAndInfo) {
  ReadyMessage in;
  KeyReady key;
  key.chain = {Bytes{1, 2, 3}, Bytes{4}};
  key.info.token_present = true;
  key.info.logged_in = true;
  key.info.token_label = "A";
  key.info.certificate_subject = "CN=x";
  key.info.certificate_not_after = 1900000000;
  in.keys.push_back(key);
  const auto out = std::get<ReadyMessage>(round_trip(in));
  BOOST_REQUIRE_EQUAL(out.keys.size(), 1u);
  BOOST_TEST(out.keys[0].chain == key.chain);
  BOOST_TEST(out.keys[0].info.logged_in);
  BOOST_TEST(out.keys[0].info.certificate_not_after == 1900000000);
  BOOST_TEST(out.keys[0].info.certificate_subject == "CN=x");
}

BOOST_AUTO_TEST_CASE(SignAndAnswersRoundTrip) {
  const auto sign = std::get<SignMessage>(round_trip(SignMessage{7, 1, JwsAlg::RS384, "a.b"}));
  BOOST_TEST(sign.id == 7u);
  BOOST_TEST(sign.key_index == 1u);
  BOOST_TEST((sign.alg == JwsAlg::RS384));
  BOOST_TEST(sign.signing_input == "a.b");
  const auto sig = std::get<SignatureMessage>(round_trip(SignatureMessage{7, Bytes{9, 9}}));
  BOOST_TEST(sig.signature == (Bytes{9, 9}));
  const auto err = std::get<SignErrorMessage>(
      round_trip(SignErrorMessage{8, ErrorCode::forbidden, "the signer refuses: x"}));
  BOOST_TEST((err.code == ErrorCode::forbidden));
  BOOST_TEST(err.message == "the signer refuses: x");
  const auto failed = std::get<FailedMessage>(
      round_trip(FailedMessage{SetupFailure::pin_refused, ErrorCode::hsm_error, "no"}));
  BOOST_TEST((failed.failure == SetupFailure::pin_refused));
}

BOOST_AUTO_TEST_CASE(FailedCarriesTheSetupFailureAsTheErrorsReason) {
  for (const ErrorReason reason : {ErrorReason::pin_refused, ErrorReason::pin_unreadable}) {
    const Error back = error_of(std::get<FailedMessage>(
        round_trip(failed_message(make_error(ErrorCode::hsm_error, "no", reason)))));
    BOOST_TEST((back.reason == reason));
    BOOST_TEST((back.code == ErrorCode::hsm_error));
    BOOST_TEST(back.message == "no");
  }
  const FailedMessage lost = failed_message(make_error(ErrorCode::hsm_error, "gone", ErrorReason::token_lost));
  BOOST_TEST((lost.failure == SetupFailure::other));
  BOOST_TEST((error_of(lost).reason == ErrorReason::none));
}

BOOST_AUTO_TEST_CASE(FailedMessageIsCutToTheWiresLimit) {
  const FailedMessage cut = failed_message(make_error(ErrorCode::internal, std::string(kMaxMessageBytes + 9, 'x')));
  BOOST_TEST(cut.message.size() == kMaxMessageBytes);
}

BOOST_AUTO_TEST_CASE(InfoRoundTrips) {
  InfoReplyMessage in{3, {SignerInfo{}, SignerInfo{}}};
  in.keys[1].last_error = "removed";
  const auto out = std::get<InfoReplyMessage>(round_trip(in));
  BOOST_TEST(out.id == 3u);
  BOOST_REQUIRE_EQUAL(out.keys.size(), 2u);
  BOOST_TEST(out.keys[1].last_error == "removed");
  BOOST_TEST(std::get<InfoMessage>(round_trip(InfoMessage{5})).id == 5u);
}

BOOST_AUTO_TEST_CASE(RefusesEveryTruncation) {
  const Bytes body = body_of(sample_setup());
  for (std::size_t n = 0; n < body.size(); ++n) {
    auto out = decode(std::span(body.data(), n));
    BOOST_TEST(!out.ok(), "a setup cut at " << n << " bytes was accepted");
  }
}

BOOST_AUTO_TEST_CASE(ReconfigureRoundTripsEveryField) {
  const ReconfigureMessage in{{{"pkcs11:token=T;object=a", std::nullopt}, {"pkcs11:token=T;object=b", "/c.pem"}},
                              {JwsAlg::RS256, JwsAlg::RS512},
                              {"https://a.example/", "https://b.example/"}};
  const auto out = std::get<ReconfigureMessage>(round_trip(in));
  BOOST_REQUIRE_EQUAL(out.keys.size(), 2u);
  BOOST_TEST(out.keys[1].key_uri == "pkcs11:token=T;object=b");
  BOOST_TEST(*out.keys[1].chain_file == "/c.pem");
  BOOST_TEST(!out.keys[0].chain_file.has_value());
  BOOST_TEST((out.allowed_algs == in.allowed_algs));
  BOOST_TEST(out.allowed_audiences == in.allowed_audiences);
}

BOOST_AUTO_TEST_CASE(RefusesTrailingBytes) {
  Bytes body = body_of(InfoMessage{1});
  body.push_back(0);
  check_refused(body, "after the last field");
}

BOOST_AUTO_TEST_CASE(RefusesOtherVersion) {
  Bytes body = body_of(InfoMessage{1});
  body[0] = kWireVersion + 1;
  check_refused(body, "version 3, expected 2");
}

BOOST_AUTO_TEST_CASE(RefusesUnknownType) {
  Bytes body = body_of(InfoMessage{1});
  body[1] = 0;
  check_refused(body, "unknown message type 0");
  body[1] = 200;
  check_refused(body, "unknown message type 200");
}

BOOST_AUTO_TEST_CASE(RefusesOversizeSigningInput) {
  const std::string big(kMaxSigningInputBytes + 1, 'a');
  BOOST_TEST(!encode(SignMessage{1, 0, JwsAlg::RS256, big}).ok());
  // Forge the length past the limit by hand: the reader refuses it unread.
  Bytes body = body_of(SignMessage{1, 0, JwsAlg::RS256, "ab"});
  put_u32(body, 2 + 8 + 4 + 1, static_cast<std::uint32_t>(kMaxSigningInputBytes + 1));
  check_refused(body, "over the limit");
}

BOOST_AUTO_TEST_CASE(RefusesLengthBeyondTheFrame) {
  Bytes body = body_of(SignMessage{1, 0, JwsAlg::RS256, "ab"});
  put_u32(body, 2 + 8 + 4 + 1, 100);
  check_refused(body, "truncated");
}

BOOST_AUTO_TEST_CASE(RefusesForgedCounts) {
  Bytes body = body_of(ReadyMessage{});
  put_u32(body, 2, kMaxKeys + 1);
  check_refused(body, "over the limit");
  put_u32(body, 2, 3);
  check_refused(body, "larger than the frame");
}

BOOST_AUTO_TEST_CASE(RefusesUnknownEnumValues) {
  Bytes sign = body_of(SignMessage{1, 0, JwsAlg::RS256, "ab"});
  sign[2 + 8 + 4] = 9;
  check_refused(sign, "alg 9 is unknown");
  Bytes error = body_of(SignErrorMessage{1, ErrorCode::hsm_error, "x"});
  error[2 + 8] = 77;
  check_refused(error, "error code 77 is unknown");
  Bytes failed = body_of(FailedMessage{SetupFailure::other, ErrorCode::hsm_error, "x"});
  failed[2] = 0;
  check_refused(failed, "setup failure 0 is unknown");
}

BOOST_AUTO_TEST_CASE(RefusesKeyIndexOutOfRange) {
  check_refused(body_of(SignMessage{1, kMaxKeys, JwsAlg::RS256, "ab"}), "key index");
}

BOOST_AUTO_TEST_CASE(RefusesEmptySignatureAndZeroConcurrency) {
  check_refused(body_of(SignatureMessage{1, {}}), "signature: empty");
  SetupMessage setup = sample_setup();
  setup.max_concurrent_signatures = 0;
  check_refused(body_of(setup), "outside 1..256");
}

BOOST_AUTO_TEST_CASE(RefusesBooleanOtherThanZeroOrOne) {
  InfoReplyMessage in{1, {SignerInfo{}}};
  Bytes body = body_of(in);
  body[2 + 8 + 4] = 2;
  check_refused(body, "is not 0 or 1");
}

BOOST_AUTO_TEST_CASE(FramesCrossASocketAndEndCleanly) {
  int fds[2];
  BOOST_REQUIRE(::socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, fds) == 0);
  UniqueFd a(fds[0]), b(fds[1]);
  BOOST_REQUIRE(write_frame(a.get(), SignMessage{42, 0, JwsAlg::RS256, "h.c"}).ok());
  auto got = read_frame(b.get());
  BOOST_REQUIRE(got.ok());
  BOOST_REQUIRE(got->has_value());
  BOOST_TEST(std::get<SignMessage>(**got).id == 42u);
  a.reset();
  auto end = read_frame(b.get());
  BOOST_REQUIRE(end.ok());
  BOOST_TEST(!end->has_value());
}

BOOST_AUTO_TEST_CASE(RefusesAnnouncedOversizeFrameAndCutFrame) {
  int fds[2];
  BOOST_REQUIRE(::socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, fds) == 0);
  UniqueFd a(fds[0]), b(fds[1]);
  const std::uint8_t huge[4] = {0xff, 0xff, 0xff, 0xff};
  BOOST_REQUIRE(::write(a.get(), huge, 4) == 4);
  auto got = read_frame(b.get());
  BOOST_REQUIRE(!got.ok());
  BOOST_TEST(got.error().message.find("over the limit") != std::string::npos);
  const std::uint8_t cut[5] = {0, 0, 0, 10, 1};
  BOOST_REQUIRE(::write(a.get(), cut, 5) == 5);
  a.reset();
  auto ended = read_frame(b.get());
  BOOST_REQUIRE(!ended.ok());
  BOOST_TEST(ended.error().message.find("ended inside a frame") != std::string::npos);
}
