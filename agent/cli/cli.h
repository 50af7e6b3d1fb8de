// The command line (DESIGN.md "Command line"): exit 0 success, 1 the
// operation failed (one `error: CODE: words` line on stderr), 2 usage error.
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
int run_command(const std::vector<std::string>& args);            // run_command.cpp
int token_command(const std::vector<std::string>& args);          // client_commands.cpp
int status_command(const std::vector<std::string>& args);         // client_commands.cpp
int invalidate_command(const std::vector<std::string>& args);     // client_commands.cpp
int exec_command(const std::vector<std::string>& args);           // exec_command.cpp
int fetch_command(const std::vector<std::string>& args);          // oneshot_commands.cpp
int grant_command(const std::vector<std::string>& args);          // oneshot_commands.cpp
int check_config_command(const std::vector<std::string>& args);   // oneshot_commands.cpp
int verify_altinn_command(const std::vector<std::string>& args);  // altinn_commands.cpp
int version_command(const std::vector<std::string>& args);        // cli.cpp
int verify_token_command(const std::vector<std::string>& args);   // verify_command.cpp
int metrics_command(const std::vector<std::string>& args);        // metrics_command.cpp
// Internal, not listed in --help: the signer helper process.
int signer_helper_command(const std::vector<std::string>& args);  // signer_helper_command.cpp

}  // namespace mpa::cli
