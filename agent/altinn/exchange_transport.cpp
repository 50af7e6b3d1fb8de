// The production side of the Altinn exchange: libcurl (agent/http/http.h
// blocking, agent/http/async_http.h on its multi thread) and the real
// clocks. Kept apart so that the exchange's tests link without them.
#include <chrono>
#include <memory>
#include <thread>
#include <utility>

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

AltinnIo AltinnIo::on(std::shared_ptr<AsyncHttp> http) {
  AltinnIo io;
  io.get = [http](const std::string& url, const std::vector<std::string>& headers,
                  const HttpOptions& options, Answer answer) {
    http->get(url, headers, options, std::move(answer));
  };
  io.after = [http](std::chrono::milliseconds wait, std::function<void()> job) {
    http->after(wait, std::move(job));
  };
  io.clock = Clock::system();
  return io;
}

Result<AccessToken> exchange_for_altinn(const ClientConfig& client,
                                        const std::string& maskinporten_token) {
  return exchange_for_altinn(client, maskinporten_token, system_exchange_transport());
}

}  // namespace mpa::altinn
