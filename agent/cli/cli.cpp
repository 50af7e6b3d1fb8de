#include "agent/cli/cli.h"

#include <cstdio>
#include <string>
#include <utility>

#include "agent/cli/args.h"
#include "common/version.h"

namespace mpa::cli {
namespace {

constexpr const char* kUsage =
    "usage: maskinporten-agent COMMAND [OPTIONS]\n"
    "\n"
    "Maskinporten access tokens from a virksomhetssertifikat key kept on a PKCS#11 token.\n"
    "\n"
    "commands:\n"
    "  run            run the agent in the foreground (serves tokens on a Unix socket)\n"
    "  token          ask a running agent for an access token\n"
    "  status         ask a running agent how it is\n"
    "  invalidate     ask a running agent to drop a cached token\n"
    "  exec           run a command with a token from the agent in its environment\n"
    "  metrics        print a running agent's metrics (OpenMetrics text)\n"
    "  fetch          one-shot, no agent: build, sign and exchange a grant, print the token\n"
    "  grant          build and sign one grant and print it (no network)\n"
    "  check-config   validate a configuration file and the token, key and certificates it names\n"
    "                 (--online: also TLS, discovery and a /token round trip per client)\n"
    "  verify-altinn  verify an Altinn consent token offline\n"
    "  verify-token   verify a Maskinporten token (API providers, data sources)\n"
    "  version        print the version (also --version)\n"
    "\n"
    "`maskinporten-agent COMMAND --help` describes each command.\n"
    "Exit status: 0 success, 1 the operation failed (one `error: CODE: words` line on\n"
    "stderr), 2 usage error (`error: usage: words`).\n";

using Command = int (*)(const std::vector<std::string>&);

constexpr std::pair<const char*, Command> kCommands[] = {
    {"run", run_command},
    {"token", token_command},
    {"status", status_command},
    {"invalidate", invalidate_command},
    {"exec", exec_command},
    {"fetch", fetch_command},
    {"grant", grant_command},
    {"check-config", check_config_command},
    {"verify-altinn", verify_altinn_command},
    {"version", version_command},
    {"--version", version_command},
    {"verify-token", verify_token_command},
    {"metrics", metrics_command},
    {"signer-helper", signer_helper_command},  // internal: started by `run`, not in kUsage
};

}  // namespace

int version_command(const std::vector<std::string>& args) {
  if (!args.empty()) return usage_error("version", "version takes no arguments");
  std::printf("maskinporten-agent %s\n", kVersion);
  return kExitOk;
}

int main(int argc, char** argv) {
  if (argc < 2) {
    std::fputs(kUsage, stderr);
    return kExitUsage;
  }
  const std::string command = argv[1];
  if (command == "--help" || command == "-h" || command == "help") {
    std::fputs(kUsage, stdout);
    return kExitOk;
  }
  const std::vector<std::string> args(argv + 2, argv + argc);
  for (const auto& [name, function] : kCommands) {
    if (command == name) return function(args);
  }
  std::fprintf(stderr, "error: usage: unknown command '%s'\n(see: maskinporten-agent --help)\n",
               command.c_str());
  return kExitUsage;
}

}  // namespace mpa::cli
