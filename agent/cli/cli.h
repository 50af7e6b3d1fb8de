// The command line (DESIGN.md "Command line"): exit 0 success, 1 the
// operation failed (one `error:` line on stderr), 2 usage error.
#pragma once

#include <string>
#include <vector>

namespace mpa::cli {

inline constexpr int kExitOk = 0;
inline constexpr int kExitFailed = 1;
inline constexpr int kExitUsage = 2;

int main(int argc, char** argv);

// One function per subcommand; `args` excludes the program and command
// names. Each handles its own --help.
int run_command(const std::vector<std::string>& args);            // cli_run.cpp
int token_command(const std::vector<std::string>& args);          // cli_client.cpp
int status_command(const std::vector<std::string>& args);         // cli_client.cpp
int invalidate_command(const std::vector<std::string>& args);     // cli_client.cpp
int fetch_command(const std::vector<std::string>& args);          // cli_oneshot.cpp
int grant_command(const std::vector<std::string>& args);          // cli_oneshot.cpp
int check_config_command(const std::vector<std::string>& args);   // cli_oneshot.cpp
int verify_altinn_command(const std::vector<std::string>& args);  // cli_altinn.cpp
int verify_token_command(const std::vector<std::string>& args);   // verify_command.cpp
// Internal, not listed in --help: the signer helper process.
int signer_helper_command(const std::vector<std::string>& args);  // signer_helper_command.cpp

}  // namespace mpa::cli
