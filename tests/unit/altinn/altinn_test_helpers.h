// What the Altinn exchange tests share.
#pragma once

#include "agent/config/config.h"

namespace mpa::test {

// A client with an Altinn exchange endpoint and a 20 s retry deadline.
inline ClientConfig exchange_client() {
  ClientConfig c;
  c.name = "default";
  c.altinn_exchange_endpoint = "https://altinn.example/authentication/api/v1/exchange/maskinporten";
  c.retry_deadline_seconds = 20;
  return c;
}

}  // namespace mpa::test
