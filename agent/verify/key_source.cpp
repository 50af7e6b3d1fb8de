// The key sources: a JWKS file, and the cache in front of the issuer.
#include "agent/verify/key_source.h"

#include "common/file_read.h"
#include "common/log.h"

namespace mpa::verify {

Result<std::shared_ptr<FileKeys>> FileKeys::load(const std::string& path) {
  // Public material, often installed as a symlink.
  auto read = read_file(path, {kMaxJwksBytes, FileModeCheck::not_writable_by_others, true});
  if (!read) {
    const FileProblem& problem = read.problem();
    std::string why = problem.kind == FileProblem::Kind::too_large
                          ? "larger than " + std::to_string(kMaxJwksBytes) + " bytes"
                      : problem.kind == FileProblem::Kind::not_regular_file ? "not a regular file"
                      : problem.kind == FileProblem::Kind::writable_by_others
                          ? "writable by others (mode " + mode_text(problem.mode) + ")"
                          : errno_text(problem.error_number);
    return make_error(ErrorCode::invalid_config, path + ": cannot use the JWKS file (" + why + ")");
  }
  MPA_ASSIGN_OR_RETURN(auto set, Jwks::parse(read.bytes(), path));
  return std::shared_ptr<FileKeys>(new FileKeys(std::move(set)));
}

CachedJwks::CachedJwks(Fetch fetch, std::string source, Clock clock, JwksCachePolicy policy)
    : fetch_(std::move(fetch)), source_(std::move(source)), clock_(std::move(clock)),
      policy_(policy) {}

Result<std::shared_ptr<const Jwks>> CachedJwks::keys() {
  {
    std::lock_guard lock(state_);
    if (set_ && clock_.steady_now() - fetched_at_ < policy_.refresh_after) return set_;
  }
  return refresh(false);
}

Result<std::shared_ptr<const Jwks>> CachedJwks::keys_after_unknown_kid() { return refresh(true); }

std::size_t CachedJwks::fetch_count() const {
  std::lock_guard lock(state_);
  return fetches_;
}

Result<std::shared_ptr<const Jwks>> CachedJwks::refresh(bool for_unknown_kid) {
  std::lock_guard one_fetch(fetching_);
  {
    std::lock_guard lock(state_);
    const auto now = clock_.steady_now();
    const auto recent = [&](const auto& at) { return at && now - *at < policy_.min_fetch_interval; };
    // Another thread may have fetched while this one waited.
    if (!for_unknown_kid && set_ && now - fetched_at_ < policy_.refresh_after) return set_;
    if (for_unknown_kid && set_ && recent(last_unknown_kid_fetch_)) return set_;
    if (recent(last_failure_)) {
      if (set_ && now - fetched_at_ <= policy_.max_stale) return set_;
      return make_error(ErrorCode::unavailable, "the issuer's keys could not be fetched from " +
                                                    source_ + " in the last minute; try again later");
    }
  }
  auto body = fetch_();  // no lock held while the network is out
  auto parsed = body ? Jwks::parse(*body, source_) : Result<std::shared_ptr<const Jwks>>(body.error());
  std::lock_guard lock(state_);
  const auto now = clock_.steady_now();
  ++fetches_;
  if (for_unknown_kid) last_unknown_kid_fetch_ = now;
  if (!parsed) {
    last_failure_ = now;
    return after_failure(parsed.error(), now);
  }
  last_failure_.reset();
  set_ = *parsed;
  fetched_at_ = now;
  return set_;
}

Result<std::shared_ptr<const Jwks>> CachedJwks::after_failure(
    const Error& error, std::chrono::steady_clock::time_point now) {
  if (!set_) return error.with_context("cannot fetch the issuer's keys");
  const auto age = std::chrono::duration_cast<std::chrono::seconds>(now - fetched_at_);
  if (age > policy_.max_stale) {
    return make_error(ErrorCode::unavailable,
                      "the issuer's keys were last fetched " + std::to_string(age.count()) +
                          " s ago, longer than the " + std::to_string(policy_.max_stale.count()) +
                          " s a held set may serve; fetching them again failed: " + error.message);
  }
  log::warning("cannot fetch the issuer's keys again (" + error.message +
               "); verifying with the set fetched " + std::to_string(age.count()) + " s ago");
  return set_;
}

}  // namespace mpa::verify
