// `maskinporten-agent metrics`: the running agent's metrics in the
// OpenMetrics text format (docs/OPERATIONS.md "Metrics").
#include <chrono>
#include <cstdio>
#include <string>

#include "agent/cli/args.h"
#include "agent/cli/cli.h"
#include "agent/cli/client_commands.h"

namespace mpa::cli {
namespace {

// Rendering reads each client's certificate from the signer: no network.
constexpr std::chrono::seconds kMetricsTimeout{10};

std::string metrics_help() {
  return std::string(
             "usage: maskinporten-agent metrics [--socket PATH | --config FILE]\n"
             "\n"
             "Prints the running agent's metrics in the OpenMetrics text format (what a\n"
             "Prometheus scraper reads), ending in `# EOF`: requests by op and result, cache\n"
             "hits, misses and held failures, exchanges by outcome, exchange and signature\n"
             "latency histograms, cache entries, signer helper restarts, seconds until each\n"
             "client's certificate expires, and each client's last successful exchange. Only\n"
             "the agent's own user and root may read them; `[metrics] listen` serves the same\n"
             "over HTTP for a scraper.\n"
             "\n"
             "options:\n"
             "  --socket PATH              the agent's socket (see below)\n"
             "  --config FILE              the agent's configuration: ask where it listens\n"
             "\n") +
         kSocketHelp;
}

}  // namespace

int metrics_command(const std::vector<std::string>& args) {
  auto parsed = parse_args("metrics", args, {{"socket", true, false}, {"config", true, false}});
  if (!parsed) return kExitUsage;
  if (parsed->has("help")) {
    std::fputs(metrics_help().c_str(), stdout);
    return kExitOk;
  }
  for (const char* option : {"socket", "config"}) {
    if (const auto value = parsed->get(option); value && value->empty()) {
      return usage_error("metrics", std::string("--") + option + " needs a path");
    }
  }
  auto path = resolve_socket_path(
      SocketPathSources::from_environment(parsed->get("socket"), parsed->get("config")));
  if (!path) return report_failure(path.error());
  auto client = protocol::AgentClient::connect(*path, kMetricsTimeout);
  if (!client) return report_failure(client.error());
  auto line = client->request(protocol::Request{std::nullopt, protocol::MetricsRequest{}});
  if (!line) return report_failure(line.error());
  auto text = protocol::decode_metrics_response(*line);
  if (!text) return report_failure(text.error());
  std::fputs(text->c_str(), stdout);
  return kExitOk;
}

}  // namespace mpa::cli
