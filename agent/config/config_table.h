// One table of the configuration file, read strictly: typed reads that
// leave the default when a key is absent, unknown keys refused, and errors
// that say where (file:line, table, key) and what was expected. Used only
// by the configuration loader (config.cpp).
#pragma once

#include <toml++/toml.h>

#include <cstdint>
#include <initializer_list>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "common/result.h"
#include "common/text.h"

namespace mpa {

// Values from the file quoted back in messages (with mpa::quoted) are cut
// here: paths are long, and enough of one must show to recognise it.
inline constexpr std::size_t kMaxQuotedValueBytes = 256;

// "a string", "an integer", ...: what the file had where something else
// was expected.
std::string_view toml_type_name(toml::node_type type);

// Keys that would put the PIN in the file; refused with their own message.
bool is_pin_key(std::string_view key);

class ConfigTable {
 public:
  // `file` must outlive the ConfigTable. `label` names the table in
  // messages: "[agent]", "[[client]] \"default\"", "" for the top level.
  ConfigTable(const toml::table& table, const std::string& file, std::string label)
      : table_(table), file_(file), label_(std::move(label)) {}

  void set_label(std::string label) { label_ = std::move(label); }

  bool has(std::string_view key) const { return table_.get(key) != nullptr; }

  // An error about `key` (the table itself when `key` is empty), at the
  // line of the key's value when it is present, else at the table's.
  Error error(std::string_view key, const std::string& what) const;
  Error error_at(const toml::node& node, std::string_view key, const std::string& what) const;

  // Refuses every key not in `known`, suggesting a close one, so that
  // typos are seen.
  Status only_keys(std::initializer_list<std::string_view> known) const;

  // "is required; <hint>" when `key` is absent.
  Status require(std::string_view key, const std::string& hint) const;

  // Each read leaves `out` unchanged when the key is absent. Strings must
  // be non-empty and free of control characters.
  Status read(std::string_view key, std::string& out, std::string_view expected = "a string") const;
  Status read(std::string_view key, std::optional<std::string>& out) const;
  Status read(std::string_view key, bool& out) const;
  Status read(std::string_view key, std::vector<std::string>& out) const;  // array of strings
  // An array of arrays of strings.
  Status read(std::string_view key, std::vector<std::vector<std::string>>& out) const;

  template <class Int>
  Status read(std::string_view key, Int& out, std::int64_t min, std::int64_t max) const {
    std::int64_t value = 0;
    MPA_RETURN_IF_ERROR(read_integer(key, value, min, max));
    if (has(key)) out = static_cast<Int>(value);
    return {};
  }

 private:
  Status read_integer(std::string_view key, std::int64_t& out, std::int64_t min,
                      std::int64_t max) const;
  Error wrong_type(const toml::node& node, std::string_view key, const std::string& expected) const;
  Status check_text(const toml::node& node, std::string_view key, std::string_view text) const;
  Status read_strings(const toml::node& node, const std::string& name,
                      std::vector<std::string>& out) const;

  const toml::table& table_;
  const std::string& file_;
  std::string label_;
};

}  // namespace mpa
