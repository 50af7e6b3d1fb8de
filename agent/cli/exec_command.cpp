// `maskinporten-agent exec [token options] [--env NAME] -- COMMAND ARGS...`:
// runs COMMAND with an access token from the agent in its environment, as
// `aws-vault exec` and `op run` do. The token goes in the environment, never
// in argv (other users can read argv in /proc). The command replaces this
// process (execvp), so signals and the exit status are the command's own.
#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <vector>

#include "agent/cli/cli.h"
#include "agent/cli/client_commands.h"
#include "common/text.h"

namespace mpa::cli {
namespace {

constexpr const char* kDefaultVariable = "MASKINPORTEN_TOKEN";
// What shells and env(1) exit with when the command cannot be run.
constexpr int kExitCommandNotFound = 127;
constexpr int kExitCommandNotRunnable = 126;

std::string exec_help() {
  return std::string(
             "usage: maskinporten-agent exec --scope S [--scope S2 ...] [OPTIONS] [--env NAME]\n"
             "                               -- COMMAND [ARGS...]\n"
             "\n"
             "Asks the running agent for an access token (as `token` does) and runs COMMAND with\n"
             "it in the environment variable NAME (default MASKINPORTEN_TOKEN):\n"
             "  maskinporten-agent exec --scope altinn:enduser -- \\\n"
             "    sh -c 'curl -H \"Authorization: Bearer $MASKINPORTEN_TOKEN\" https://...'\n"
             "The token is never put on a command line, where other users could read it.\n"
             "COMMAND replaces this process, so it gets the signals sent to it and its exit\n"
             "status is the exit status. The token is fetched once, when COMMAND starts: a\n"
             "program that runs longer than the token lives should ask the agent itself.\n"
             "\n"
             "options:\n") +
         kRequestOptionsHelp +
         "  --min-ttl SECONDS          the token must stay valid this long (0-86400)\n"
         "  --env NAME                 the variable to put the token in (default MASKINPORTEN_TOKEN)\n"
         "\n" +
         kSocketHelp +
         "\n"
         "exit status: COMMAND's; 1 no token (one `error: CODE: words` line on stderr);\n"
         "2 usage error; 126 COMMAND cannot be run; 127 COMMAND not found.\n"
         "\n"
         "example:\n"
         "  maskinporten-agent exec --scope altinn:enduser --env TOKEN -- ./fetch-reports.sh\n";
}

bool is_variable_name(const std::string& name) {
  if (name.empty() || (std::isdigit(static_cast<unsigned char>(name[0])) != 0)) return false;
  return std::all_of(name.begin(), name.end(), [](char c) {
    return c == '_' || std::isalnum(static_cast<unsigned char>(c)) != 0;
  });
}

// Replaces this process with `command`; returns only when that failed.
int run_with_token(const std::vector<std::string>& command, const std::string& variable,
                   const std::string& token) {
  if (::setenv(variable.c_str(), token.c_str(), 1) != 0) {
    return report_failure(make_error(ErrorCode::internal, "cannot set " + variable + ": " + errno_text(errno)));
  }
  std::vector<char*> argv;
  for (const std::string& arg : command) argv.push_back(const_cast<char*>(arg.c_str()));
  argv.push_back(nullptr);
  std::fflush(stdout);
  std::fflush(stderr);
  ::execvp(argv[0], argv.data());
  const int error_number = errno;
  ::unsetenv(variable.c_str());
  report_failure(make_error(ErrorCode::invalid_request,
                            "cannot run " + quoted(command[0]) + ": " +
                                errno_text(error_number)));
  return error_number == ENOENT ? kExitCommandNotFound : kExitCommandNotRunnable;
}

}  // namespace

int exec_command(const std::vector<std::string>& args) {
  const auto separator = std::find(args.begin(), args.end(), "--");
  const std::vector<std::string> options(args.begin(), separator);
  std::vector<OptionSpec> specs = kRequestOptions;
  specs.push_back({"min-ttl", true, false});
  specs.push_back({"env", true, false});
  auto parsed = parse_args("exec", options, specs);
  if (!parsed) return kExitUsage;
  if (parsed->has("help")) {
    std::fputs(exec_help().c_str(), stdout);
    return kExitOk;
  }
  if (separator == args.end() || separator + 1 == args.end()) {
    return usage_error("exec", "give the command to run after --, e.g. exec --scope S -- env");
  }
  const std::vector<std::string> command(separator + 1, args.end());
  const std::string variable = parsed->get("env").value_or(kDefaultVariable);
  if (!is_variable_name(variable)) {
    return usage_error("exec", "--env takes a variable name (letters, digits, _), not " +
                                   quoted(variable));
  }
  auto request = token_request_from("exec", *parsed);
  if (!request) return kExitUsage;
  auto answer = ask_for_token(*parsed, std::move(*request));
  if (!answer) return kExitFailed;
  return run_with_token(command, variable, answer->token.access_token);
}

}  // namespace mpa::cli
