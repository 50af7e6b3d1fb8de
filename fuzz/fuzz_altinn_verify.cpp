// Altinn consent-token verifier on arbitrary input: the whole token path
// (size, split, base64url, header, signature) and the claim checks on their
// own (reached in real life only after a valid signature, so fuzzed
// directly). Refusals are expected; crashes, sanitizer reports, a refusal
// without words or an acceptance that is not a JSON object with "services"
// are not.
#include <rapidjson/document.h>
#include <unistd.h>

#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <memory>
#include <string>
#include <string_view>

#include "agent/altinn/altinn.h"

namespace {

// A throwaway self-signed certificate whose key signed the corpus tokens
// (fuzz/corpus/fuzz_altinn_verify/token_*); the key itself was discarded.
// Made by tests/vectors/make_altinn_vectors.py --now 1795000000: valid from
// a day before kNow, so signed tokens get past the certificate's dates.
constexpr const char* kCertificatePem = R"(
-----BEGIN CERTIFICATE-----
MIIDGDCCAgCgAwIBAgIUQXYHf/TIh/6mTVnePtuIwc4MOXkwDQYJKoZIhvcNAQEL
BQAwRjELMAkGA1UEBhMCTk8xHTAbBgNVBAoMFEFsdGlubiB0ZXN0IHN0YW5kLWlu
MRgwFgYDVQQDDA9hbHRpbm4gc3RhbmQtaW4wHhcNMjYxMTE3MTEwNjQwWhcNMjcx
MTE4MTEwNjQwWjBGMQswCQYDVQQGEwJOTzEdMBsGA1UECgwUQWx0aW5uIHRlc3Qg
c3RhbmQtaW4xGDAWBgNVBAMMD2FsdGlubiBzdGFuZC1pbjCCASIwDQYJKoZIhvcN
AQEBBQADggEPADCCAQoCggEBAKADpp/tTiVRtI8DDMeOysPsA8y3gLryX4KYPJYd
jGf4NsxiTy+fQQAltQ9QpZCOYT1WzYY2imZmhLEjJxr8T81xHLxfnAhZKQNQYraL
mugGMILjeyJSx2lRC3CDqWR75G73ygNaWNTd912NatvLncuBloVlmFczBGxkHSFX
OLHx7aH7/frolZ9LEATAt7zKJz9JS9jZi5r7fn6ba3ifetLSy0GKgWBtovGg9gXK
+0FSNfL8yUiWirqSJHornFj6CJeMwpMeMAYvQZTCHl4DGIp9P4a5DnTUfFehoLSH
NNwD4MLCnej/ZTw5Xv9XELaQF2SE0sP2CtOyXg0el7PYuAECAwEAATANBgkqhkiG
9w0BAQsFAAOCAQEAZFwzkc52ZQKI7R5MQbTT+kr97WndfUOl6cfzzsvWv1D9e00Q
pxlKPng97SNYKS6Q57Z4CozEvjjSRzguY+ptjwcxUUzWNtRnfzq6At/er5KFz5i4
zZucyPDVjMi8E5ge4EwQTLHnxs06RgXYDLnQ0sbI9ZGXAfd+wmVAIEZWoEK9Ricb
N7S5cmP7MNCMwM1F/iRhdO+5HOPaAjwt/NXTkz7pesiUK75PFuiJ4g74FTE5wdFi
Jr4xXGDhyoentNRzBlomPuRfB26MlI5B2pA5wec6Qulooc41inXiWv1LIzPG7++I
qC8BpcMJdvJUdfSjcAsiOH5r/9di58jvUVNZvA==
-----END CERTIFICATE-----
)";
// The instant the corpus tokens were made around.
constexpr std::int64_t kNow = 1795000000;

const mpa::altinn::ConsentVerifier& verifier() {
  static const std::shared_ptr<const mpa::altinn::ConsentVerifier> instance = [] {
    char path[] = "/tmp/fuzz-altinn-XXXXXX";
    const int fd = ::mkstemp(path);
    if (fd < 0) std::abort();
    const std::string_view pem(kCertificatePem);
    if (::write(fd, pem.data(), pem.size()) != static_cast<ssize_t>(pem.size())) std::abort();
    ::close(fd);
    auto created = mpa::altinn::ConsentVerifier::create({path}, 60);
    ::unlink(path);
    if (!created.ok()) std::abort();
    return *created;
  }();
  return *instance;
}

void check(const mpa::Result<std::string>& result) {
  if (!result.ok()) {
    if (result.error().code != mpa::ErrorCode::invalid_token) std::abort();
    if (result.error().message.empty()) std::abort();  // every refusal says why
    return;
  }
  rapidjson::Document doc;
  doc.Parse(result->c_str());
  if (!doc.IsObject() || !doc.HasMember("services") || !doc["services"].IsArray()) std::abort();
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view input(reinterpret_cast<const char*>(data), size);
  check(verifier().verify(input, kNow));
  check(mpa::altinn::check_consent_claims(input, kNow, 60));
  return 0;
}
