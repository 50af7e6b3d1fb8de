#include "agent/cli.h"

#include <cstdio>
#include <string>

namespace mpa::cli {
namespace {

constexpr const char* kUsage =
    "usage: maskinporten-agent COMMAND [OPTIONS]\n"
    "\n"
    "Maskinporten access tokens from a virksomhetssertifikat key kept on a PKCS#11 token.\n"
    "\n"
    "commands:\n"
    "  run           run the agent in the foreground\n"
    "  token         ask a running agent for an access token\n"
    "  status        ask a running agent how it is\n"
    "  fetch         one-shot: build, sign and exchange a grant, print the access token\n"
    "  grant         build and sign one grant, print it (no network)\n"
    "  check-config  validate a configuration file and the token it names\n"
    "  verify-altinn verify an Altinn consent token offline\n"
    "\n"
    "`maskinporten-agent COMMAND --help` describes each command.\n";

}  // namespace

int main(int argc, char** argv) {
  if (argc < 2) {
    std::fputs(kUsage, stderr);
    return 2;
  }
  const std::string command = argv[1];
  if (command == "--help" || command == "-h" || command == "help") {
    std::fputs(kUsage, stdout);
    return 0;
  }
  std::fprintf(stderr, "error: unknown command '%s'; see maskinporten-agent --help\n",
               command.c_str());
  return 2;
}

}  // namespace mpa::cli
