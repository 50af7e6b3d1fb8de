// The production side of the Altinn exchange: libcurl (agent/http/http.h) and
// the real clocks. Kept apart so that the exchange's tests link without it.
#include <chrono>
#include <thread>

#include "agent/altinn/altinn.h"
#include "agent/http/http.h"

namespace mpa::altinn {

ExchangeTransport system_exchange_transport() {
  ExchangeTransport transport;
  transport.get = [](const std::string& url, const std::vector<std::string>& headers,
                     const HttpOptions& options) { return http_get(url, headers, options); };
  transport.clock = Clock::system();
  transport.sleep = [](std::chrono::milliseconds d) { std::this_thread::sleep_for(d); };
  return transport;
}

Result<AccessToken> exchange_for_altinn(const ClientConfig& client,
                                        const std::string& maskinporten_token) {
  return exchange_for_altinn(client, maskinporten_token, system_exchange_transport());
}

}  // namespace mpa::altinn
