// The configuration parser (agent/config/config.h) on arbitrary input. Expected:
// a Config, or an invalid_config error whose message names the file and
// says what is wrong. Anything else (another code, an empty message, an
// escaped exception, a sanitizer report) aborts.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string>
#include <string_view>

#include "agent/config/config.h"

namespace {

using namespace mpa;

// The name errors must carry, so that a person knows which file is wrong.
constexpr std::string_view kFileName = "fuzz.toml";

void require(bool condition) {
  if (!condition) std::abort();
}

void check_error(const Error& error) {
  require(error.code == ErrorCode::invalid_config);
  require(!error.message.empty());
  require(error.message.find(kFileName) != std::string::npos);
}

// A loaded configuration satisfies what the rest of the agent relies on.
void check_config(const Config& config) {
  require(!config.clients.empty());
  require(!config.socket.empty());
  for (const ClientConfig& client : config.clients) {
    require(!client.name.empty() && !client.client_id.empty() && !client.key.empty());
    require(!client.issuer.empty() && client.issuer.back() == '/');
    require(client.grant_lifetime_seconds > 0 && client.grant_lifetime_seconds <= 120);
    require(config.find_client(client.name) == &client);
  }
  require(config.pin_file.has_value() != config.pin_env.has_value());
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view text(reinterpret_cast<const char*>(data), size);
  const auto config = parse_config(text, std::string(kFileName));
  if (!config) {
    check_error(config.error());
    return 0;
  }
  check_config(*config);
  return 0;
}
