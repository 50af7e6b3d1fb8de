// Where the client commands (token, status, invalidate, exec) find the
// agent's socket: the same place `run` would listen on (docs/USAGE.md
// "Asking the agent").
#pragma once

#include <optional>
#include <string>

#include "common/result.h"

namespace mpa::cli {

// The system-wide configuration the client commands read [agent] socket from.
inline constexpr const char* kSystemConfigFile = "/etc/maskinporten-agent/agent.toml";

// Where the socket path may come from, in the order they are tried. Empty
// values count as unset.
struct SocketPathSources {
  std::optional<std::string> flag;               // --socket PATH
  std::optional<std::string> environment;        // $MASKINPORTEN_AGENT_SOCKET
  std::string config_file = kSystemConfigFile;   // its [agent] socket, if readable
  std::optional<std::string> runtime_directory;  // $XDG_RUNTIME_DIR
  std::optional<std::string> config_flag;        // --config FILE: where `run --config FILE` listens

  // The flags plus this process's environment and the system configuration.
  static SocketPathSources from_environment(std::optional<std::string> flag,
                                            std::optional<std::string> config_flag = std::nullopt);
};

// --socket; then --config FILE's [agent] socket (relative to the file's
// directory) or, if it names none, run's default under $XDG_RUNTIME_DIR;
// then $MASKINPORTEN_AGENT_SOCKET; then [agent] socket of the system
// configuration file; then $XDG_RUNTIME_DIR/maskinporten-agent/agent.sock.
// A --config file that cannot be read is an error; the system file is
// skipped, and the error for no socket at all says why it was.
Result<std::string> resolve_socket_path(const SocketPathSources& sources);

// What a configuration file says about [agent] socket: the path (made
// absolute against the file's directory), or why there is none ("does
// not exist", "is not TOML: ...", "names no [agent] socket").
struct ConfigFileSocket {
  std::optional<std::string> socket;
  std::string why_none;
  bool file_read = false;  // the file was read and is TOML
};
ConfigFileSocket socket_from_config_file(const std::string& path);

}  // namespace mpa::cli
