// JSON helpers shared by the protocol's encoders and decoders (internal to
// protocol/; RapidJSON types stay out of the public headers).
#pragma once

#include <rapidjson/document.h>
#include <rapidjson/stringbuffer.h>
#include <rapidjson/writer.h>

#include <optional>
#include <string>
#include <string_view>

namespace mpa::json {

// RapidJSON's writer, with one addition for the hot path: a string that
// needs no escaping is copied into the buffer in one piece (RawValue copies
// it a byte at a time).
class Writer : public rapidjson::Writer<rapidjson::StringBuffer> {
 public:
  using rapidjson::Writer<rapidjson::StringBuffer>::Writer;
  // `text` as a string value, quoted; the caller has checked that it needs
  // no escaping (write_string does).
  void unescaped_string(std::string_view text);
};

// Strict UTF-8 (RFC 3629 §4): no overlong forms, no surrogates, nothing
// above U+10FFFF. RapidJSON 1.1 lets a lone "\udc00" escape through as
// bytes that are not UTF-8, so decoded strings are checked again here.
bool is_valid_utf8(std::string_view text);

// `text` with every byte that does not start a valid sequence replaced by
// U+FFFD, so that an upstream server's words can never break a line.
std::string to_valid_utf8(std::string_view text);

// Writes a string value (or key) after to_valid_utf8; RapidJSON escapes
// quotes, backslashes and control characters.
void write_string(Writer& writer, std::string_view text);
void write_key(Writer& writer, std::string_view key);

// The value of the member `name` of `object` (an object), or nullptr.
// Members are reached by index, never by comparing MemberIterators: in
// C++20 those comparisons of RapidJSON 1.1 are ambiguous (clang warns).
const rapidjson::Value* find(const rapidjson::Value& object, std::string_view name);

// The i-th member of `object`, for loops by index (see find).
inline const rapidjson::Value::Member& member_at(const rapidjson::Value& object, rapidjson::SizeType i) {
  return object.MemberBegin()[i];
}

// The value as compact JSON text.
std::string compact(const rapidjson::Value& value);

// The string value of `value` (which must be a string), NUL bytes included.
std::string_view view(const rapidjson::Value& value);

// How deep JSON from outside may nest (a socket line, a JWT header or
// claims, a server's answer): real ones nest three or four levels; deeper
// is an attack on a recursive reader or a bug.
inline constexpr int kMaxJsonDepth = 16;

// Why parse_strict_json refused a text.
struct JsonProblem {
  enum class Kind { too_deep, not_json, duplicate_member };
  Kind kind = Kind::not_json;
  std::string words;   // "nests deeper than 16 levels", "missing a comma ... (at byte 12)",
                       // "repeats the member \"iss\""
  std::string member;  // duplicate_member: the repeated name (not for messages unquoted)
};

// The one strict parse of JSON from outside: nesting bounded on the raw
// text before parsing, then parse_strict's rules, then no object at any
// level repeating a member name (RFC 8259 §4 leaves that open; two parsers
// reading one text differently is how token checks get bypassed).
std::optional<JsonProblem> parse_strict_json(rapidjson::Document& document, std::string_view text,
                                             int max_depth = kMaxJsonDepth);

// The first member name that one object of `value`, at any level, repeats;
// nullptr when none does. For values already parsed (parse_strict_json
// runs it on the whole text). Recursive: bound the nesting first.
const rapidjson::Value* repeated_member(const rapidjson::Value& value);

// The syntax step of parse_strict_json, for callers that word duplicate
// members themselves. Parses `text` strictly: UTF-8 validated, no trailing data, no comments,
// NaN or Infinity, iterative (no recursion on deep input). On failure,
// returns words for a person ("missing a comma ... at byte 12").
std::string parse_strict(rapidjson::Document& document, std::string_view text);

// True if no array or object in `text` nests deeper than `max_depth`.
// Scans the raw text, so it is safe to run before parsing.
bool nesting_within(std::string_view text, int max_depth);

}  // namespace mpa::json
