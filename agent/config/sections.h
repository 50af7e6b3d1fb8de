// The pieces of the configuration loader (config.cpp): one reader per
// table, and the path and URL checks they share. Private to agent/config/.
#pragma once

#include <filesystem>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "agent/config/config.h"
#include "agent/config/config_table.h"

namespace mpa::config_internal {

// Where the configuration's relative paths are resolved from.
struct Origin {
  std::string file;  // as given, for messages
  std::filesystem::path directory;
};

// `path` made absolute against the file's directory.
std::string resolve(const Origin& origin, const std::string& path);

// Checks at load time that a file the agent will need later can be read,
// so that the operator hears of it now and in words.
Status check_readable_file(const ConfigTable& section, std::string_view key,
                           const std::string& path);
// An optional path key, resolved and checked readable.
Status read_existing_file(const ConfigTable& section, const Origin& origin, std::string_view key,
                          std::optional<std::string>& out);

// A PKCS#11 module given as a path that exists is loaded into the process
// holding the PIN: refused when group or others may write it, or when it
// belongs to neither root nor this uid. A name the loader searches for,
// or a missing file, is left to the loader.
Status check_module_file(const ConfigTable& section, std::string_view key, const std::string& path);

// A key holding an https:// endpoint with a host (TLS is always verified).
Status read_https_url(const ConfigTable& section, std::string_view key, std::string& out);

// One reader per table; each fills its part of `config`.
Status read_agent(const ConfigTable& section, const Origin& origin, Config& config);
Status read_pkcs11(const ConfigTable& section, const Origin& origin, Config& config);
Result<ClientConfig> read_client(ConfigTable& section, const Origin& origin, bool only_client);
Status read_altinn(const ConfigTable& section, const Origin& origin, Config& config);
Status read_verify(const ConfigTable& section, const Origin& origin, Config& config);
Status read_metrics(const ConfigTable& section, Config& config);  // metrics_section.cpp
Result<AllowRule> read_allow(const ConfigTable& section, const std::vector<ClientConfig>& clients);

// The client called `name`, or nullptr.
const ClientConfig* client_named(const std::vector<ClientConfig>& clients, const std::string& name);

}  // namespace mpa::config_internal
