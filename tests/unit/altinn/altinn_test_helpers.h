// What the Altinn exchange tests share.
#pragma once

#include <string>
#include <utility>

#include "agent/config/config.h"
#include "agent/http/http.h"
#include "agent/jwt/jose.h"

namespace mpa::test {

// A client with an Altinn exchange endpoint and a 20 s retry deadline.
inline ClientConfig exchange_client() {
  ClientConfig c;
  c.name = "default";
  c.altinn_exchange_endpoint = "https://altinn.example/authentication/api/v1/exchange/maskinporten";
  c.retry_deadline_seconds = 20;
  return c;
}

// An HTTP answer as the exchange's transport gives it.
inline HttpResponse answer(long status, std::string body = {}) {
  HttpResponse r;
  r.status = status;
  r.body = std::move(body);
  return r;
}

// A JWT as Altinn issues it, with `payload` as its claims and a signature
// nobody checks (the agent reads the claims for the expiry and scope).
inline std::string altinn_jwt(const std::string& payload) {
  return jose::base64url_encode(std::string(R"({"alg":"RS256","typ":"JWT"})")) + "." +
         jose::base64url_encode(payload) + "." + jose::base64url_encode(std::string("sig"));
}

}  // namespace mpa::test
