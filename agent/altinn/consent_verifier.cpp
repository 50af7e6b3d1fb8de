// Offline verification of Altinn's self-contained consent tokens: the
// compact JWS (RFC 7515 §7.1), its header, and the RS256 signature
// (RFC 7518 §3.3) by one of the configured Altinn certificates.
#include <openssl/bio.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>

#include <array>
#include <ctime>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "agent/altinn/altinn.h"
#include "agent/altinn/detail.h"
#include "agent/jwt/jose.h"
#include "agent/verify/jws.h"
#include "common/clock.h"
#include "common/file_read.h"
#include "common/log.h"
#include "common/openssl_handles.h"
#include "common/text.h"

namespace mpa::altinn {
namespace {

using detail::refuse;

// A certificate file larger than this is not a handful of PEM certificates.
constexpr std::size_t kMaxCertificateFileBytes = 1024 * 1024;
// Altinn's keys are 2048 bits or more; a smaller one is not Altinn's.
constexpr int kMinRsaBits = 2048;
constexpr std::size_t kSha1Bytes = 20;
// A certificate about to expire is worth a warning at load this long before.
constexpr std::int64_t kExpiryWarningSeconds = 30 * 86400;

struct TrustedCertificate {
  std::string subject;
  std::array<unsigned char, kSha1Bytes> sha1{};
  std::int64_t not_before = 0;  // epoch seconds
  std::int64_t not_after = 0;
  Handle<X509> cert;  // owns the public key used to verify
};

std::optional<std::int64_t> epoch_seconds(const ASN1_TIME* time) {
  std::tm tm{};
  if (time == nullptr || ASN1_TIME_to_tm(time, &tm) != 1) return std::nullopt;
  return static_cast<std::int64_t>(timegm(&tm));
}

std::string openssl_reason() {
  const char* reason = ERR_reason_error_string(ERR_peek_last_error());
  std::string out = reason != nullptr ? reason : "no detail from OpenSSL";
  ERR_clear_error();
  return out;
}

// Certificates are public material and often symlinks (/etc/ssl/certs).
Result<std::string> read_certificate_file(const std::string& path) {
  auto read = read_file(path, {kMaxCertificateFileBytes, FileModeCheck::none, true});
  if (read) return std::move(read.bytes());
  const FileProblem& problem = read.problem();
  if (problem.kind == FileProblem::Kind::too_large) {
    return make_error(ErrorCode::invalid_config,
                      path + ": larger than " + std::to_string(kMaxCertificateFileBytes) +
                          " bytes; expected PEM certificates");
  }
  const std::string why = problem.kind == FileProblem::Kind::not_regular_file
                              ? std::string("not a regular file")
                              : errno_text(problem.error_number);
  return make_error(ErrorCode::invalid_config,
                    path + ": cannot read the Altinn certificate file (" + why + ")");
}

Result<TrustedCertificate> trusted(Handle<X509> cert, const std::string& path) {
  TrustedCertificate t;
  char subject[256];
  X509_NAME_oneline(X509_get_subject_name(cert.get()), subject, sizeof subject);
  t.subject = subject;
  EVP_PKEY* key = X509_get0_pubkey(cert.get());
  if (key == nullptr || EVP_PKEY_get_base_id(key) != EVP_PKEY_RSA) {
    return make_error(ErrorCode::invalid_config,
                      path + ": certificate " + t.subject +
                          " has no RSA public key; Altinn signs with RS256");
  }
  if (EVP_PKEY_get_bits(key) < kMinRsaBits) {
    return make_error(ErrorCode::invalid_config,
                      path + ": certificate " + t.subject + " has an RSA key of " +
                          std::to_string(EVP_PKEY_get_bits(key)) + " bits; at least " +
                          std::to_string(kMinRsaBits) + " expected");
  }
  const auto not_before = epoch_seconds(X509_get0_notBefore(cert.get()));
  const auto not_after = epoch_seconds(X509_get0_notAfter(cert.get()));
  if (!not_before || !not_after) {
    return make_error(ErrorCode::invalid_config,
                      path + ": certificate " + t.subject + " has an unreadable validity period");
  }
  t.not_before = *not_before;
  t.not_after = *not_after;
  unsigned int length = 0;
  if (X509_digest(cert.get(), EVP_sha1(), t.sha1.data(), &length) != 1 || length != kSha1Bytes) {
    return make_error(ErrorCode::internal, path + ": cannot compute the certificate's SHA-1 (" +
                                               openssl_reason() + ")");
  }
  t.cert = std::move(cert);
  return t;
}

// Every certificate in one PEM file (at least one).
Status load_file(const std::string& path, std::vector<TrustedCertificate>& out) {
  auto data = read_certificate_file(path);
  if (!data) return std::move(data).error();
  Handle<BIO> bio(BIO_new_mem_buf(data->data(), static_cast<int>(data->size())));
  if (!bio) return make_error(ErrorCode::internal, "out of memory reading " + path);
  ERR_clear_error();
  std::size_t found = 0;
  while (true) {
    Handle<X509> cert(PEM_read_bio_X509(bio.get(), nullptr, nullptr, nullptr));
    if (!cert) break;
    MPA_ASSIGN_OR_RETURN(TrustedCertificate t, trusted(std::move(cert), path));
    out.push_back(std::move(t));
    ++found;
  }
  // Reading stops with "no start line" at the end of the file; anything
  // else is a damaged certificate.
  const unsigned long last = ERR_peek_last_error();
  const bool clean_end = ERR_GET_LIB(last) == ERR_LIB_PEM &&
                         ERR_GET_REASON(last) == PEM_R_NO_START_LINE;
  if (found == 0 || !clean_end) {
    const std::string reason = openssl_reason();
    return make_error(ErrorCode::invalid_config,
                      path + (found == 0 ? ": no PEM certificate in the file ("
                                         : ": a certificate in the file cannot be read (") +
                          reason + ")");
  }
  ERR_clear_error();
  return {};
}

class AltinnConsentVerifier final : public ConsentVerifier {
 public:
  static Result<std::shared_ptr<const ConsentVerifier>> create(
      const std::vector<std::string>& files, int leeway_seconds) {
    if (files.empty()) {
      return make_error(ErrorCode::invalid_config,
                        "no Altinn certificate configured; verification needs at least one");
    }
    if (leeway_seconds < 0 || leeway_seconds > kMaxLeewaySeconds) {
      return make_error(ErrorCode::invalid_config,
                        "leeway of " + std::to_string(leeway_seconds) +
                            " s is outside 0.." + std::to_string(kMaxLeewaySeconds));
    }
    std::vector<TrustedCertificate> certificates;
    for (const auto& file : files) {
      if (auto loaded = load_file(file, certificates); !loaded) return loaded.error();
    }
    warn_about_validity(certificates, epoch_seconds_now());
    return std::shared_ptr<const ConsentVerifier>(
        new AltinnConsentVerifier(std::move(certificates), leeway_seconds));
  }

