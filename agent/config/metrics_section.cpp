// The [metrics] table: where the optional HTTP listener serves /metrics.
#include <arpa/inet.h>

#include <string>

#include "agent/config/sections.h"

namespace mpa::config_internal {

// ---------------------------------------------------------------- [metrics]

namespace {

constexpr const char* kListenForm =
    "is an IP address and a port, as \"127.0.0.1:9464\" or \"[::1]:9464\"";

// "1.2.3.4:N" or "[v6]:N" with N from 1 to 65535; host names are not
// looked up, so that what the agent binds is what the file says.
std::optional<MetricsListen> parse_listen(const std::string& text) {
  const auto colon = text.rfind(':');
  if (colon == std::string::npos || colon + 1 == text.size()) return std::nullopt;
  const std::string port_text = text.substr(colon + 1);
  if (port_text.size() > 5 || port_text.find_first_not_of("0123456789") != std::string::npos) {
    return std::nullopt;
  }
  const int port = std::stoi(port_text);
  if (port < 1 || port > 65535) return std::nullopt;
  std::string host = text.substr(0, colon);
  const bool bracketed = host.size() > 2 && host.front() == '[' && host.back() == ']';
  if (bracketed) host = host.substr(1, host.size() - 2);
  unsigned char address[sizeof(in6_addr)];
  const int family = bracketed ? AF_INET6 : AF_INET;
  if (::inet_pton(family, host.c_str(), address) != 1) return std::nullopt;
  return MetricsListen{host, static_cast<std::uint16_t>(port)};
}

}  // namespace

Status read_metrics(const ConfigTable& section, Config& config) {
  MPA_RETURN_IF_ERROR(section.only_keys({"listen"}));
  std::optional<std::string> listen;
  MPA_RETURN_IF_ERROR(section.read("listen", listen));
  if (!listen) return {};
  auto parsed = parse_listen(*listen);
  if (!parsed) return section.error("listen", std::string(kListenForm) + ", not \"" + *listen + "\"");
  config.metrics_listen = std::move(*parsed);
  return {};
}

}  // namespace mpa::config_internal
