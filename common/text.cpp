#include "common/text.h"

#include <algorithm>
#include <cctype>
#include <cstring>
#include <system_error>

namespace mpa {
namespace {

std::string printable_text(std::string_view text, std::size_t max_bytes, bool in_quotes) {
  std::string out;
  std::size_t at = 0;
  while (at < text.size()) {
    const std::size_t length = utf8_sequence_length(text, at);
    if (at + std::max<std::size_t>(length, 1) > max_bytes) break;
    const auto byte = static_cast<unsigned char>(text[at]);
    const bool hidden = length == 0 || (length == 1 && is_control(text[at])) ||
                        (in_quotes && (byte == '"' || byte == '\\'));
    if (hidden) {
      out += '?';
    } else {
      out.append(text.substr(at, length));
    }
    at += std::max<std::size_t>(length, 1);
  }
  if (at < text.size()) out += "...";
  return out;
}

}  // namespace

// RFC 3629 §4's table of well-formed sequences.
std::size_t utf8_sequence_length(std::string_view text, std::size_t at) {
  const auto byte = [&](std::size_t k) { return static_cast<unsigned char>(text[at + k]); };
  const unsigned char lead = byte(0);
  if (lead < 0x80) return 1;
  std::size_t length = 0;
  unsigned char second_min = 0x80;
  unsigned char second_max = 0xBF;
  if (lead >= 0xC2 && lead <= 0xDF) {
    length = 2;
  } else if (lead == 0xE0) {
    length = 3;
    second_min = 0xA0;  // no overlong forms
  } else if (lead == 0xED) {
    length = 3;
    second_max = 0x9F;  // no surrogates
  } else if (lead >= 0xE1 && lead <= 0xEF) {
    length = 3;
  } else if (lead == 0xF0) {
    length = 4;
    second_min = 0x90;  // no overlong forms
  } else if (lead >= 0xF1 && lead <= 0xF3) {
    length = 4;
  } else if (lead == 0xF4) {
    length = 4;
    second_max = 0x8F;  // nothing above U+10FFFF
  } else {
    return 0;
  }
  if (text.size() - at < length) return 0;
  if (byte(1) < second_min || byte(1) > second_max) return 0;
  for (std::size_t k = 2; k < length; ++k) {
    if (byte(k) < 0x80 || byte(k) > 0xBF) return 0;
  }
  return length;
}

std::string_view trim_whitespace(std::string_view text) {
  const auto is_space = [](char c) { return c == ' ' || c == '\t' || c == '\r' || c == '\n'; };
  while (!text.empty() && is_space(text.front())) text.remove_prefix(1);
  while (!text.empty() && is_space(text.back())) text.remove_suffix(1);
  return text;
}

bool starts_with_ignoring_case(std::string_view text, std::string_view prefix) {
  if (text.size() < prefix.size()) return false;
  return std::equal(prefix.begin(), prefix.end(), text.begin(), [](char a, char b) {
    return std::tolower(static_cast<unsigned char>(a)) == std::tolower(static_cast<unsigned char>(b));
  });
}

bool all_digits(std::string_view text) {
  return !text.empty() && std::all_of(text.begin(), text.end(), [](char c) { return c >= '0' && c <= '9'; });
}

bool is_control(char c) {
  const auto byte = static_cast<unsigned char>(c);
  return byte < 0x20 || byte == 0x7f;
}

std::string printable(std::string_view text, std::size_t max_bytes) {
  return printable_text(text, max_bytes, false);
}

std::string errno_text(int error_number) {
  // GNU strerror_r, not std::generic_category().message(): the same words
  // without a virtual call, which UBSan's type check could not verify when
  // the process is out of descriptors (it needs a pipe), the very moment
  // this is called for EMFILE.
  char buffer[256];
  return ::strerror_r(error_number, buffer, sizeof buffer);
}

std::string quoted(std::string_view text, std::size_t max_bytes) {
  return "\"" + printable_text(text, max_bytes, true) + "\"";
}

}  // namespace mpa
