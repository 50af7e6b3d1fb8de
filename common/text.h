// Small text helpers shared by the parsers of outside input.
#pragma once

#include <algorithm>
#include <cstddef>
#include <string>
#include <string_view>
#include <vector>

namespace mpa {

// How much outside text goes into one message unless a caller says
// otherwise: enough to recognise a name, too little to flood a log line.
inline constexpr std::size_t kMaxQuotedBytes = 64;

// Outside text (a value from a file, a peer's name, a server's words) made
// safe for a message or a log line, by one rule: valid UTF-8 is kept;
// control characters and bytes that are not UTF-8 become '?'; the text is
// cut after `max_bytes` at a character boundary, with "..." when cut.
std::string printable(std::string_view text, std::size_t max_bytes = kMaxQuotedBytes);

// printable() in double quotes, with quotes and backslashes inside also
// shown as '?', so the quoted part cannot seem to end early.
std::string quoted(std::string_view text, std::size_t max_bytes = kMaxQuotedBytes);

// strerror's words, without its shared buffer (callers may run beside
// other threads).
std::string errno_text(int error_number);

// `text` without the spaces, tabs, CRs and LFs around it (HTTP's OWS and
// line ends).
std::string_view trim_whitespace(std::string_view text);

// Whether `text` starts with `prefix`, ASCII letters compared without case
// (URL schemes, HTTP header names).
bool starts_with_ignoring_case(std::string_view text, std::string_view prefix);

// True for a non-empty run of ASCII digits.
bool all_digits(std::string_view text);

// True for the C0 controls and DEL.
bool is_control(char c);

// Length of the valid UTF-8 sequence that starts at text[at], or 0
// (the well-formed byte sequences of RFC 3629 §4).
std::size_t utf8_sequence_length(std::string_view text, std::size_t at);

// Levenshtein distance, for "did you mean" on unknown names. Only called
// with short names (keys, field names): O(|a|·|b|).
inline std::size_t edit_distance(std::string_view a, std::string_view b) {
  std::vector<std::size_t> row(b.size() + 1);
  for (std::size_t j = 0; j <= b.size(); ++j) row[j] = j;
  for (std::size_t i = 1; i <= a.size(); ++i) {
    std::size_t diagonal = row[0];
    row[0] = i;
    for (std::size_t j = 1; j <= b.size(); ++j) {
      const std::size_t above = row[j];
      row[j] = std::min({row[j] + 1, row[j - 1] + 1, diagonal + (a[i - 1] == b[j - 1] ? 0 : 1)});
      diagonal = above;
    }
  }
  return row[b.size()];
}

}  // namespace mpa
