// A small, strict option parser for the subcommands: `--name VALUE`,
// `--name=VALUE` and flags; unknown options and missing values are usage
// errors (exit 2) with words.
#pragma once

#include <map>
#include <optional>
#include <string>
#include <vector>

#include "common/result.h"

namespace mpa::cli {

struct OptionSpec {
  const char* name;  // without the leading "--"
  bool takes_value;
  bool repeatable;
};

struct ParsedArgs {
  std::map<std::string, std::vector<std::string>> values;  // flags map to {""}
  std::vector<std::string> positionals;

  bool has(const std::string& name) const { return values.count(name) != 0; }
  std::optional<std::string> get(const std::string& name) const;
  std::vector<std::string> all(const std::string& name) const;
};

// Prints "error: usage: MESSAGE" and where to read more on stderr;
// returns the usage exit status (2).
int usage_error(const std::string& command, const std::string& message);

// Prints the CLI's one error line, "error: CODE: MESSAGE" (the code as the
// socket protocol spells it, so scripts can tell cases apart), on stderr;
// returns the failure exit status (1).
int report_failure(const Error& error);
// The CODE of that line.
std::string failure_code(const Error& error);

// On a usage error, prints "error: ..." and a hint naming `command` to
// stderr and returns nullopt. "--help"/"-h" sets the "help" flag.

std::optional<ParsedArgs> parse_args(const std::string& command,
                                     const std::vector<std::string>& args,
                                     const std::vector<OptionSpec>& specs,
                                     std::size_t max_positionals = 0);

// The token a verify command checks: the positional argument, or stdin for
// "-" or none (trailing line end and spaces dropped). nullopt when stdin
// holds more than `max_bytes`.
std::optional<std::string> token_argument(const ParsedArgs& parsed, std::size_t max_bytes);

// Parses a whole decimal number within [min, max]; nullopt otherwise.
std::optional<long long> parse_number(const std::string& text, long long min, long long max);

}  // namespace mpa::cli
