// Mod-11 check digits of Norwegian person and organisation numbers.
#include "agent/verify/norwegian_numbers.h"

#include <initializer_list>
#include <optional>

#include "common/text.h"

namespace mpa::verify {
namespace {

// Mod-11 check digit over `digits` with `weights`; nullopt when no digit is
// possible (remainder 1).
std::optional<int> mod11(std::string_view digits, std::initializer_list<int> weights) {
  int sum = 0;
  std::size_t i = 0;
  for (int w : weights) sum += w * (digits[i++] - '0');
  const int k = 11 - sum % 11;
  if (k == 10) return std::nullopt;
  return k == 11 ? 0 : k;
}

}  // namespace

bool national_identity_number_ok(std::string_view n) {
  if (n.size() != 11 || !all_digits(n)) return false;
  const int day = (n[0] - '0') * 10 + (n[1] - '0');
  const int month = (n[2] - '0') * 10 + (n[3] - '0');
  // D-numbers add 4 to the first digit (day + 40); H-numbers and the
  // synthetic test persons of Tenor (TT02) add 40 or 80 to the month.
  const bool day_ok = (day >= 1 && day <= 31) || (day >= 41 && day <= 71);
  const bool month_ok = month % 40 >= 1 && month % 40 <= 12 && month <= 92;
  const auto k1 = mod11(n, {3, 7, 6, 1, 8, 9, 4, 5, 2});
  const auto k2 = mod11(n, {5, 4, 3, 2, 7, 6, 5, 4, 3, 2});
  return day_ok && month_ok && k1 && *k1 == n[9] - '0' && k2 && *k2 == n[10] - '0';
}

bool organisation_number_ok(std::string_view n) {
  if (n.size() != 9 || !all_digits(n)) return false;
  const auto k = mod11(n, {3, 2, 7, 6, 5, 4, 3, 2});
  return k && *k == n[8] - '0';
}

}  // namespace mpa::verify
