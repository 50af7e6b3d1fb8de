#include "agent/http/retry_policy.h"

#include <curl/curl.h>

#include <algorithm>
#include <ctime>
#include <random>
#include <thread>

#include "common/text.h"

namespace mpa {
namespace {

// Delta-seconds longer than this many digits is capped without parsing.
constexpr std::size_t kMaxRetryAfterDigits = 9;

// RFC 9110 §5.6.7 IMF-fixdate ("Sun, 06 Nov 1994 08:49:37 GMT") as epoch
// seconds. libcurl parses; the text must then be exactly the IMF-fixdate
// of what it parsed, which refuses the obsolete and loose forms curl_getdate
// also takes, a weekday that does not match, and dates that do not exist.
std::optional<std::int64_t> parse_imf_fixdate(const std::string& text) {
  const time_t parsed = curl_getdate(text.c_str(), nullptr);
  if (parsed == -1) return std::nullopt;
  std::tm tm{};
  if (gmtime_r(&parsed, &tm) == nullptr) return std::nullopt;
  char canonical[40];
  // The agent never calls setlocale, so %a and %b are the C locale's
  // English names that HTTP uses.
  if (std::strftime(canonical, sizeof canonical, "%a, %d %b %Y %H:%M:%S GMT", &tm) == 0 ||
      text != canonical) {
    return std::nullopt;
  }
  return static_cast<std::int64_t>(parsed);
}

}  // namespace

std::chrono::milliseconds backoff_with_jitter(int attempt) {
  // Jitter needs no cryptographic randomness; a per-thread engine keeps
  // concurrent exchanges free of shared state.
  thread_local std::minstd_rand engine(static_cast<std::minstd_rand::result_type>(
      std::chrono::steady_clock::now().time_since_epoch().count() ^
      static_cast<std::int64_t>(std::hash<std::thread::id>{}(std::this_thread::get_id()))));
  const int doublings = std::clamp(attempt - 1, 0, 16);
  const std::chrono::milliseconds ceiling =
      std::min(kMaxBackoff, kFirstBackoff * (std::int64_t{1} << doublings));
  std::uniform_int_distribution<std::int64_t> pick(0, ceiling.count());
  return std::chrono::milliseconds(pick(engine));
}

std::optional<int> parse_retry_after(const std::string& value, std::int64_t now) {
  if (all_digits(value)) {
    if (value.size() > kMaxRetryAfterDigits) return kMaxRetryAfterSeconds;
    return std::min(std::stoi(value), kMaxRetryAfterSeconds);
  }
  const auto date = parse_imf_fixdate(value);
  if (!date) return std::nullopt;
  return static_cast<int>(std::clamp<std::int64_t>(*date - now, 0, kMaxRetryAfterSeconds));
}

int RetryPolicy::attempt_timeout_seconds(int cap) const {
  const auto remaining =
      std::chrono::ceil<std::chrono::seconds>(deadline_ - clock_.steady_now()).count();
  return static_cast<int>(std::clamp<std::int64_t>(remaining, 1, std::max(1, cap)));
}

std::chrono::milliseconds RetryPolicy::wait_after(int attempt, std::optional<int> retry_after) {
  if (retry_after) return std::chrono::seconds(*retry_after);
  return backoff_with_jitter(attempt);
}

}  // namespace mpa
