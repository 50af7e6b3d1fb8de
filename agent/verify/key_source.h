// Where verify_token's keys come from: a JWKS file read once, or the
// issuer's jwks_uri (found in its RFC 8414 metadata) with a cache that
// fetches again on an unknown kid at most once a minute and serves the last
// good set, within a bound, while the issuer is unreachable.
#pragma once

#include <chrono>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <string>

#include "agent/http/http.h"
#include "agent/verify/jwks.h"
#include "agent/verify/verifier.h"
#include "common/clock.h"

namespace mpa::verify {

// A key set from a file (--jwks, [verify] jwks_file): what it holds is all
// there is, so an unknown kid is simply unknown.
class FileKeys final : public KeySource {
 public:
  // Errors: invalid_config naming the file.
  static Result<std::shared_ptr<FileKeys>> load(const std::string& path);
  Result<std::shared_ptr<const Jwks>> keys() override { return set_; }
  Result<std::shared_ptr<const Jwks>> keys_after_unknown_kid() override { return set_; }

 private:
  explicit FileKeys(std::shared_ptr<const Jwks> set) : set_(std::move(set)) {}
  std::shared_ptr<const Jwks> set_;
};

struct JwksCachePolicy {
  // A set this old is fetched again before it is used.
  std::chrono::seconds refresh_after{std::chrono::hours(1)};
  // At most one fetch this often, for an unknown kid or after a failure.
  std::chrono::seconds min_fetch_interval{std::chrono::minutes(1)};
  // While the issuer is unreachable the last good set serves until it is
  // this old; then verification fails (unavailable) rather than trusting
  // keys the issuer may have withdrawn.
  std::chrono::seconds max_stale{std::chrono::hours(24)};
};

class CachedJwks final : public KeySource {
 public:
  // Fetches the JWKS document (the body); `source` names it in messages.
  using Fetch = std::function<Result<std::string>()>;

  CachedJwks(Fetch fetch, std::string source, Clock clock, JwksCachePolicy policy = {});

  Result<std::shared_ptr<const Jwks>> keys() override;
  Result<std::shared_ptr<const Jwks>> keys_after_unknown_kid() override;

  // Successful and failed fetches so far (status, tests).
  std::size_t fetch_count() const;

  CachedJwks(const CachedJwks&) = delete;  // holds a mutex
  CachedJwks& operator=(const CachedJwks&) = delete;

 private:
  Result<std::shared_ptr<const Jwks>> refresh(bool for_unknown_kid);
  Result<std::shared_ptr<const Jwks>> after_failure(const Error& error,
                                                    std::chrono::steady_clock::time_point now);

  Fetch fetch_;
  std::string source_;
  Clock clock_;
  JwksCachePolicy policy_;
  std::mutex fetching_;  // one fetch at a time; never held with state_
  mutable std::mutex state_;
  std::shared_ptr<const Jwks> set_;
  std::chrono::steady_clock::time_point fetched_at_{};
  std::optional<std::chrono::steady_clock::time_point> last_unknown_kid_fetch_;
  std::optional<std::chrono::steady_clock::time_point> last_failure_;
  std::size_t fetches_ = 0;
};

// The issuer's keys over verified TLS: GET <issuer>.well-known/
// oauth-authorization-server, check its "issuer" is `issuer` (RFC 8414
// §3.3), GET its https jwks_uri. Errors: unavailable (network, HTTP
// status), invalid_config (metadata that does not fit).
CachedJwks::Fetch issuer_jwks_fetch(const std::string& issuer, const HttpOptions& options);

}  // namespace mpa::verify
