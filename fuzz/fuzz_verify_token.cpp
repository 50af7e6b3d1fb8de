// Maskinporten token verifier on arbitrary input: the whole token path
// (size, split, base64url, header, kid, signature) and the claim checks with
// authorization_details on their own (reached in real life only after a
// valid signature, so fuzzed directly). Refusals are expected; crashes,
// sanitizer reports, a refusal without words or an acceptance that is not a
// JSON object are not.
#include <rapidjson/document.h>

#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <memory>
#include <string>
#include <string_view>

#include "agent/verify/jwks.h"
#include "agent/verify/verifier.h"

namespace {

// The public half of the key that signed the corpus tokens
// (fuzz/corpus/fuzz_verify_token/token_*); the private half was discarded.
// Made by tests/vectors/make_verify_vectors.py --now 1795000000.
constexpr std::string_view kJwks =
    R"json({"keys": [{"kty": "RSA", "use": "sig", "alg": "RS256", "kid": "key-a", "n": "tscWiOFgkPcUBtzDTG_7wZqXRT79NyeI3eFa05ydZwTiPDh0pD9CRdTywdzuVEM9oW5SrcvWf8l60Z2Mb47K28IrUESPqS--uXch_p4q0O2hooZBUSt8P8QUUiksKIy04bilkUsqpi_uRqvsWvzOZHUFGzztL-M8NOGgiPquSI-O4Yr9_6YVrXxBCy51HoQidDXd8p9VMbJIiJONntfxJsp_jwpo1m-MQ0juuQxxXjs0u1-vP_3po5Pyc7xdbY1aQlIOsCPrXifnychH7Q0abt-I0orXxSV0UX05g6_XO5szRr3CtlgvM_uRdtjGZQSHZ4_Gb4iLZmKt72UwfWFLXw", "e": "AQAB"}]})json";
constexpr std::int64_t kNow = 1795000000;

class FixedKeys final : public mpa::verify::KeySource {
 public:
  FixedKeys() {
    auto parsed = mpa::verify::Jwks::parse(kJwks, "fuzz");
    if (!parsed.ok()) std::abort();
    set_ = *parsed;
  }
  mpa::Result<std::shared_ptr<const mpa::verify::Jwks>> keys() override { return set_; }
  mpa::Result<std::shared_ptr<const mpa::verify::Jwks>> keys_after_unknown_kid() override {
    return set_;
  }

 private:
  std::shared_ptr<const mpa::verify::Jwks> set_;
};

mpa::verify::Expectations expectations() {
  mpa::verify::Expectations e;
  e.issuer = "https://issuer.test/";
  e.scopes = {"test:read"};
  e.consumer_org = "910514458";
  return e;
}

void check(const mpa::Result<std::string>& result) {
  if (!result.ok()) {
    if (result.error().code != mpa::ErrorCode::invalid_token) std::abort();
    if (result.error().message.empty()) std::abort();  // every refusal says why
    return;
  }
  rapidjson::Document doc;
  doc.Parse(result->c_str());
  if (!doc.IsObject()) std::abort();
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  static FixedKeys keys;
  static const mpa::verify::Expectations expect = expectations();
  const std::string_view input(reinterpret_cast<const char*>(data), size);
  check(mpa::verify::verify_token(input, keys, expect, kNow));
  check(mpa::verify::check_token_claims(input, expect, kNow));
  return 0;
}
