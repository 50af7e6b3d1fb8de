// The clocks, behind one seam: steady time for deadlines and time-outs,
// system time (epoch seconds) for token lifetimes, certificate validity and
// dates. Components that wait or judge time take a Clock, so that tests set
// the time instead of waiting for it.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <string>

namespace mpa {

struct Clock {
  std::function<std::chrono::steady_clock::time_point()> steady_now;
  std::function<std::int64_t()> epoch_seconds;

  // The system's clocks.
  static Clock system();
};

// The system's clocks, for code that has no Clock injected.
std::chrono::steady_clock::time_point steady_now();
std::int64_t epoch_seconds_now();

enum class UtcFormat {
  iso8601,   // 2026-11-24T10:00:00Z (logs, messages about tokens)
  readable,  // 2026-11-24 10:00:00Z (command output)
  date,      // 2026-11-24
};

// `epoch_seconds` in UTC; "epoch second N" outside years 1970..9999, which
// are not dates a person can use.
std::string format_utc(std::int64_t epoch_seconds, UtcFormat format = UtcFormat::iso8601);

}  // namespace mpa
