#include "common/clock.h"

#include <ctime>

namespace mpa {

Clock Clock::system() { return Clock{&mpa::steady_now, &mpa::epoch_seconds_now}; }

std::chrono::steady_clock::time_point steady_now() { return std::chrono::steady_clock::now(); }

std::int64_t epoch_seconds_now() {
  return std::chrono::duration_cast<std::chrono::seconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

std::string format_utc(std::int64_t epoch_seconds, UtcFormat format) {
  constexpr std::int64_t kYear10000 = 253402300800;
  if (epoch_seconds < 0 || epoch_seconds >= kYear10000) {
    return "epoch second " + std::to_string(epoch_seconds);
  }
  const char* pattern = format == UtcFormat::iso8601    ? "%Y-%m-%dT%H:%M:%SZ"
                        : format == UtcFormat::readable ? "%Y-%m-%d %H:%M:%SZ"
                                                        : "%Y-%m-%d";
  const auto t = static_cast<std::time_t>(epoch_seconds);
  std::tm tm{};
  gmtime_r(&t, &tm);
  char out[32];
  std::strftime(out, sizeof out, pattern, &tm);
  return out;
}

}  // namespace mpa
