#include "agent/cli/socket_path.h"

#include <cstdlib>
#include <filesystem>
#include <toml++/toml.h>

#include "common/file_read.h"
#include "common/text.h"

namespace mpa::cli {
namespace {

namespace fs = std::filesystem;

// The configuration file read for [agent] socket; real ones are a few KiB.
constexpr std::size_t kMaxConfigFileBytes = 1024 * 1024;

std::optional<std::string> environment_variable(const char* name) {
  const char* value = std::getenv(name);
  if (value == nullptr || *value == '\0') return std::nullopt;
  return std::string(value);
}

bool is_set(const std::optional<std::string>& value) { return value && !value->empty(); }

std::string runtime_default(const std::string& runtime_directory) {
  return (fs::path(runtime_directory) / "maskinporten-agent" / "agent.sock").lexically_normal().string();
}

std::string why_unreadable(const FileProblem& problem) {
  switch (problem.kind) {
    case FileProblem::Kind::cannot_open:
      return problem.error_number == ENOENT ? "does not exist"
                                            : "cannot be opened: " + errno_text(problem.error_number);
    case FileProblem::Kind::not_regular_file: return "is not a regular file";
    case FileProblem::Kind::too_large: return "is larger than 1 MiB";
    default: return "cannot be read: " + errno_text(problem.error_number);
  }
}

// The socket `run --config FILE` would listen on.
Result<std::string> socket_of_named_config(const std::string& file,
                                           const std::optional<std::string>& runtime_directory) {
  ConfigFileSocket found = socket_from_config_file(file);
  if (found.socket) return std::move(*found.socket);
  if (!found.file_read) {
    return make_error(ErrorCode::invalid_config, "--config " + file + " " + found.why_none);
  }
  if (is_set(runtime_directory) && (*runtime_directory)[0] == '/') return runtime_default(*runtime_directory);
  return make_error(ErrorCode::invalid_config,
                    "--config " + file + " names no [agent] socket and XDG_RUNTIME_DIR is not set "
                    "(an absolute path); `run` would refuse it too");
}

}  // namespace

SocketPathSources SocketPathSources::from_environment(std::optional<std::string> flag,
                                                      std::optional<std::string> config_flag) {
  SocketPathSources sources;
  sources.flag = std::move(flag);
  sources.config_flag = std::move(config_flag);
  sources.environment = environment_variable("MASKINPORTEN_AGENT_SOCKET");
  sources.runtime_directory = environment_variable("XDG_RUNTIME_DIR");
  return sources;
}

ConfigFileSocket socket_from_config_file(const std::string& path) {
  auto read = read_file(path, {kMaxConfigFileBytes, FileModeCheck::none, true});
  if (!read) return {std::nullopt, why_unreadable(read.problem()), false};
  // toml++ reports parse errors by exception; none may leave this function.
  try {
    const toml::table table = toml::parse(read.bytes(), path);
    const auto socket = table["agent"]["socket"].value<std::string>();
    if (!socket || socket->empty()) return {std::nullopt, "names no [agent] socket", true};
    const fs::path directory = fs::path(path).parent_path();
    const fs::path resolved = fs::path(*socket).is_absolute() ? fs::path(*socket) : directory / *socket;
    return {resolved.lexically_normal().string(), "", true};
  } catch (const toml::parse_error& error) {
    return {std::nullopt, "is not TOML: " + std::string(error.description()), false};
  } catch (const std::exception&) {
    return {std::nullopt, "cannot be read", false};
  }
}

Result<std::string> resolve_socket_path(const SocketPathSources& sources) {
  if (is_set(sources.flag)) return *sources.flag;
  if (is_set(sources.config_flag)) return socket_of_named_config(*sources.config_flag, sources.runtime_directory);
  if (is_set(sources.environment)) return *sources.environment;
  ConfigFileSocket system = socket_from_config_file(sources.config_file);
  if (system.socket) return std::move(*system.socket);
  if (is_set(sources.runtime_directory)) return runtime_default(*sources.runtime_directory);
  return make_error(ErrorCode::invalid_request,
                    "no socket to ask: give --socket PATH or --config FILE, or set "
                    "MASKINPORTEN_AGENT_SOCKET (" +
                        sources.config_file + " " + system.why_none +
                        ", and XDG_RUNTIME_DIR is not set)");
}

}  // namespace mpa::cli
