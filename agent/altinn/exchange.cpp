// Exchanging a Maskinporten token for an Altinn token: GET the exchange
// endpoint with the Maskinporten token as Bearer (Altinn Authentication,
// /authentication/api/v1/exchange/maskinporten); the body is the Altinn JWT.
#include <algorithm>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

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
  // Kept no longer than a Maskinporten token: a far-future exp would
  // overflow the refresh arithmetic, and refreshing early costs nothing.
  token.expires_in = std::min(exp->value.GetInt64() - now, kMaxAccessTokenLifetimeSeconds);
  token.expires_at = now + token.expires_in;
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
    std::optional<int> asked;
    if (status == 429 && response->retry_after) {
      asked = parse_retry_after(*response->retry_after, now);
    }
    return {make_error(ErrorCode::unavailable, "Altinn answered " + answered), true, asked};
  }
  if (status >= 400) {
    return {make_error(ErrorCode::invalid_grant, "Altinn answered " + answered), false};
  }
  return {make_error(ErrorCode::unavailable,
                     "Altinn answered " + answered + " (is altinn_exchange_endpoint right?)"),
          false};
}


// One exchange's attempts, kept alive by the callbacks in flight: each
// wait is a timer of the io (the HTTP thread's), never a sleep.
struct ExchangeRun : std::enable_shared_from_this<ExchangeRun> {
  ExchangeRun(const ClientConfig& client, const std::string& maskinporten_token, AltinnIo i,
              AltinnDone d)
      : endpoint(client.altinn_exchange_endpoint),
        headers{"Authorization: Bearer " + maskinporten_token,
                "Accept: application/json, text/plain"},
        options(http_options(client)),
        budget_seconds(client.retry_deadline_seconds),
        io(std::move(i)),
        done(std::move(d)),
        policy(std::chrono::seconds(budget_seconds), io.clock) {}

  std::string endpoint;
  std::vector<std::string> headers;
  HttpOptions options;
  int budget_seconds;
  AltinnIo io;
  AltinnDone done;
  RetryPolicy policy;
  int attempts = 0;

  void attempt() {
    ++attempts;
    io.get(endpoint, headers, options, [self = shared_from_this()](Result<HttpResponse> response) {
      self->judged(classify(response, self->io.clock.epoch_seconds()));
    });
  }

  void judged(Attempt outcome) {
    policy.after(std::move(outcome), attempts, report(), done,
                 [self = shared_from_this()](std::chrono::milliseconds wait) {
                   self->io.after(wait, [self] { self->attempt(); });
                 });
  }

  RetryReport report() const {
    RetryReport words;
    words.give_up = [this](const Error& last, int tried, std::optional<int>) {
      return make_error(ErrorCode::unavailable,
                        "Altinn token exchange failed after " + std::to_string(tried) +
                            " attempt(s) within " + std::to_string(budget_seconds) +
                            " s; last: " + last.message);
    };
    words.retrying = [](const Error& last, int tried, std::chrono::milliseconds wait) {
      log::warning("Altinn token exchange attempt " + std::to_string(tried) +
                   " failed, retrying in " + std::to_string(wait.count()) + " ms: " + last.message);
    };
    return words;
  }
};

}  // namespace

AltinnIo AltinnIo::blocking(ExchangeTransport transport) {
  AltinnIo io;
  io.get = [get = transport.get](const std::string& url, const std::vector<std::string>& headers,
                                 const HttpOptions& options, Answer answer) {
    answer(get(url, headers, options));
  };
  io.after = [sleep = transport.sleep](std::chrono::milliseconds wait, std::function<void()> job) {
    sleep(wait);
    job();
  };
  io.clock = transport.clock;
  return io;
}

Status check_exchange_endpoint(const ClientConfig& client) {
  if (!client.altinn_exchange_endpoint.empty()) return {};
  return make_error(ErrorCode::invalid_request,
                    "client \"" + client.name + "\" has no altinn_exchange_endpoint, so it "
                    "cannot make Altinn tokens; set altinn_exchange_endpoint in its [[client]] "
                    "table (environment \"custom\" has no default) to use \"exchange\":\"altinn\"");
}

void exchange_for_altinn(const ClientConfig& client, const std::string& maskinporten_token,
                         AltinnIo io, AltinnDone done) {
  // Callers check_exchange_endpoint() first; reaching here without one is
  // the agent's own configuration gone wrong.
  if (client.altinn_exchange_endpoint.empty()) {
    done(make_error(ErrorCode::invalid_config,
                    "client " + client.name + " has no altinn_exchange_endpoint"));
    return;
  }
  auto run = std::make_shared<ExchangeRun>(client, maskinporten_token, std::move(io),
                                           std::move(done));
  run->attempt();
}

Result<AccessToken> exchange_for_altinn(const ClientConfig& client,
                                        const std::string& maskinporten_token,
                                        const ExchangeTransport& transport) {
  // A blocking io answers every call, and runs every retry, before it
  // returns: the run is over when exchange_for_altinn returns.
  std::optional<Result<AccessToken>> answer;
  exchange_for_altinn(client, maskinporten_token, AltinnIo::blocking(transport),
                      [&answer](Result<AccessToken> token) { answer = std::move(token); });
  return std::move(*answer);
}

}  // namespace mpa::altinn
