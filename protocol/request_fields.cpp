#include "protocol/request_fields.h"

#include <algorithm>

#include "common/grant_request.h"

namespace mpa::protocol {
namespace {

using rapidjson::Value;

bool has_control_character(std::string_view text) {
  return std::any_of(text.begin(), text.end(), [](char c) {
    const auto byte = static_cast<unsigned char>(c);
    return byte < 0x20 || byte == 0x7F;
  });
}

}  // namespace

Error invalid(std::string message) {
  return make_error(ErrorCode::invalid_request, std::move(message));
}

std::string kind_of(const Value& value) {
  switch (value.GetType()) {
    case rapidjson::kNullType: return "null";
    case rapidjson::kFalseType:
    case rapidjson::kTrueType: return "a boolean";
    case rapidjson::kNumberType: return "a number";
    case rapidjson::kStringType: return "a string";
    case rapidjson::kArrayType: return "an array";
    case rapidjson::kObjectType: return "an object";
  }
  return "something else";
}

Result<std::string> read_text(const Value& value, const std::string& label, std::size_t max_bytes) {
  if (!value.IsString()) return invalid(label + " must be a string, not " + kind_of(value));
  const std::string_view text = json::view(value);
  if (text.empty()) return invalid(label + " must not be empty");
  if (text.size() > max_bytes) {
    return invalid(label + " is longer than " + std::to_string(max_bytes) + " bytes");
  }
  if (!json::is_valid_utf8(text)) return invalid(label + " is not valid UTF-8");
  if (has_control_character(text)) return invalid(label + " must not contain control characters");
  return std::string(text);
}

Result<std::vector<std::string>> read_text_array(const Value& value, const std::string& field,
                                                 std::size_t max_count, std::size_t max_bytes) {
  if (!value.IsArray()) return invalid(field + " must be an array of strings, not " + kind_of(value));
  if (value.Size() > max_count) {
    return invalid(field + " holds more than " + std::to_string(max_count) + " entries");
  }
  std::vector<std::string> texts;
  for (rapidjson::SizeType i = 0; i < value.Size(); ++i) {
    auto text = read_text(value[i], field + "[" + std::to_string(i) + "]", max_bytes);
    if (!text) return std::move(text).error();
    texts.push_back(std::move(*text));
  }
  return texts;
}

Result<std::string> read_authorization_details(const Value& value) {
  if (!value.IsArray() || value.Empty()) {
    return invalid("authorization_details must be a non-empty array of objects");
  }
  for (const Value& element : value.GetArray()) {
    if (!element.IsObject()) {
      return invalid("authorization_details must be an array of objects, but holds " +
                     kind_of(element));
    }
  }
  if (json::repeated_member(value) != nullptr) return invalid("authorization_details has a key twice in one object");
  std::string text = json::compact(value);
  if (text.size() > kMaxAuthorizationDetailsBytes) {
    return invalid("authorization_details is longer than " +
                   std::to_string(kMaxAuthorizationDetailsBytes) + " bytes");
  }
  if (!json::is_valid_utf8(text)) return invalid("authorization_details is not valid UTF-8");
  return text;
}

}  // namespace mpa::protocol
