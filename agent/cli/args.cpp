#include "agent/cli/args.h"

#include <unistd.h>

#include <charconv>
#include <cstdio>

namespace mpa::cli {

std::optional<std::string> ParsedArgs::get(const std::string& name) const {
  auto it = values.find(name);
  if (it == values.end() || it->second.empty()) return std::nullopt;
  return it->second.back();
}

std::vector<std::string> ParsedArgs::all(const std::string& name) const {
  auto it = values.find(name);
  return it == values.end() ? std::vector<std::string>{} : it->second;
}

std::optional<std::string> token_argument(const ParsedArgs& parsed, std::size_t max_bytes) {
  if (!parsed.positionals.empty() && parsed.positionals[0] != "-") return parsed.positionals[0];
  if (::isatty(STDIN_FILENO) == 1) std::fputs("reading the token from stdin (end with Ctrl-D)\n", stderr);
  // The token, a line ending and a little slack; more is refused unread.
  std::string data(max_bytes + 3, '\0');
  const std::size_t n = std::fread(data.data(), 1, data.size(), stdin);
  if (n > max_bytes + 2) return std::nullopt;
  data.resize(n);
  while (!data.empty() && (data.back() == '\n' || data.back() == '\r' || data.back() == ' ')) {
    data.pop_back();
  }
  return data;
}

int usage_error(const std::string& command, const std::string& message) {
  std::fprintf(stderr, "error: usage: %s\n(see: maskinporten-agent %s --help)\n", message.c_str(),
               command.c_str());
  return 2;
}

std::string failure_code(const Error& error) {
  // The wire has no invalid_config (a client cannot fix the agent's file);
  // a person at the command line can, so here it keeps its name.
  return error.code == ErrorCode::invalid_config ? "invalid_config" : std::string(to_string(error.code));
}

int report_failure(const Error& error) {
  std::fprintf(stderr, "error: %s: %s\n", failure_code(error).c_str(), error.message.c_str());
  return 1;
}

namespace {

// Takes the option args[i] ("--name", "--name=value" or "--name value",
// then moving i past the value); false after a usage message.
bool take_option(const std::string& command, const std::vector<std::string>& args, std::size_t& i,
                 const std::vector<OptionSpec>& specs, ParsedArgs& parsed) {
  std::string name = args[i].substr(2);
  std::optional<std::string> inline_value;
  if (auto eq = name.find('='); eq != std::string::npos) {
    inline_value = name.substr(eq + 1);
    name.resize(eq);
  }
  const OptionSpec* spec = nullptr;
  for (const auto& s : specs) {
    if (name == s.name) spec = &s;
  }
  if (spec == nullptr) {
    usage_error(command, "unknown option --" + name);
    return false;
  }
  if (!spec->repeatable && parsed.has(name)) {
    usage_error(command, "--" + name + " given twice");
    return false;
  }
  if (!spec->takes_value) {
    if (inline_value) {
      usage_error(command, "--" + name + " takes no value");
      return false;
    }
    parsed.values[name].push_back("");
    return true;
  }
  if (!inline_value) {
    if (i + 1 >= args.size()) {
      usage_error(command, "--" + name + " needs a value");
      return false;
    }
    inline_value = args[++i];
  }
  parsed.values[name].push_back(*inline_value);
  return true;
}

}  // namespace

std::optional<ParsedArgs> parse_args(const std::string& command,
                                     const std::vector<std::string>& args,
                                     const std::vector<OptionSpec>& specs,
                                     std::size_t max_positionals) {
  ParsedArgs parsed;
  for (std::size_t i = 0; i < args.size(); ++i) {
    const std::string& arg = args[i];
    if (arg == "--help" || arg == "-h") {
      parsed.values["help"].push_back("");
      continue;
    }
    if (arg.rfind("--", 0) != 0 || arg == "--") {
      if (arg == "--" && i + 1 < args.size()) {
        parsed.positionals.insert(parsed.positionals.end(), args.begin() + static_cast<long>(i) + 1,
                                  args.end());
        break;
      }
      parsed.positionals.push_back(arg);
      continue;
    }
    if (!take_option(command, args, i, specs, parsed)) return std::nullopt;
  }
  if (!parsed.has("help") && parsed.positionals.size() > max_positionals) {
    usage_error(command, "unexpected argument '" + parsed.positionals[max_positionals] + "'");
    return std::nullopt;
  }
  return parsed;
}

std::optional<long long> parse_number(const std::string& text, long long min, long long max) {
  long long value = 0;
  const char* end = text.data() + text.size();
  auto [ptr, ec] = std::from_chars(text.data(), end, value);
  if (text.empty() || ec != std::errc() || ptr != end || value < min || value > max) {
    return std::nullopt;
  }
  return value;
}

}  // namespace mpa::cli
