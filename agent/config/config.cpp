// The configuration loader (DESIGN.md "Configuration (TOML)").
//
// Strict on purpose: unknown tables and keys, wrong types and values out of
// range are errors, so that a typo is seen at start instead of silently
// falling back to a default. Every error names the file, the line when
// toml++ knows it, the table and key, what is wrong and what was expected.
// The Config is built in locals and returned only when all of it is valid.
#include "agent/config/config.h"

#include <toml++/toml.h>
#include <unistd.h>

#include <filesystem>
#include <string>
#include <system_error>
#include <utility>

#include "agent/config/config_table.h"
#include "agent/config/sections.h"
#include "common/file_read.h"

namespace mpa {
namespace {

namespace fs = std::filesystem;
using namespace config_internal;

// A configuration is a page or two of text; anything near this is a mistake
// (or not a configuration file at all), so it is refused before parsing.
constexpr std::size_t kMaxConfigBytes = 1024 * 1024;

// ---------------------------------------------------------------- the file

// The array of tables `key` ([[client]], [[allow]]), or an error when the
// key is something else.
Result<const toml::array*> array_of_tables(const ConfigTable& root, const toml::table& document,
                                           std::string_view key) {
  const toml::node* node = document.get(key);
  if (node == nullptr) return static_cast<const toml::array*>(nullptr);
  const toml::array* array = node->as_array();
  if (array == nullptr || !array->is_array_of_tables()) {
    return root.error_at(*node, key,
                         "write [[" + std::string(key) + "]] tables (one per " + std::string(key) +
                             "), not " + std::string(toml_type_name(node->type())));
  }
  return array;
}

Result<const toml::table*> single_table(const ConfigTable& root, const toml::table& document,
                                        std::string_view key) {
  const toml::node* node = document.get(key);
  if (node == nullptr) return static_cast<const toml::table*>(nullptr);
  if (!node->is_table()) {
    return root.error_at(*node, key,
                         "write a [" + std::string(key) + "] table, not " +
                             std::string(toml_type_name(node->type())));
  }
  return node->as_table();
}

Status read_clients(const ConfigTable& root, const toml::table& document, const Origin& origin,
                    Config& config) {
  MPA_ASSIGN_OR_RETURN(const toml::array* array, array_of_tables(root, document, "client"));
  if (array == nullptr || array->empty()) {
    return root.error("",
                      "has no [[client]] table; add one with client_id, environment, key "
                      "and scopes");
  }
  const bool only_client = array->size() == 1;
  for (std::size_t i = 0; i < array->size(); ++i) {
    ConfigTable section(*array->get(i)->as_table(), origin.file,
                        "[[client]] #" + std::to_string(i + 1));
    MPA_ASSIGN_OR_RETURN(ClientConfig client, read_client(section, origin, only_client));
    if (client_named(config.clients, client.name) != nullptr) {
      section.set_label("[[client]] #" + std::to_string(i + 1));
      return section.error("name", "\"" + client.name +
                                       "\" is used by an earlier [[client]]; "
                                       "client names must be unique");
    }
    config.clients.push_back(std::move(client));
  }
  return {};
}

Status read_allow_rules(const ConfigTable& root, const toml::table& document, const Origin& origin,
                        Config& config) {
  MPA_ASSIGN_OR_RETURN(const toml::array* array, array_of_tables(root, document, "allow"));
  if (array == nullptr) return {};
  for (std::size_t i = 0; i < array->size(); ++i) {
    ConfigTable section(*array->get(i)->as_table(), origin.file,
                        "[[allow]] #" + std::to_string(i + 1));
    MPA_ASSIGN_OR_RETURN(AllowRule rule, read_allow(section, config.clients));
    config.allow.push_back(std::move(rule));
  }
  return {};
}

Status check_top_level(const ConfigTable& root, const toml::table& document) {
  for (const auto& [key, node] : document) {
    const std::string_view name = key.str();
    if (name == "agent" || name == "pkcs11" || name == "client" || name == "altinn" ||
        name == "verify" || name == "allow" || name == "metrics") {
      continue;
    }
    if (is_pin_key(name)) {
      return root.error_at(node, name,
                           "the PIN never goes in the configuration file; "
                           "use pin_file or pin_env in [pkcs11]");
    }
    const std::string what =
        node.is_table() ? "unknown table [" + std::string(name) + "]"
        : node.is_array_of_tables()
            ? "unknown table [[" + std::string(name) + "]]"
            : "unknown key " + quoted(name, kMaxQuotedValueBytes) + " outside any table";
    return root.error_at(node, "",
                         what +
                             "; expected [agent], [pkcs11], [[client]], [altinn], "
                             "[verify], [metrics] or [[allow]]");
  }
  return {};
}

Result<Config> read_document(const toml::table& document, const Origin& origin) {
  const ConfigTable root(document, origin.file, "");
  MPA_RETURN_IF_ERROR(check_top_level(root, document));
  Config config;
  config.path = origin.file;

  MPA_ASSIGN_OR_RETURN(const toml::table* agent, single_table(root, document, "agent"));
  const toml::table empty;
  MPA_RETURN_IF_ERROR(
      read_agent(ConfigTable(agent ? *agent : empty, origin.file, "[agent]"), origin, config));

  MPA_ASSIGN_OR_RETURN(const toml::table* pkcs11, single_table(root, document, "pkcs11"));
  if (pkcs11 == nullptr) {
    return root.error("", "has no [pkcs11] table; it needs module, and pin_file or pin_env");
  }
  MPA_RETURN_IF_ERROR(read_pkcs11(ConfigTable(*pkcs11, origin.file, "[pkcs11]"), origin, config));

  MPA_RETURN_IF_ERROR(read_clients(root, document, origin, config));

  MPA_ASSIGN_OR_RETURN(const toml::table* altinn, single_table(root, document, "altinn"));
  if (altinn != nullptr) {
    MPA_RETURN_IF_ERROR(read_altinn(ConfigTable(*altinn, origin.file, "[altinn]"), origin, config));
  }
  MPA_ASSIGN_OR_RETURN(const toml::table* verify, single_table(root, document, "verify"));
  if (verify != nullptr) {
    MPA_RETURN_IF_ERROR(read_verify(ConfigTable(*verify, origin.file, "[verify]"), origin, config));
  }
  MPA_ASSIGN_OR_RETURN(const toml::table* metrics, single_table(root, document, "metrics"));
  if (metrics != nullptr) {
    MPA_RETURN_IF_ERROR(read_metrics(ConfigTable(*metrics, origin.file, "[metrics]"), config));
  }
  MPA_RETURN_IF_ERROR(read_allow_rules(root, document, origin, config));
  return config;
}

Error file_error(const std::string& path, const std::string& what) {
  return make_error(ErrorCode::invalid_config, path + ": " + what);
}

Error too_large(const std::string& path, std::size_t size) {
  return file_error(path, "is " + std::to_string(size) +
                              " bytes; a configuration file is at most " +
                              std::to_string(kMaxConfigBytes) + " bytes (1 MiB)");
}

}  // namespace

const ClientConfig* Config::find_client(const std::string& name) const {
  if (name.empty()) return clients.size() == 1 ? &clients.front() : nullptr;
  return client_named(clients, name);
}

Result<Config> parse_config(std::string_view toml_text, const std::string& path_for_messages) {
  if (toml_text.size() > kMaxConfigBytes) return too_large(path_for_messages, toml_text.size());
  Origin origin{path_for_messages, {}};
  std::error_code ec;
  const fs::path absolute = fs::absolute(path_for_messages, ec);
  if (!ec) origin.directory = absolute.parent_path();

  // toml++ as packaged is built with exceptions; they stop here.
  try {
    const toml::table document = toml::parse(toml_text, path_for_messages);
    return read_document(document, origin);
  } catch (const toml::parse_error& e) {
    const auto& where = e.source().begin;
    return file_error(
        path_for_messages + ":" + std::to_string(where.line) + ":" + std::to_string(where.column),
        "not valid TOML: " + std::string(e.description()));
  } catch (const std::exception& e) {
    return file_error(path_for_messages, std::string("could not be read: ") + e.what());
  }
}

Result<Config> load_config(const std::string& path) {
  // Whoever can write the file can make the agent load any PKCS#11 module.
  auto read = read_file(path, {kMaxConfigBytes, FileModeCheck::only_we_may_change, true});
  if (read) return parse_config(read.bytes(), path);
  const FileProblem& problem = read.problem();
  switch (problem.kind) {
    case FileProblem::Kind::cannot_open:
      return file_error(path, "cannot open: " + errno_text(problem.error_number));
    case FileProblem::Kind::cannot_read:
      return file_error(path, "cannot read: " + errno_text(problem.error_number));
    case FileProblem::Kind::too_large:
      return too_large(path, static_cast<std::size_t>(problem.size));
    case FileProblem::Kind::writable_by_others:
    case FileProblem::Kind::readable_by_others:
      return file_error(path, "is writable by other users (mode " + mode_text(problem.mode) +
                                  "; group or others may write it), and whoever can write it chooses "
                                  "the PKCS#11 module the agent loads; chmod go-w it");
    case FileProblem::Kind::owned_by_another_user:
      return file_error(path, "belongs to uid " + std::to_string(problem.owner) +
                                  ", neither root nor the agent's own uid (" + std::to_string(::geteuid()) +
                                  "), and its owner chooses the PKCS#11 module the agent loads; chown it "
                                  "to root or to the agent's user");
    case FileProblem::Kind::not_regular_file:
      break;
  }
  return file_error(path, "is not a regular file");
}

}  // namespace mpa