  Result<std::string> verify(std::string_view token, std::int64_t now) const override;

  // Holds OpenSSL objects through unique_ptr: moving is fine, copying is not.
  AltinnConsentVerifier(const AltinnConsentVerifier&) = delete;
  AltinnConsentVerifier& operator=(const AltinnConsentVerifier&) = delete;

 private:
  AltinnConsentVerifier(std::vector<TrustedCertificate> certificates, int leeway_seconds)
      : certificates_(std::move(certificates)), leeway_seconds_(leeway_seconds) {}

  Result<std::vector<const TrustedCertificate*>> candidates(
      const rapidjson::Document& header) const;
  std::optional<std::string> outside_validity(const TrustedCertificate& certificate,
                                              std::int64_t now) const;

  // During a rotation the old certificate may run out while the new one
  // serves: a warning, not a refusal (tokens signed by it are refused).
  static void warn_about_validity(const std::vector<TrustedCertificate>& certificates,
                                  std::int64_t now) {
    for (const auto& c : certificates) {
      if (c.not_after < now) {
        log::warning("Altinn certificate " + c.subject + " expired on " + format_utc(c.not_after) +
                     "; tokens signed by it are refused");
      } else if (c.not_before > now) {
        log::warning("Altinn certificate " + c.subject + " is not valid before " +
                     format_utc(c.not_before) + "; tokens signed by it are refused until then");
      } else if (c.not_after - now < kExpiryWarningSeconds) {
        log::warning("Altinn certificate " + c.subject + " expires on " + format_utc(c.not_after) +
                     "; configure Altinn's next certificate beside it");
      }
    }
  }

