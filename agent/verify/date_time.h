// The date-times of consent tokens: Altinn 2's ValidToDate and Altinn 3's
// consented / validTo ("2026-07-18T07:57:15.639509+00:00").
#pragma once

#include <cstdint>
#include <optional>
#include <string_view>

namespace mpa::verify {

// "YYYY-MM-DD[T ]HH:MM:SS[.fraction][Z|+HH:MM|-HH:MM]" as epoch seconds.
// Without an offset the text is read as Europe/Oslo's earliest meaning
// (UTC+2), so that a consent is never taken to last longer than meant.
std::optional<std::int64_t> parse_date_time(std::string_view text);

}  // namespace mpa::verify
