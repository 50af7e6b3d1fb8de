// The commands that ask a running agent over its socket: token, status,
// invalidate (docs/USAGE.md "Asking the agent"); exec is in exec_command.cpp.
#include "agent/cli/client_commands.h"

#include <rapidjson/stringbuffer.h>
#include <rapidjson/writer.h>

#include <chrono>
#include <cstdio>

#include "agent/cli/cli.h"
#include "common/clock.h"

namespace mpa::cli {

const char* const kSocketHelp =
    "the socket: --socket PATH, else where `run --config FILE` listens when --config is\n"
    "given, else $MASKINPORTEN_AGENT_SOCKET, else `socket` in the [agent] table of\n"
    "/etc/maskinporten-agent/agent.toml (if readable), else\n"
    "$XDG_RUNTIME_DIR/maskinporten-agent/agent.sock.\n";

const char* const kRequestOptionsHelp =
    "  --scope S                  a scope to ask for; repeat for several (required)\n"
    "  --client NAME              which [[client]] of the agent (default: its only one)\n"
    "  --resource URL             audience restriction; repeat for several\n"
    "  --consumer-org ORGNO       9-digit organisation number (delegation)\n"
    "  --iss-onbehalfof NAME      on-behalf-of (not with --consumer-org)\n"
    "  --pid PID                  11-digit person identifier\n"
    "  --authorization-details J  a JSON array of objects, e.g. Altinn system user details\n"
    "  --exchange altinn          the Altinn token made from the Maskinporten token\n"
    "  --socket PATH              the agent's socket (see below)\n"
    "  --config FILE              the agent's configuration: ask where it listens\n";

const std::vector<OptionSpec> kRequestOptions = {
    {"scope", true, true},           {"client", true, false},
    {"resource", true, true},        {"consumer-org", true, false},
    {"iss-onbehalfof", true, false}, {"pid", true, false},
    {"authorization-details", true, false},
    {"exchange", true, false},       {"socket", true, false},
    {"config", true, false},
};

namespace {

using protocol::AgentClient;

// status and invalidate never wait for the network.
constexpr std::chrono::seconds kQuickTimeout{10};

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
         "  --format F                 token (the default), json (as --json), or credential-process:\n"
         "                             {\"version\":1,\"access_token\":...,\"token_type\":...,\n"
         "                             \"expires_at\":\"2026-11-24T10:00:00Z\"} (RFC 3339)\n"
         "\n" +
         kSocketHelp +
         "\n"
         "exit status: 0 printed a token; 1 failed, with one line on stderr, `error: CODE: words`,\n"
         "such as `error: invalid_scope: ...` (the agent's code) or\n"
         "`error: unavailable: ... does not exist; is the agent running?`; 2 usage error.\n"
         "\n"
         "example:\n"
         "  maskinporten-agent token --scope altinn:instances.read --exchange altinn\n";
}

std::string status_help() {
  return std::string(
             "usage: maskinporten-agent status [--json] [--socket PATH | --config FILE]\n"
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
             "  --config FILE              the agent's configuration: ask where it listens\n"
             "\n") +
         kSocketHelp +
         "\n"
         "exit status: 0 the agent answered (read the summary for problems it reports);\n"
         "1 no agent could be asked, or it answered with an error (one `error: CODE: words`\n"
         "line on stderr); 2 usage error.\n"
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
         "\n" +
         kSocketHelp +
         "\n"
         "exit status: 0 done; 1 failed (one `error: CODE: words` line on stderr); 2 usage error.\n"
         "\n"
         "example:\n"
         "  maskinporten-agent invalidate --client default --scope altinn:enduser\n";
}

// Maskinporten joins scopes with spaces, so one with whitespace in it
// would silently become two; the agent refuses it, in its own words.
std::optional<std::string> scope_problem(const std::vector<std::string>& scopes) {
  for (const std::string& scope : scopes) {
    if (scope.empty()) return "--scope needs a scope, not an empty string";
    if (scope.find_first_of(" \t\r\n") != std::string::npos) {
      return "--scope \"" + scope + "\" holds whitespace; give each scope its own --scope "
             "(--scope a --scope b)";
    }
  }
  return std::nullopt;
}

// Resolves the socket and connects; on failure prints the error.
std::optional<AgentClient> connect_to_agent(const ParsedArgs& args, std::chrono::seconds timeout) {
  auto path = resolve_socket_path(SocketPathSources::from_environment(args.get("socket"), args.get("config")));
  if (!path) {
    report_failure(path.error());
    return std::nullopt;
  }
  auto client = AgentClient::connect(*path, timeout);
  if (!client) {
    report_failure(client.error());
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
  for (const char* option : {"socket", "config"}) {
    if (const auto value = parsed->get(option); value && value->empty()) {
      exit_status = usage_error(command, std::string("--") + option + " needs a path");
      return std::nullopt;
    }
  }
  return parsed;
}

int run_token(const ParsedArgs& args) {
  const std::string format = args.get("format").value_or(args.has("json") ? "json" : "token");
  if (format != "token" && format != "json" && format != "credential-process") {
    return usage_error("token", "--format takes token, json or credential-process, not '" + format + "'");
  }
  if (args.has("json") && args.has("format")) return usage_error("token", "--json is --format json; give one");
  auto request = token_request_from("token", args);
  if (!request) return kExitUsage;
  auto answer = ask_for_token(args, std::move(*request));
  if (!answer) return kExitFailed;
  if (format == "json") {
    std::printf("%s\n", answer->line.c_str());
  } else if (format == "credential-process") {
    std::printf("%s\n", credential_process_json(answer->token).c_str());
  } else {
    std::printf("%s\n", answer->token.access_token.c_str());
  }
  return kExitOk;
}

}  // namespace

std::optional<protocol::TokenRequest> token_request_from(const std::string& command,
                                                         const ParsedArgs& args) {
  protocol::TokenRequest request;
  request.grant.scopes = args.all("scope");
  if (request.grant.scopes.empty()) {
    usage_error(command, "at least one --scope is required");
    return std::nullopt;
  }
  if (const auto problem = scope_problem(request.grant.scopes)) {
    usage_error(command, *problem);
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

std::optional<TokenAnswer> ask_for_token(const ParsedArgs& args, protocol::TokenRequest request) {
  auto client = connect_to_agent(args, kTokenTimeout);
  if (!client) return std::nullopt;
  auto line = client->request(protocol::Request{std::nullopt, std::move(request)});
  if (!line) {
    report_failure(line.error());
    return std::nullopt;
  }
  auto token = protocol::decode_token_response(*line);
  if (!token) {
    report_failure(token.error());
    return std::nullopt;
  }
  return TokenAnswer{std::move(*line), std::move(*token)};
}

std::string credential_process_json(const protocol::TokenResponse& token) {
  rapidjson::StringBuffer buffer;
  rapidjson::Writer<rapidjson::StringBuffer> w(buffer);
  const std::string expires_at = format_utc(token.expires_at, UtcFormat::iso8601);
  w.StartObject();
  w.Key("version");
  w.Int(1);
  w.Key("access_token");
  w.String(token.access_token.c_str(), static_cast<rapidjson::SizeType>(token.access_token.size()));
  w.Key("token_type");
  w.String(token.token_type.c_str(), static_cast<rapidjson::SizeType>(token.token_type.size()));
  w.Key("expires_at");
  w.String(expires_at.c_str(), static_cast<rapidjson::SizeType>(expires_at.size()));
  w.EndObject();
  return buffer.GetString();
}

int token_command(const std::vector<std::string>& args) {
  std::vector<OptionSpec> specs = kRequestOptions;
  specs.push_back({"min-ttl", true, false});
  specs.push_back({"json", false, false});
  specs.push_back({"format", true, false});
  int exit_status = kExitOk;
  const auto parsed = parse_or_exit("token", args, specs, token_help(), exit_status);
  if (!parsed) return exit_status;
  return run_token(*parsed);
}

int status_command(const std::vector<std::string>& args) {
  int exit_status = kExitOk;
  const auto parsed = parse_or_exit("status", args,
                                    {{"json", false, false}, {"socket", true, false}, {"config", true, false}},
                                    status_help(), exit_status);
  if (!parsed) return exit_status;
  auto client = connect_to_agent(*parsed, kQuickTimeout);
  if (!client) return kExitFailed;
  auto line = client->request(protocol::Request{std::nullopt, protocol::StatusRequest{}});
  if (!line) return report_failure(line.error());
  auto status = protocol::decode_status_response(*line);
  if (!status) return report_failure(status.error());
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
  if (!line) return report_failure(line.error());
  if (auto answer = protocol::decode_response_status(*line); !answer) {
    return report_failure(answer.error());
  }
  return kExitOk;
}

}  // namespace mpa::cli
