// Exchanging a Maskinporten token for an Altinn token: GET the exchange
// endpoint with the Maskinporten token as Bearer (Altinn Authentication,
// /authentication/api/v1/exchange/maskinporten); the body is the Altinn JWT.
#include <algorithm>
#include <string>

#include "agent/altinn/altinn.h"
#include "agent/altinn/detail.h"
#include "agent/http/retry_policy.h"
#include "agent/jwt/jose.h"
#include "common/clock.h"
#include "common/log.h"
#include "common/text.h"

namespace mpa::altinn {
namespace {

// Altinn tokens are a few KiB; a body beyond this is not one.
constexpr std::size_t kMaxAltinnTokenBytes = 64 * 1024;
// Enough of an error body to say what Altinn meant, not a page of HTML.
constexpr std::size_t kMaxBodyExcerptBytes = 200;
using Attempt = AttemptOutcome<AccessToken>;

// What Altinn said: the body, and the WWW-Authenticate header where a 401
// from an OAuth resource server carries its reason (RFC 6750 §3), e.g.
// `Bearer error="invalid_token", error_description="The token expired ..."`.
std::string what_altinn_said(const HttpResponse& response) {
  const std::string_view body = trim_whitespace(response.body);
  std::string said;
  if (!body.empty()) said = printable(body, kMaxBodyExcerptBytes);
  if (response.www_authenticate && !trim_whitespace(*response.www_authenticate).empty()) {
    if (!said.empty()) said += "; ";
    said +=
        "WWW-Authenticate: " + printable(trim_whitespace(*response.www_authenticate), kMaxBodyExcerptBytes);
  }
  return said.empty() ? "(empty body)" : said;
}

Error not_a_token(const std::string& why) {
  return make_error(ErrorCode::unavailable, "Altinn answered 200 but not with a token: " + why);
}

// The payload of a compact JWS, decoded but NOT verified: the token is for
// Altinn's APIs to check; we read exp and scope only to cache it and report.
Result<rapidjson::Document> unverified_payload(std::string_view jwt) {
  const std::size_t first = jwt.find('.');
  const std::size_t second = first == std::string_view::npos ? first : jwt.find('.', first + 1);
  if (second == std::string_view::npos || jwt.find('.', second + 1) != std::string_view::npos) {
    return not_a_token("not three dot-separated parts");
  }
  if (!jose::base64url_decode(jwt.substr(0, first)) ||
      !jose::base64url_decode(jwt.substr(second + 1))) {
    return not_a_token("the header or signature is not base64url");
  }
  auto payload = jose::base64url_decode(jwt.substr(first + 1, second - first - 1));
  if (!payload) return not_a_token("the payload is not base64url");
  auto doc = detail::parse_strict_object(*payload, "the payload");
  if (!doc) return not_a_token(doc.error().message);
  return doc;
}

Result<AccessToken> token_from_body(const std::string& body, std::int64_t now) {
  std::string_view jwt = trim_whitespace(body);
  // Some versions of the endpoint answer with the JWT as a JSON string.
  if (jwt.size() >= 2 && jwt.front() == '"' && jwt.back() == '"') {
    jwt = jwt.substr(1, jwt.size() - 2);
  }
  if (jwt.size() > kMaxAltinnTokenBytes) {
    return not_a_token("the body is over " + std::to_string(kMaxAltinnTokenBytes) + " bytes");
  }
  auto parsed = unverified_payload(jwt);
  if (!parsed) return std::move(parsed).error();
  const rapidjson::Document& payload = *parsed;
  const auto exp = payload.FindMember("exp");
  if (exp == payload.MemberEnd() || !exp->value.IsInt64()) {
    return not_a_token("the token has no integer exp");
  }
  if (exp->value.GetInt64() <= now) {
    return make_error(ErrorCode::unavailable, "Altinn answered with a token that expired at " +
                                                  format_utc(exp->value.GetInt64()));
  }
  AccessToken token;
  token.access_token = std::string(jwt);
  token.token_type = "Bearer";
  token.expires_at = exp->value.GetInt64();
  token.expires_in = token.expires_at - now;
  const auto scope = payload.FindMember("scope");
  if (scope != payload.MemberEnd() && scope->value.IsString()) {
    token.scope.assign(scope->value.GetString(), scope->value.GetStringLength());
  }
  return token;
}

Attempt classify(const Result<HttpResponse>& response, std::int64_t now) {
  if (!response) {
    return {make_error(ErrorCode::unavailable, "cannot reach Altinn: " + response.error().message),
            true};
  }
  const long status = response->status;
  const std::string answered = "(" + std::to_string(status) + "): " + what_altinn_said(*response);
  if (status == 200) return {token_from_body(response->body, now), false};
  if (status == 401) {
    return {make_error(ErrorCode::invalid_grant,
                       "Altinn refused the Maskinporten token " + answered),
            false};
  }
  if (status == 403) {
    return {make_error(ErrorCode::forbidden,
                       "Altinn refused access for this Maskinporten token " + answered),
            false};
  }
  if (status == 429 || status >= 500) {
    return {make_error(ErrorCode::unavailable, "Altinn answered " + answered), true};
  }
  if (status >= 400) {
    return {make_error(ErrorCode::invalid_grant, "Altinn answered " + answered), false};
  }
  return {make_error(ErrorCode::unavailable,
                     "Altinn answered " + answered + " (is altinn_exchange_endpoint right?)"),
          false};
}

}  // namespace

Result<AccessToken> exchange_for_altinn(const ClientConfig& client,
                                        const std::string& maskinporten_token,
                                        const ExchangeTransport& transport) {
  if (client.altinn_exchange_endpoint.empty()) {
    return make_error(ErrorCode::invalid_config,
                      "client " + client.name + " has no altinn_exchange_endpoint");
  }
  const std::vector<std::string> headers = {"Authorization: Bearer " + maskinporten_token,
                                            "Accept: application/json, text/plain"};
  const HttpOptions options = http_options(client);
  const RetryPolicy policy(std::chrono::seconds(client.retry_deadline_seconds), transport.clock,
                           transport.sleep);
  const auto attempt = [&](int) {
    return classify(transport.get(client.altinn_exchange_endpoint, headers, options),
                    transport.clock.epoch_seconds());
  };
  RetryReport report;
  report.give_up = [&](const Error& last, int attempts, std::optional<int>) {
    return make_error(ErrorCode::unavailable, "Altinn token exchange failed after " +
                                                  std::to_string(attempts) + " attempt(s) within " +
                                                  std::to_string(client.retry_deadline_seconds) +
                                                  " s; last: " + last.message);
  };
  report.retrying = [](const Error& last, int n, std::chrono::milliseconds wait) {
    log::warning("Altinn token exchange attempt " + std::to_string(n) + " failed, retrying in " +
                 std::to_string(wait.count()) + " ms: " + last.message);
  };
  return policy.run<AccessToken>(attempt, report);
}

}  // namespace mpa::altinn
