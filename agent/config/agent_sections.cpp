// The [agent], [pkcs11] and [altinn] tables.
#include <sys/un.h>

#include <algorithm>
#include <cstdlib>
#include <filesystem>
#include <string>

#include "agent/config/sections.h"

namespace mpa::config_internal {

namespace fs = std::filesystem;

namespace {

// sun_path holds the socket path and its terminating NUL.
constexpr std::size_t kMaxSocketPathBytes = sizeof(sockaddr_un::sun_path) - 1;

// systemd's LoadCredential= puts credentials in this directory.
constexpr std::string_view kCredentialsVariable = "CREDENTIALS_DIRECTORY";

}  // namespace

// ---------------------------------------------------------------- [agent]

// Reads "0600"-style modes. Only owner read+write, optionally the same for
// the group ([[allow]] by gid needs it): connecting needs write permission,
// an executable or other-accessible socket is a mistake.
Status read_socket_mode(const ConfigTable& section, std::uint32_t& out) {
  std::string text;
  MPA_RETURN_IF_ERROR(section.read("socket_mode", text, "a string in quotes such as \"0600\""));
  if (!section.has("socket_mode")) return {};
  constexpr const char* kExpected = "use \"0600\", or \"0660\" to let a group in";
  const bool octal =
      text.size() >= 3 && text.size() <= 4 &&
      std::all_of(text.begin(), text.end(), [](char c) { return c >= '0' && c <= '7'; });
  if (!octal || (text.size() == 4 && text[0] != '0')) {
    return section.error("socket_mode", quoted(text, kMaxQuotedValueBytes) +
                                            " is not a permission mode; " + kExpected);
  }
  const auto mode = static_cast<std::uint32_t>(std::stoul(text, nullptr, 8));
  if ((mode & 0007) != 0) {
    return section.error("socket_mode", quoted(text, kMaxQuotedValueBytes) +
                                            " gives access to other users; " + kExpected);
  }
  if ((mode & 0111) != 0) {
    return section.error("socket_mode", quoted(text, kMaxQuotedValueBytes) +
                                            " has an execute bit, which means nothing "
                                            "on a socket; " +
                                            kExpected);
  }
  if (mode != 0600 && mode != 0660) {
    return section.error("socket_mode", quoted(text, kMaxQuotedValueBytes) +
                                            ": connecting needs read and write; " + kExpected);
  }
  out = mode;
  return {};
}

Status read_socket(const ConfigTable& section, const Origin& origin, std::string& out) {
  MPA_RETURN_IF_ERROR(section.read("socket", out));
  if (section.has("socket")) {
    out = resolve(origin, out);
  } else {
    const char* runtime_dir = std::getenv("XDG_RUNTIME_DIR");
    if (runtime_dir == nullptr || *runtime_dir == '\0') {
      return section.error("socket",
                           "is not set and XDG_RUNTIME_DIR is not set either; "
                           "give the socket's path, e.g. "
                           "socket = \"/run/maskinporten-agent/agent.sock\"");
    }
    if (runtime_dir[0] != '/') {
      return section.error("socket", "is not set and XDG_RUNTIME_DIR (" +
                                         quoted(runtime_dir, kMaxQuotedValueBytes) +
                                         ") is not an absolute path; give the socket's path");
    }
    out = (fs::path(runtime_dir) / "maskinporten-agent" / "agent.sock").lexically_normal().string();
  }
  if (out.size() > kMaxSocketPathBytes) {
    return section.error("socket", quoted(out, kMaxQuotedValueBytes) + " is " +
                                       std::to_string(out.size()) +
                                       " bytes long; a Unix socket path holds at most " +
                                       std::to_string(kMaxSocketPathBytes));
  }
  return {};
}

Status read_log_format(const ConfigTable& section, log::Format& out) {
  std::string word;
  MPA_RETURN_IF_ERROR(section.read("log_format", word, "\"text\" or \"json\""));
  if (!section.has("log_format")) return {};
  const auto format = log::parse_format(word);
  if (!format) {
    return section.error("log_format", quoted(word, kMaxQuotedValueBytes) +
                                           " is not a log format; use \"text\" (the default) "
                                           "or \"json\" (one JSON object per line)");
  }
  out = *format;
  return {};
}

Status read_agent(const ConfigTable& section, const Origin& origin, Config& config) {
  MPA_RETURN_IF_ERROR(section.only_keys({"socket", "socket_mode", "refresh_margin_seconds",
                                         "max_connections", "max_connections_per_uid",
                                         "max_concurrent_exchanges", "state_dir", "log_format"}));
  MPA_RETURN_IF_ERROR(read_socket(section, origin, config.socket));
  MPA_RETURN_IF_ERROR(read_socket_mode(section, config.socket_mode));
  MPA_RETURN_IF_ERROR(
      section.read("refresh_margin_seconds", config.refresh_margin_seconds, 0, 3600));
  MPA_RETURN_IF_ERROR(section.read("max_connections", config.max_connections, 1, 65536));
  MPA_RETURN_IF_ERROR(
      section.read("max_connections_per_uid", config.max_connections_per_uid, 1, 65536));
  MPA_RETURN_IF_ERROR(
      section.read("max_concurrent_exchanges", config.max_concurrent_exchanges, 1, 1024));
  MPA_RETURN_IF_ERROR(section.read("state_dir", config.state_dir));
  if (config.state_dir) config.state_dir = resolve(origin, *config.state_dir);
  return read_log_format(section, config.log_format);
}

// ---------------------------------------------------------------- [pkcs11]

// "$CREDENTIALS_DIRECTORY/NAME" (or "${CREDENTIALS_DIRECTORY}/NAME") is the
// credential systemd's LoadCredential= made; nothing else is expanded.
Status expand_credentials(const ConfigTable& section, std::string& path) {
  if (path.empty() || path[0] != '$') return {};
  const std::string plain = "$" + std::string(kCredentialsVariable) + "/";
  const std::string braced = "${" + std::string(kCredentialsVariable) + "}/";
  std::string name;
  if (path.starts_with(plain)) {
    name = path.substr(plain.size());
  } else if (path.starts_with(braced)) {
    name = path.substr(braced.size());
  } else {
    return section.error("pin_file", quoted(path, kMaxQuotedValueBytes) +
                                         ": only $CREDENTIALS_DIRECTORY/NAME is "
                                         "expanded (systemd LoadCredential=)");
  }
  if (name.empty()) return section.error("pin_file", "names no file after $CREDENTIALS_DIRECTORY/");
  const char* directory = std::getenv(std::string(kCredentialsVariable).c_str());
  if (directory == nullptr || *directory == '\0') {
    return section.error("pin_file",
                         "uses $CREDENTIALS_DIRECTORY, which is not set; run the "
                         "agent from systemd with LoadCredential=, or give the "
                         "file's path");
  }
  path = (fs::path(directory) / name).lexically_normal().string();
  return {};
}

Status read_pkcs11(const ConfigTable& section, const Origin& origin, Config& config) {
  MPA_RETURN_IF_ERROR(section.only_keys(
      {"module", "pin_file", "pin_env", "sign_timeout_seconds", "max_concurrent_signatures"}));
  MPA_RETURN_IF_ERROR(section.read("sign_timeout_seconds", config.sign_timeout_seconds, 1, 300));
  MPA_RETURN_IF_ERROR(
      section.read("max_concurrent_signatures", config.max_concurrent_signatures, 1, 256));
  MPA_RETURN_IF_ERROR(section.require("module",
                                      "the path of the token's PKCS#11 module, e.g. "
                                      "\"/usr/lib/softhsm/libsofthsm2.so\""));
  MPA_RETURN_IF_ERROR(section.read("module", config.module));
  MPA_RETURN_IF_ERROR(check_module_file(section, "module", config.module));
  MPA_RETURN_IF_ERROR(section.read("pin_file", config.pin_file));
  MPA_RETURN_IF_ERROR(section.read("pin_env", config.pin_env));
  if (config.pin_file && config.pin_env) {
    return section.error("pin_env", "pin_file and pin_env are exclusive; keep one");
  }
  if (!config.pin_file && !config.pin_env) {
    return section.error("",
                         "needs pin_file (a file holding the PIN) or pin_env (the name of "
                         "an environment variable holding it)");
  }
  if (config.pin_env && config.pin_env->find('=') != std::string::npos) {
    return section.error("pin_env", "is the name of an environment variable, not NAME=VALUE");
  }
  if (config.pin_file) {
    MPA_RETURN_IF_ERROR(expand_credentials(section, *config.pin_file));
    config.pin_file = resolve(origin, *config.pin_file);
  }
  return {};
}

// ---------------------------------------------------------------- [altinn]

Status read_altinn(const ConfigTable& section, const Origin& origin, Config& config) {
  MPA_RETURN_IF_ERROR(section.only_keys({"certificates", "leeway_seconds"}));
  MPA_RETURN_IF_ERROR(section.require("certificates",
                                      "the PEM files of Altinn's signing "
                                      "certificate(s)"));
  MPA_RETURN_IF_ERROR(section.read("certificates", config.altinn_certificates));
  if (config.altinn_certificates.empty()) {
    return section.error("certificates", "is empty; list Altinn's signing certificate(s)");
  }
  for (std::string& path : config.altinn_certificates) {
    path = resolve(origin, path);
    MPA_RETURN_IF_ERROR(check_readable_file(section, "certificates", path));
  }
  return section.read("leeway_seconds", config.altinn_leeway_seconds, 0, 600);
}

}  // namespace mpa::config_internal
