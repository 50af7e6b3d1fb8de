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

#include "agent/altinn.h"

namespace {

// A throwaway self-signed certificate whose key signed the corpus tokens
// (fuzz/corpus/fuzz_altinn_verify/token_*); the key itself was discarded.
constexpr const char* kCertificatePem = R"(
-----BEGIN CERTIFICATE-----
MIIDFDCCAfygAwIBAgIUf3N6e8QXK29A4sC8lL8dVOJrKxkwDQYJKoZIhvcNAQEL
BQAwRDELMAkGA1UEBhMCTk8xHTAbBgNVBAoMFEFsdGlubiB0ZXN0IHN0YW5kLWlu
MRYwFAYDVQQDDA1mdXp6IHN0YW5kLWluMB4XDTI2MTEyMzExMzE1OVoXDTI3MTEy
NDExMzE1OVowRDELMAkGA1UEBhMCTk8xHTAbBgNVBAoMFEFsdGlubiB0ZXN0IHN0
YW5kLWluMRYwFAYDVQQDDA1mdXp6IHN0YW5kLWluMIIBIjANBgkqhkiG9w0BAQEF
AAOCAQ8AMIIBCgKCAQEAocl6484UDBilFVeP2egJ0BXKcRSQJq2JMrFMLCnrvNIh
cATdGyeTw/wERSHpWuuEOYKqTwEVpsuZcb2en/IdTqN2LkzSuZkErsHepb2NhmQS
t6RI7Scbr3s6q9WPcHN3EhD+PlQ4eJR0hM9scStJlg3qZBVt0TrFhkNvjTB5/fF2
OPxndz4pfr2cH7ueiKn+NP3ZpMDVmXIYALAHhzOmiEM+NZCP+ZuiJvsArGrvThB3
3tUY52ung6JeWUzPaieI6XDCBLCyTy9mJQ+QCWbgDqzX7xbe5f8kN5Tz6iooyiuk
8LGlGb3o/YUvtw921B7DxQSb+5aEtz2W99Ka+K8fSwIDAQABMA0GCSqGSIb3DQEB
CwUAA4IBAQA9+SmC0OHHvyDZqDupnhoh9ja0Ufay8Vva6MKauree9I6NNityStEB
KZU52QIET2IsqD4PnfzLaWy4hbEJFNhkS6seKTt1esmhRls5m+poZiseGKtyDbpI
M7U5RAXq2hizMzen3bXiNgFo/SM1yKstggAs9G5SvmcgwqgAQSiggAiXRaDajKDp
useDct4GXO9GRyNlgEmucCj3S11J14BZsho9oJ1VX1LovyqFPbLWNvB0cWkfsSeE
Tj9Cj2J8muDTv+X9PjE7w28MJ16VdXT9AdzF7qoVfCmbq8iQDH9vCkvbdAUlcU4z
dQg4LLRW3Cq6jnz9itloj/ujanHXzEn/
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
