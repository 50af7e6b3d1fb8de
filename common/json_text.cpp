#include "common/json_text.h"

#include <rapidjson/error/en.h>

#include <cstdint>
#include <cstring>
#include <set>

#include "common/text.h"

namespace mpa::json {
namespace {

constexpr std::string_view kReplacementCharacter = "\xEF\xBF\xBD";  // U+FFFD

}  // namespace

bool is_valid_utf8(std::string_view text) {
  for (std::size_t at = 0; at < text.size();) {
    const std::size_t length = utf8_sequence_length(text, at);
    if (length == 0) return false;
    at += length;
  }
  return true;
}

std::string to_valid_utf8(std::string_view text) {
  std::string out;
  out.reserve(text.size());
  for (std::size_t at = 0; at < text.size();) {
    const std::size_t length = utf8_sequence_length(text, at);
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
// per-character escaping, and goes out as it is. It is checked eight bytes
// at a time (a cached token's kilobyte is on the hot path).
bool needs_no_escaping(std::string_view text) {
  constexpr std::uint64_t kOnes = 0x0101010101010101ULL;
  constexpr std::uint64_t kHighBits = 0x8080808080808080ULL;
  // A high bit in each byte of `word` that is below `limit` (limit <= 0x80,
  // the word's own high bits already clear).
  const auto below = [](std::uint64_t word, std::uint64_t limit) {
    return (word - kOnes * limit) & ~word & kHighBits;
  };
  const auto has = [&](std::uint64_t word, std::uint64_t byte) {
    return below(word ^ (kOnes * byte), 1);
  };
  std::size_t at = 0;
  for (; at + 8 <= text.size(); at += 8) {
    std::uint64_t word;
    std::memcpy(&word, text.data() + at, sizeof word);
    if (word & kHighBits) return false;
    if (below(word, 0x20) | has(word, '"') | has(word, '\\') | has(word, 0x7f)) return false;
  }
  for (; at < text.size(); ++at) {
    const auto u = static_cast<unsigned char>(text[at]);
    if (u < 0x20 || u >= 0x7f || u == '"' || u == '\\') return false;
  }
  return true;
}

}  // namespace

void write_string(Writer& writer, std::string_view text) {
  if (needs_no_escaping(text)) {
    writer.unescaped_string(text);
    return;
  }
  const std::string valid = to_valid_utf8(text);
  writer.String(valid.data(), static_cast<rapidjson::SizeType>(valid.size()), true);
}

void Writer::unescaped_string(std::string_view text) {
  Prefix(rapidjson::kStringType);
  char* out = os_->Push(text.size() + 2);
  out[0] = '"';
  std::memcpy(out + 1, text.data(), text.size());
  out[text.size() + 1] = '"';
  EndValue(true);
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

const rapidjson::Value* repeated_member(const rapidjson::Value& value) {
  if (value.IsArray()) {
    for (const auto& item : value.GetArray()) {
      if (const auto* name = repeated_member(item)) return name;
    }
    return nullptr;
  }
  if (!value.IsObject()) return nullptr;
  std::set<std::string_view> names;
  for (rapidjson::SizeType i = 0; i < value.MemberCount(); ++i) {
    const auto& member = member_at(value, i);
    if (!names.insert(view(member.name)).second) return &member.name;
    if (const auto* name = repeated_member(member.value)) return name;
  }
  return nullptr;
}

std::optional<JsonProblem> parse_strict_json(rapidjson::Document& document, std::string_view text,
                                             int max_depth) {
  using Kind = JsonProblem::Kind;
  if (!nesting_within(text, max_depth)) {
    return JsonProblem{
        Kind::too_deep, "nests deeper than " + std::to_string(max_depth) + " levels", {}};
  }
  if (std::string why = parse_strict(document, text); !why.empty()) {
    return JsonProblem{Kind::not_json, std::move(why), {}};
  }
  if (const rapidjson::Value* name = repeated_member(document)) {
    const std::string member(view(*name));
    return JsonProblem{Kind::duplicate_member, "repeats the member " + mpa::quoted(member), member};
  }
  return std::nullopt;
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
