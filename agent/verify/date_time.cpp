// Date-times of consent tokens, as epoch seconds.
#include "agent/verify/date_time.h"

#include <chrono>
#include <string>

#include "common/text.h"

namespace mpa::verify {
namespace {

// Europe/Oslo is UTC+1 or UTC+2: a date-time without an offset (older Altinn
// tokens) is read as the earliest instant it can mean, so a consent is never
// taken to last longer than Altinn meant.
constexpr std::int64_t kOsloMaxOffsetSeconds = 2 * 3600;

std::optional<int> two_digits(std::string_view s, std::size_t at) {
  if (at + 2 > s.size() || !all_digits(s.substr(at, 2))) return std::nullopt;
  return (s[at] - '0') * 10 + (s[at + 1] - '0');
}

}  // namespace

std::optional<std::int64_t> parse_date_time(std::string_view s) {
  if (s.size() < 19 || !all_digits(s.substr(0, 4)) || s[4] != '-' || s[7] != '-' ||
      (s[10] != 'T' && s[10] != ' ') || s[13] != ':' || s[16] != ':') {
    return std::nullopt;
  }
  const int year = std::stoi(std::string(s.substr(0, 4)));
  const auto month = two_digits(s, 5), day = two_digits(s, 8), hour = two_digits(s, 11),
             minute = two_digits(s, 14), second = two_digits(s, 17);
  if (!month || !day || !hour || !minute || !second || *hour > 23 || *minute > 59 ||
      *second > 59) {
    return std::nullopt;
  }
  const std::chrono::year_month_day date{std::chrono::year{year},
                                         std::chrono::month{static_cast<unsigned>(*month)},
                                         std::chrono::day{static_cast<unsigned>(*day)}};
  if (!date.ok()) return std::nullopt;
  std::int64_t epoch =
      std::int64_t{std::chrono::sys_days{date}.time_since_epoch().count()} * 86400 +
                       *hour * 3600 + *minute * 60 + *second;
  std::size_t i = 19;
  if (i < s.size() && s[i] == '.') {
    const std::size_t start = ++i;
    while (i < s.size() && s[i] >= '0' && s[i] <= '9') ++i;
    if (i == start || i - start > 9) return std::nullopt;
  }
  const std::string_view zone = s.substr(i);
  if (zone.empty()) return epoch - kOsloMaxOffsetSeconds;
  if (zone == "Z") return epoch;
  const auto zone_hours = two_digits(zone, 1), zone_minutes = two_digits(zone, 4);
  if (zone.size() != 6 || (zone[0] != '+' && zone[0] != '-') || zone[3] != ':' || !zone_hours ||
      !zone_minutes || *zone_hours > 23 || *zone_minutes > 59) {
    return std::nullopt;
  }
  const std::int64_t offset = *zone_hours * 3600 + *zone_minutes * 60;
  return zone[0] == '+' ? epoch - offset : epoch + offset;
}

}  // namespace mpa::verify