  std::vector<TrustedCertificate> certificates_;
  int leeway_seconds_;
};

using verify::CompactJws;
using verify::string_member;

constexpr std::string_view kAltinnTyp[] = {"JWT"};
constexpr verify::HeaderRules kAltinnHeaderRules{"Altinn", "the configured Altinn certificates",
                                                 kAltinnTyp};

Result<std::vector<const TrustedCertificate*>> AltinnConsentVerifier::candidates(
    const rapidjson::Document& header) const {
  std::vector<const TrustedCertificate*> out;
  if (!header.HasMember("x5t")) {
    for (const auto& c : certificates_) out.push_back(&c);
    return out;
  }
  const std::string_view x5t = string_member(header, "x5t");
  const auto thumbprint = jose::base64url_decode(x5t);
  if (!thumbprint || thumbprint->size() != kSha1Bytes) {
    return refuse("x5t is not a base64url SHA-1 certificate thumbprint");
  }
  for (const auto& c : certificates_) {
    if (std::memcmp(c.sha1.data(), thumbprint->data(), kSha1Bytes) == 0) out.push_back(&c);
  }
  if (out.empty()) {
    return refuse("no configured certificate has thumbprint x5t " + std::string(x5t) +
                  "; is Altinn's current certificate configured?");
  }
  return out;
}

bool signature_verifies(const TrustedCertificate& trusted, const CompactJws& jws) {
  return verify::rs256_signature_verifies(X509_get0_pubkey(trusted.cert.get()), jws);
}

std::optional<std::string> AltinnConsentVerifier::outside_validity(
    const TrustedCertificate& certificate, std::int64_t now) const {
  if (now > certificate.not_after + leeway_seconds_) {
    return "signed by Altinn certificate " + certificate.subject + ", which expired on " +
           format_utc(certificate.not_after) + " (leeway " + std::to_string(leeway_seconds_) +
           " s); configure Altinn's current certificate";
  }
  if (now < certificate.not_before - leeway_seconds_) {
    return "signed by Altinn certificate " + certificate.subject + ", which is not valid before " +
           format_utc(certificate.not_before) + " (leeway " + std::to_string(leeway_seconds_) +
           " s)";
  }
  return std::nullopt;
}

Result<std::string> AltinnConsentVerifier::verify(std::string_view token,
                                                  std::int64_t now) const {
  if (token.size() > kMaxConsentTokenBytes) {
    return refuse("the token is " + std::to_string(token.size()) + " bytes; at most " +
                  std::to_string(kMaxConsentTokenBytes) + " are accepted");
  }
  auto jws = verify::split_compact_jws(token);
  if (!jws) return std::move(jws).error();
  auto header = detail::parse_strict_object(jws->header, "the header");
  if (!header) return std::move(header).error();
  if (auto checked = verify::check_rs256_header(*header, kAltinnHeaderRules); !checked) return checked.error();
  auto keys = candidates(*header);
  if (!keys) return std::move(keys).error();
  // A signature by a certificate outside its validity period (with the
  // leeway) is not trusted: Altinn has rotated away from it, or not yet to it.
  std::optional<std::string> untrusted_signer;
  bool verified = false;
  for (const auto* key : *keys) {
    if (!signature_verifies(*key, *jws)) continue;
    if (auto outside = outside_validity(*key, now)) {
      untrusted_signer = std::move(outside);
      continue;
    }
    verified = true;
    break;
  }
  if (!verified && untrusted_signer) return refuse(*untrusted_signer);
  if (!verified) return refuse("signature does not verify with any configured Altinn certificate");
  return check_consent_claims(jws->payload, now, leeway_seconds_);
}

}  // namespace

Result<std::shared_ptr<const ConsentVerifier>> ConsentVerifier::create(
    const std::vector<std::string>& certificate_files, int leeway_seconds) {
  return AltinnConsentVerifier::create(certificate_files, leeway_seconds);
}

}  // namespace mpa::altinn
