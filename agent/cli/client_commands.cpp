// The commands that ask a running agent over its socket: token, status,
// invalidate (DESIGN.md "Command line").
#include "agent/cli/client_commands.h"

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <iterator>
#include <toml++/toml.h>

#include "agent/cli/cli.h"
#include "agent/cli/args.h"
#include "common/clock.h"
#include "protocol/client.h"
#include "common/file_read.h"
#include "protocol/status.h"

namespace mpa::cli {
namespace {

using protocol::AgentClient;

// A token request may wait for Maskinporten, including the agent's retries.
constexpr std::chrono::seconds kTokenTimeout{90};
// status and invalidate never wait for the network.
constexpr std::chrono::seconds kQuickTimeout{10};
// The configuration file read for [agent] socket; real ones are a few KiB.
constexpr std::size_t kMaxConfigFileBytes = 1024 * 1024;

constexpr const char* kSocketHelp =
    "the socket: --socket PATH, else $MASKINPORTEN_AGENT_SOCKET, else `socket` in the\n"
    "[agent] table of /etc/maskinporten-agent/agent.toml (if readable), else\n"
    "$XDG_RUNTIME_DIR/maskinporten-agent/agent.sock.\n";

constexpr const char* kRequestOptionsHelp =
    "  --scope S                  a scope to ask for; repeat for several (required)\n"
    "  --client NAME              which [[client]] of the agent (default: its only one)\n"
    "  --resource URL             audience restriction; repeat for several\n"
    "  --consumer-org ORGNO       9-digit organisation number (delegation)\n"
    "  --iss-onbehalfof NAME      on-behalf-of (not with --consumer-org)\n"
    "  --pid PID                  11-digit person identifier\n"
    "  --authorization-details J  a JSON array of objects, e.g. Altinn system user details\n"
    "  --exchange altinn          the Altinn token made from the Maskinporten token\n";

std::string token_help() {
  return std::string(
             "usage: maskinporten-agent token --scope S [--scope S2 ...] [OPTIONS]\n"
             "\n"
             "Asks the running agent for a Maskinporten access token and prints it and a newline\n"
             "on stdout, nothing else, so that it fits in a command:\n"
             "  curl -H \"Authorization: Bearer $(maskinporten-agent token --scope altinn:enduser)\" URL\n"
             "The agent answers from its cache when it holds a token for exactly these options\n"
             "(and the same client) that stays valid long enough; otherwise it signs a new grant\n"
             "on its PKCS#11 token and asks Maskinporten. The key and the PIN stay with the agent.\n"
             "\n"
             "options:\n") +
         kRequestOptionsHelp +
         "  --min-ttl SECONDS          the token must stay valid this long (0-86400; default:\n"
         "                             the agent's refresh_margin_seconds)\n"
         "  --json                     print the agent's whole answer: {\"ok\":true,\"access_token\":\n"
         "                             ...,\"token_type\":...,\"expires_in\":...,\"expires_at\":...,\"scope\":...}\n"
         "  --socket PATH              the agent's socket (see below)\n"
         "\n" +
         kSocketHelp +
         "\n"
         "exit status: 0 printed a token; 1 failed, with one line on stderr such as\n"
         "`error: invalid_scope: ...` (the agent's error code, then its words) or\n"
         "`error: ... does not exist; is the agent running?`; 2 usage error.\n"
         "\n"
         "example:\n"
         "  maskinporten-agent token --scope altinn:instances.read --exchange altinn\n";
}

std::string status_help() {
  return std::string(
             "usage: maskinporten-agent status [--json] [--socket PATH]\n"
             "\n"
             "Asks the running agent how it is and prints a summary: its version and uptime; for\n"
             "each client the PKCS#11 token (present, logged in), the certificate's subject and\n"
             "days until it expires, and the last error; the cache (entries, requests in flight,\n"
             "hits, misses, exchanges with Maskinporten, misses answered with a recent failure);\n"
             "the workers (how many are exchanging, how many exchanges wait for one). It never\n"
             "makes the agent sign or call Maskinporten.\n"
             "\n"
             "options:\n"
             "  --json                     print the agent's answer as JSON (one line) instead\n"
             "  --socket PATH              the agent's socket (see below)\n"
             "\n") +
         kSocketHelp +
         "\n"
         "exit status: 0 the agent answered (read the summary for problems it reports);\n"
         "1 no agent could be asked, or it answered with an error (one `error:` line on\n"
         "stderr); 2 usage error.\n"
         "\n"
         "example:\n"
         "  maskinporten-agent status --socket /run/maskinporten-agent/agent.sock\n";
}

std::string invalidate_help() {
  return std::string(
             "usage: maskinporten-agent invalidate --scope S [--scope S2 ...] [OPTIONS]\n"
             "\n"
             "Asks the running agent to drop the cached token for exactly these options (and\n"
             "client), so that the next `token` request gets a fresh one from Maskinporten: for\n"
             "example after the client's scopes or delegations were changed. It also ends a held\n"
             "failure (an error the agent repeats for a while instead of asking Maskinporten\n"
             "again at once). Prints nothing when it worked. Tokens already handed out stay\n"
             "valid until they expire.\n"
             "\n"
             "options:\n") +
         kRequestOptionsHelp +
         "  --socket PATH              the agent's socket (see below)\n"
         "\n" +
         kSocketHelp +
         "\n"
         "exit status: 0 done; 1 failed (one `error:` line on stderr, with the agent's error\n"
         "code when it answered); 2 usage error.\n"
         "\n"
         "example:\n"
         "  maskinporten-agent invalidate --client default --scope altinn:enduser\n";
}

const std::vector<OptionSpec> kRequestOptions = {
    {"scope", true, true},           {"client", true, false},
    {"resource", true, true},        {"consumer-org", true, false},
    {"iss-onbehalfof", true, false}, {"pid", true, false},
    {"authorization-details", true, false},
    {"exchange", true, false},       {"socket", true, false},
};

// A failure on this side (no socket, no connection, no answer).
int fail(const Error& error) {
  std::fprintf(stderr, "error: %s\n", error.message.c_str());
  return kExitFailed;
}

// The agent said no: its code first, so scripts can tell the cases apart.
int fail_with_code(const Error& error) {
  std::fprintf(stderr, "error: %s: %s\n", std::string(to_string(error.code)).c_str(),
               error.message.c_str());
  return kExitFailed;
}

std::optional<std::string> environment_variable(const char* name) {
  const char* value = std::getenv(name);
  if (value == nullptr || *value == '\0') return std::nullopt;
  return std::string(value);
}

// The request the options describe; nullopt after a usage message.
std::optional<protocol::TokenRequest> token_request_from(const std::string& command,
                                                         const ParsedArgs& args) {
  protocol::TokenRequest request;
  request.grant.scopes = args.all("scope");
  if (request.grant.scopes.empty()) {
    usage_error(command, "at least one --scope is required");
    return std::nullopt;
  }
  request.client = args.get("client").value_or("");
  request.grant.resource = args.all("resource");
  request.grant.consumer_org = args.get("consumer-org");
  request.grant.iss_onbehalfof = args.get("iss-onbehalfof");
  request.grant.pid = args.get("pid");
  if (const auto details = args.get("authorization-details")) {
    auto normalized = protocol::normalize_authorization_details(*details);
    if (!normalized) {
      usage_error(command, "--authorization-details: " + normalized.error().message);
      return std::nullopt;
    }
    request.grant.authorization_details = std::move(*normalized);
  }
  request.exchange = args.get("exchange");
  if (request.exchange && *request.exchange != "altinn") {
    usage_error(command, "--exchange takes only \"altinn\"");
    return std::nullopt;
  }
  if (const auto min_ttl = args.get("min-ttl")) {
    const auto seconds = parse_number(*min_ttl, 0, protocol::kMaxMinTtlSeconds);
    if (!seconds) {
      usage_error(command, "--min-ttl takes whole seconds from 0 to " +
                         std::to_string(protocol::kMaxMinTtlSeconds) + ", not '" + *min_ttl + "'");
      return std::nullopt;
    }
    request.min_ttl = *seconds;
  }
  return request;
}

// Resolves the socket and connects; on failure prints the error.
std::optional<AgentClient> connect_to_agent(const ParsedArgs& args, std::chrono::seconds timeout) {
  auto path = resolve_socket_path(SocketPathSources::from_environment(args.get("socket")));
  if (!path) {
    fail(path.error());
    return std::nullopt;
  }
  auto client = AgentClient::connect(*path, timeout);
  if (!client) {
    fail(client.error());
    return std::nullopt;
  }
  return std::move(*client);
}

// Parses the arguments; nullopt with the exit status when the command ends
// here (usage error, or --help printed).
std::optional<ParsedArgs> parse_or_exit(const std::string& command, const std::vector<std::string>& args,
                                        const std::vector<OptionSpec>& specs, const std::string& help,
                                        int& exit_status) {
  auto parsed = parse_args(command, args, specs);
  if (!parsed) {
    exit_status = kExitUsage;
    return std::nullopt;
  }
  if (parsed->has("help")) {
    std::fputs(help.c_str(), stdout);
    exit_status = kExitOk;
    return std::nullopt;
  }
  if (const auto socket = parsed->get("socket"); socket && socket->empty()) {
    exit_status = usage_error(command, "--socket needs a path");
    return std::nullopt;
  }
  return parsed;
}

int run_token(const ParsedArgs& args) {
  auto request = token_request_from("token", args);
  if (!request) return kExitUsage;
  auto client = connect_to_agent(args, kTokenTimeout);
  if (!client) return kExitFailed;
  auto line = client->request(protocol::Request{std::nullopt, std::move(*request)});
  if (!line) return fail(line.error());
  auto token = protocol::decode_token_response(*line);
  if (!token) return fail_with_code(token.error());
  std::printf("%s\n", args.has("json") ? line->c_str() : token->access_token.c_str());
  return kExitOk;
}

}  // namespace

SocketPathSources SocketPathSources::from_environment(std::optional<std::string> flag) {
  SocketPathSources sources;
  sources.flag = std::move(flag);
  sources.environment = environment_variable("MASKINPORTEN_AGENT_SOCKET");
  sources.runtime_directory = environment_variable("XDG_RUNTIME_DIR");
  return sources;
}

std::optional<std::string> socket_from_config_file(const std::string& path) {
  auto read = read_file(path, {kMaxConfigFileBytes, FileModeCheck::none, true});
  if (!read) return std::nullopt;
  const std::string& text = read.bytes();
  // toml++ reports parse errors by exception; none may leave this function.
  try {
    const toml::table table = toml::parse(text, path);
    const auto socket = table["agent"]["socket"].value<std::string>();
    if (!socket || socket->empty()) return std::nullopt;
    return socket;
  } catch (const std::exception&) {
    return std::nullopt;
  }
}

Result<std::string> resolve_socket_path(const SocketPathSources& sources) {
  if (sources.flag && !sources.flag->empty()) return *sources.flag;
  if (sources.environment && !sources.environment->empty()) return *sources.environment;
  if (auto from_file = socket_from_config_file(sources.config_file)) return std::move(*from_file);
  if (sources.runtime_directory && !sources.runtime_directory->empty()) {
    return *sources.runtime_directory + "/maskinporten-agent/agent.sock";
  }
  return make_error(ErrorCode::invalid_request,
                    "no socket to ask: give --socket PATH or set MASKINPORTEN_AGENT_SOCKET (" +
                        sources.config_file + " names none, and XDG_RUNTIME_DIR is not set)");
}

int token_command(const std::vector<std::string>& args) {
  std::vector<OptionSpec> specs = kRequestOptions;
  specs.push_back({"min-ttl", true, false});
  specs.push_back({"json", false, false});
  int exit_status = kExitOk;
  const auto parsed = parse_or_exit("token", args, specs, token_help(), exit_status);
  if (!parsed) return exit_status;
  return run_token(*parsed);
}

int status_command(const std::vector<std::string>& args) {
  int exit_status = kExitOk;
  const auto parsed = parse_or_exit("status", args, {{"json", false, false}, {"socket", true, false}},
                                    status_help(), exit_status);
  if (!parsed) return exit_status;
  auto client = connect_to_agent(*parsed, kQuickTimeout);
  if (!client) return kExitFailed;
  auto line = client->request(protocol::Request{std::nullopt, protocol::StatusRequest{}});
  if (!line) return fail(line.error());
  auto status = protocol::decode_status_response(*line);
  if (!status) return fail_with_code(status.error());
  if (parsed->has("json")) {
    std::printf("%s\n", line->c_str());
  } else {
    std::fputs(render_status(*status, epoch_seconds_now()).c_str(), stdout);
  }
  return kExitOk;
}

int invalidate_command(const std::vector<std::string>& args) {
  int exit_status = kExitOk;
  const auto parsed = parse_or_exit("invalidate", args, kRequestOptions, invalidate_help(), exit_status);
  if (!parsed) return exit_status;
  auto target = token_request_from("invalidate", *parsed);
  if (!target) return kExitUsage;
  auto client = connect_to_agent(*parsed, kQuickTimeout);
  if (!client) return kExitFailed;
  auto line = client->request(protocol::Request{std::nullopt, protocol::InvalidateRequest{std::move(*target)}});
  if (!line) return fail(line.error());
  if (auto answer = protocol::decode_response_status(*line); !answer) {
    return fail_with_code(answer.error());
  }
  return kExitOk;
}

}  // namespace mpa::cli
