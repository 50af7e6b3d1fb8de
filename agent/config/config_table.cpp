#include "agent/config/config_table.h"

#include <algorithm>
#include <utility>

#include "common/text.h"

namespace mpa {
namespace {

// Unknown keys this close to a known one get a "did you mean".
constexpr std::size_t kMaxSuggestionDistance = 2;

std::string join(std::initializer_list<std::string_view> words) {
  std::string out;
  for (std::string_view word : words) {
    if (!out.empty()) out += ", ";
    out += word;
  }
  return out;
}

}  // namespace

std::string_view toml_type_name(toml::node_type type) {
  switch (type) {
    case toml::node_type::none: return "nothing";
    case toml::node_type::table: return "a table";
    case toml::node_type::array: return "an array";
    case toml::node_type::string: return "a string";
    case toml::node_type::integer: return "an integer";
    case toml::node_type::floating_point: return "a floating-point number";
    case toml::node_type::boolean: return "a boolean";
    case toml::node_type::date: return "a date";
    case toml::node_type::time: return "a time";
    case toml::node_type::date_time: return "a date-time";
  }
  return "something else";
}

bool is_pin_key(std::string_view key) {
  return key == "pin" || key == "pin_value" || key == "pin-value" || key == "pin_code";
}

Error ConfigTable::error(std::string_view key, const std::string& what) const {
  const toml::node* node = key.empty() ? nullptr : table_.get(key);
  return error_at(node != nullptr ? *node : table_, key, what);
}

Error ConfigTable::error_at(const toml::node& node, std::string_view key,
                            const std::string& what) const {
  std::string where = file_;
  if (node.source().begin.line > 0) {
    where += ':';
    where += std::to_string(node.source().begin.line);
  }
  std::string subject = label_;
  if (!subject.empty() && !key.empty()) subject += " ";
  subject += key;
  if (!subject.empty()) where += ": " + subject;
  return make_error(ErrorCode::invalid_config, where + ": " + what);
}

Status ConfigTable::only_keys(std::initializer_list<std::string_view> known) const {
  for (const auto& [key, node] : table_) {
    const std::string_view name = key.str();
    if (std::find(known.begin(), known.end(), name) != known.end()) continue;
    if (is_pin_key(name)) {
      return error_at(node, name,
                      "the PIN never goes in the configuration file; "
                      "use pin_file or pin_env in [pkcs11]");
    }
    std::string what = "unknown key";
    for (std::string_view candidate : known) {
      if (edit_distance(name, candidate) <= kMaxSuggestionDistance) {
        what += "; did you mean " + std::string(candidate) + "?";
        break;
      }
    }
    return error_at(node, quoted(name, kMaxQuotedValueBytes),
                    what + " (known here: " + join(known) + ")");
  }
  return {};
}

Status ConfigTable::require(std::string_view key, const std::string& hint) const {
  if (has(key)) return {};
  return error(key, "is required; " + hint);
}

Status ConfigTable::read(std::string_view key, std::string& out, std::string_view expected) const {
  const toml::node* node = table_.get(key);
  if (node == nullptr) return {};
  const auto* value = node->as_string();
  if (value == nullptr) return wrong_type(*node, key, std::string(expected));
  MPA_RETURN_IF_ERROR(check_text(*node, key, value->get()));
  out = value->get();
  return {};
}

Status ConfigTable::read(std::string_view key, std::optional<std::string>& out) const {
  std::string value;
  MPA_RETURN_IF_ERROR(read(key, value));
  if (has(key)) out = std::move(value);
  return {};
}

Status ConfigTable::read(std::string_view key, bool& out) const {
  const toml::node* node = table_.get(key);
  if (node == nullptr) return {};
  const auto* value = node->as_boolean();
  if (value == nullptr) return wrong_type(*node, key, "true or false");
  out = value->get();
  return {};
}

Status ConfigTable::read_strings(const toml::node& node, const std::string& name,
                                 std::vector<std::string>& out) const {
  const auto* array = node.as_array();
  if (array == nullptr) return wrong_type(node, name, "an array of strings");
  std::vector<std::string> values;
  for (std::size_t i = 0; i < array->size(); ++i) {
    const toml::node& element = *array->get(i);
    const std::string element_name = name + "[" + std::to_string(i) + "]";
    const auto* value = element.as_string();
    if (value == nullptr) return wrong_type(element, element_name, "a string");
    MPA_RETURN_IF_ERROR(check_text(element, element_name, value->get()));
    values.push_back(value->get());
  }
  out = std::move(values);
  return {};
}

Status ConfigTable::read(std::string_view key, std::vector<std::string>& out) const {
  const toml::node* node = table_.get(key);
  if (node == nullptr) return {};
  return read_strings(*node, std::string(key), out);
}

Status ConfigTable::read(std::string_view key, std::vector<std::vector<std::string>>& out) const {
  const toml::node* node = table_.get(key);
  if (node == nullptr) return {};
  const auto* array = node->as_array();
  if (array == nullptr) return wrong_type(*node, key, "an array of arrays of strings");
  std::vector<std::vector<std::string>> lists(array->size());
  for (std::size_t i = 0; i < array->size(); ++i) {
    MPA_RETURN_IF_ERROR(
        read_strings(*array->get(i), std::string(key) + "[" + std::to_string(i) + "]", lists[i]));
  }
  out = std::move(lists);
  return {};
}

Status ConfigTable::read_integer(std::string_view key, std::int64_t& out, std::int64_t min,
                                 std::int64_t max) const {
  const toml::node* node = table_.get(key);
  if (node == nullptr) return {};
  const std::string expected =
      "an integer from " + std::to_string(min) + " to " + std::to_string(max);
  const auto* value = node->as_integer();
  if (value == nullptr) return wrong_type(*node, key, expected);
  if (value->get() < min || value->get() > max) {
    return error_at(*node, key,
                    std::to_string(value->get()) + " is out of range; expected " + expected);
  }
  out = value->get();
  return {};
}

Error ConfigTable::wrong_type(const toml::node& node, std::string_view key,
                              const std::string& expected) const {
  return error_at(node, key,
                  "expected " + expected + ", got " + std::string(toml_type_name(node.type())));
}

// Strings end up in paths, URLs and headers: no empty ones, no control bytes.
Status ConfigTable::check_text(const toml::node& node, std::string_view key,
                               std::string_view text) const {
  if (text.empty()) return error_at(node, key, "must not be empty");
  if (std::any_of(text.begin(), text.end(), is_control)) {
    return error_at(node, key, "contains a control character");
  }
  return {};
}

}  // namespace mpa
