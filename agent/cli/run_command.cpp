// `maskinporten-agent run`: the agent in the foreground (agent/service/daemon.h).
#include <cstdio>

#include "agent/cli/cli.h"
#include "agent/cli/args.h"
#include "agent/service/daemon.h"
#include "agent/service/hardening.h"
#include "common/log.h"

namespace mpa::cli {
namespace {

constexpr const char* kRunHelp =
    "usage: maskinporten-agent run --config FILE [--verbose | --log-level LEVEL]\n"
    "                              [--log-format text|json]\n"
    "\n"
    "Runs the agent in the foreground. It logs in to the PKCS#11 token once, listens on\n"
    "the Unix socket named by [agent] socket, and answers local programs that ask for\n"
    "Maskinporten access tokens (`maskinporten-agent token`, or JSON lines on the\n"
    "socket). Tokens are cached and refreshed before they expire; the key never leaves\n"
    "the token and only access tokens leave the agent.\n"
    "\n"
    "options:\n"
    "  --config FILE   the agent's configuration (TOML); `check-config` validates it\n"
    "  --verbose       also log debug lines (connections, token references); the same\n"
    "                  as --log-level debug\n"
    "  --log-level L   the least severe lines logged: error, warning, info (the\n"
    "                  default) or debug\n"
    "  --log-format F  text (a time, the level and the message; the default) or json\n"
    "                  (one JSON object per line: time, level, program, message);\n"
    "                  wins over [agent] log_format, also on SIGHUP\n"
    "\n"
    "The socket: its directory is created with mode 0700 if missing; the socket gets\n"
    "socket_mode (0600: only this user; 0660 and [[allow]] rules to let a group in).\n"
    "Every connection's peer is checked (SO_PEERCRED) against [[allow]]; by default\n"
    "only the agent's own user may connect. A stale socket file left by a dead agent is\n"
    "replaced; if another agent answers on the path, this one refuses to start.\n"
    "Under systemd socket activation (maskinporten-agent.socket) the passed socket is\n"
    "used instead, and the unit's ListenStream=/SocketMode= apply.\n"
    "\n"
    "signals:\n"
    "  SIGTERM, SIGINT  stop accepting, finish requests in flight (at most 20 s),\n"
    "                   remove the socket, exit 0; a second signal stops at once\n"
    "  SIGHUP           reload the configuration: the new one is built first and used\n"
    "                   only if all of it is good; a broken file is logged and the\n"
    "                   running configuration keeps serving. A token whose module,\n"
    "                   URI and PIN did not change keeps its signer helper and login.\n"
    "                   A changed socket path or max_concurrent_exchanges needs a restart.\n"
    "\n"
    "Logs go to stderr, one line per event; under systemd with journald priorities\n"
    "(\"<N>\" before the text or the JSON object).\n"
    "\"ready: listening on PATH\" is logged once the socket accepts requests. PINs and\n"
    "whole tokens are never logged (tokens appear as sha256:xxxxxxxx).\n"
    "\n"
    "exit status: 0 stopped by a signal, 1 could not start (reason on stderr), 2 usage error,\n"
    "3 the token refused the PIN (recorded in the state directory; the unit's\n"
    "RestartPreventExitStatus=3 keeps systemd from trying it again).\n";

// --- signer helpers: a refused PIN at start has a status of its own ---
constexpr int kExitPinRefused = 3;
// --- end signer helpers ---

const std::vector<OptionSpec> kRunOptions = {
    {"config", true, false},
    {"verbose", false, false},
    {"log-level", true, false},
    {"log-format", true, false},
};

// A failure to start in the JSON format is a JSON record too, so that a
// log collector never meets a line it cannot read.
void report_start_failure(const Error& error) {
  if (log::current_format() == log::Format::json) {
    log::error(failure_code(error) + ": " + error.message);
  } else {
    report_failure(error);
  }
}

}  // namespace

int run_command(const std::vector<std::string>& args) {
  auto parsed = parse_args("run", args, kRunOptions);
  if (!parsed) return kExitUsage;
  if (parsed->has("help")) {
    std::fputs(kRunHelp, stdout);
    return kExitOk;
  }
  const auto config = parsed->get("config");
  if (!config) {
    return usage_error("run", "run needs --config FILE");
  }
  if (parsed->has("verbose") && parsed->has("log-level")) {
    return usage_error("run", "--verbose is --log-level debug; give one");
  }
  log::set_verbose(parsed->has("verbose"));
  if (const auto level_word = parsed->get("log-level")) {
    const auto level = log::parse_level(*level_word);
    if (!level) {
      return usage_error("run", "--log-level takes error, warning, info or debug, not '" + *level_word + "'");
    }
    log::set_level(*level);
  }
  DaemonOptions options{*config, std::nullopt, {}};
  if (const auto format_word = parsed->get("log-format")) {
    options.log_format = log::parse_format(*format_word);
    if (!options.log_format) {
      return usage_error("run", "--log-format takes text or json, not '" + *format_word + "'");
    }
    log::set_format(*options.log_format);
  }
  harden_process();
  const Status status = run_daemon(options);
  if (!status) {
    report_start_failure(status.error());
    return status.error().reason == ErrorReason::pin_refused ? kExitPinRefused : kExitFailed;
  }
  return kExitOk;
}

}  // namespace mpa::cli
