#include "agent/signer_helper/state_dir.h"

#include <unistd.h>

#include <cstdlib>

namespace mpa::signer_helper {
namespace {

std::string from_env(const char* name) {
  const char* value = std::getenv(name);
  return value != nullptr ? value : "";
}

}  // namespace

std::string state_directory(const std::optional<std::string>& configured) {
  // systemd joins several StateDirectory= paths with ':'.
  const std::string systemd = from_env("STATE_DIRECTORY");
  if (!systemd.empty() && systemd[0] == '/') return systemd.substr(0, systemd.find(':'));
  if (configured) return *configured;
  if (::geteuid() == 0) return "/var/lib/maskinporten-agent";
  const std::string xdg = from_env("XDG_STATE_HOME");
  if (!xdg.empty() && xdg[0] == '/') return xdg + "/maskinporten-agent";
  const std::string home = from_env("HOME");
  if (home.empty() || home[0] != '/') return "";
  return home + "/.local/state/maskinporten-agent";
}

}  // namespace mpa::signer_helper
