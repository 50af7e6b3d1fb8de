#include "common/json_text.h"

#include <rapidjson/error/en.h>

namespace mpa::json {
namespace {

// How much of a name from the input goes into an error message.
constexpr std::size_t kMaxQuotedBytes = 64;

constexpr std::string_view kReplacementCharacter = "\xEF\xBF\xBD";  // U+FFFD

// Length of the valid UTF-8 sequence that starts at text[at], or 0
// (the well-formed byte sequences of RFC 3629 §4).
std::size_t sequence_length(std::string_view text, std::size_t at) {
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

}  // namespace

bool is_valid_utf8(std::string_view text) {
  for (std::size_t at = 0; at < text.size();) {
    const std::size_t length = sequence_length(text, at);
    if (length == 0) return false;
    at += length;
  }
  return true;
}

std::string to_valid_utf8(std::string_view text) {
  std::string out;
  out.reserve(text.size());
  for (std::size_t at = 0; at < text.size();) {
    const std::size_t length = sequence_length(text, at);
    if (length == 0) {
      out += kReplacementCharacter;
      ++at;
    } else {
      out.append(text.substr(at, length));
      at += length;
    }
  }
  return out;
}

namespace {

// Tokens and almost every other answer are printable ASCII without quotes
// or backslashes: such text needs neither the UTF-8 walk nor RapidJSON's
// per-character escaping, and goes out as it is.
bool needs_no_escaping(std::string_view text) {
  for (const char c : text) {
    const auto u = static_cast<unsigned char>(c);
    if (u < 0x20 || u >= 0x7f || c == '"' || c == '\\') return false;
  }
  return true;
}

}  // namespace

void write_string(Writer& writer, std::string_view text) {
  if (needs_no_escaping(text)) {
    std::string quoted;
    quoted.reserve(text.size() + 2);
    quoted += '"';
    quoted += text;
    quoted += '"';
    writer.RawValue(quoted.data(), quoted.size(), rapidjson::kStringType);
    return;
  }
  const std::string valid = to_valid_utf8(text);
  writer.String(valid.data(), static_cast<rapidjson::SizeType>(valid.size()), true);
}

void write_key(Writer& writer, std::string_view key) {
  const std::string valid = to_valid_utf8(key);
  writer.Key(valid.data(), static_cast<rapidjson::SizeType>(valid.size()), true);
}

const rapidjson::Value* find(const rapidjson::Value& object, std::string_view name) {
  for (rapidjson::SizeType i = 0; i < object.MemberCount(); ++i) {
    const auto& member = member_at(object, i);
    if (view(member.name) == name) return &member.value;
  }
  return nullptr;
}

std::string compact(const rapidjson::Value& value) {
  rapidjson::StringBuffer buffer;
  Writer writer(buffer);
  value.Accept(writer);
  return std::string(buffer.GetString(), buffer.GetSize());
}

std::string_view view(const rapidjson::Value& value) {
  return std::string_view(value.GetString(), value.GetStringLength());
}

std::string quoted(std::string_view text) {
  std::string valid = to_valid_utf8(text);
  if (valid.size() <= kMaxQuotedBytes) return "\"" + valid + "\"";
  std::size_t cut = kMaxQuotedBytes;
  // Step back over continuation bytes to the start of a character.
  while (cut > 0 && (static_cast<unsigned char>(valid[cut]) & 0xC0) == 0x80) --cut;
  valid.resize(cut);
  return "\"" + valid + "...\"";
}

std::string parse_strict(rapidjson::Document& document, std::string_view text) {
  constexpr unsigned kFlags = rapidjson::kParseValidateEncodingFlag | rapidjson::kParseIterativeFlag;
  document.Parse<kFlags>(text.data(), text.size());
  if (!document.HasParseError()) return {};
  // RapidJSON's words are sentences ("Invalid value."); make them a clause.
  std::string words = rapidjson::GetParseError_En(document.GetParseError());
  if (!words.empty() && words.back() == '.') words.pop_back();
  if (!words.empty() && words[0] >= 'A' && words[0] <= 'Z') words[0] = static_cast<char>(words[0] - 'A' + 'a');
  return words + " (at byte " + std::to_string(document.GetErrorOffset()) + ")";
}

bool nesting_within(std::string_view text, int max_depth) {
  int depth = 0;
  bool in_string = false;
  bool escaped = false;
  for (const char c : text) {
    if (in_string) {
      if (escaped) {
        escaped = false;
      } else if (c == '\\') {
        escaped = true;
      } else if (c == '"') {
        in_string = false;
      }
      continue;
    }
    if (c == '"') {
      in_string = true;
    } else if (c == '[' || c == '{') {
      if (++depth > max_depth) return false;
    } else if (c == ']' || c == '}') {
      --depth;
    }
  }
  return true;
}

}  // namespace mpa::json
