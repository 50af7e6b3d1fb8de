// `maskinporten-agent signer-helper --fd N`: internal, started by `run`
// (agent/signer_helper/helper_process.h). Not in the command list of --help.
#include <cstdio>
#include <string>

#include "agent/cli/cli.h"
#include "agent/signer_helper/helper_process.h"
#include "common/log.h"

namespace mpa::cli {
namespace {

constexpr const char* kSignerHelperHelp =
    "usage: maskinporten-agent signer-helper --fd N\n"
    "\n"
    "Internal: the agent starts this itself, one per PKCS#11 token, and talks to it over\n"
    "the socket on descriptor N. It loads the token's module, reads the PIN, logs in and\n"
    "signs Maskinporten grants only. It is not meant to be run by hand.\n";

int usage_error_for_helper() {
  std::fputs("error: signer-helper is internal and needs --fd N (N >= 3)\n"
             "(see: maskinporten-agent signer-helper --help)\n",
             stderr);
  return kExitUsage;
}

}  // namespace

int signer_helper_command(const std::vector<std::string>& args) {
  if (args.size() == 1 && (args[0] == "--help" || args[0] == "-h")) {
    std::fputs(kSignerHelperHelp, stdout);
    return kExitOk;
  }
  // `run` adds "--log-format json" when it logs JSON (helper_launch.cpp).
  if (args.size() == 4 && args[2] == "--log-format" && args[3] == "json") {
    log::set_format(log::Format::json);
  } else if (args.size() != 2) {
    return usage_error_for_helper();
  }
  int fd = -1;
  if (args[0] == "--fd" && args[1].size() <= 4 &&
      args[1].find_first_not_of("0123456789") == std::string::npos && !args[1].empty()) {
    fd = std::stoi(args[1]);
  }
  if (fd < 3) return usage_error_for_helper();
  return signer_helper::run_signer_helper(fd);
}

}  // namespace mpa::cli
