// Placeholder until this group of commands lands; each says so and fails.
#include <cstdio>

#include "agent/cli.h"

namespace mpa::cli {

int token_command(const std::vector<std::string>&) {
  std::fputs("error: this command is not built yet\n", stderr);
  return kExitFailed;
}

int status_command(const std::vector<std::string>&) {
  std::fputs("error: this command is not built yet\n", stderr);
  return kExitFailed;
}

int invalidate_command(const std::vector<std::string>&) {
  std::fputs("error: this command is not built yet\n", stderr);
  return kExitFailed;
}

}  // namespace mpa::cli
