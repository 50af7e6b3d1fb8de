#include "agent/maskinporten/maskinporten.h"
#include "agent/maskinporten/mp_error_codes.h"

#include <rapidjson/document.h>

#include <algorithm>
#include <future>
#include <mutex>
#include <thread>
#include <vector>

#include "common/json_text.h"
#include "common/log.h"
#include "common/text.h"

namespace mpa {
namespace {

using std::chrono::milliseconds;

// Digdir's JWTs are 1-2 KiB; an opaque token is shorter still.
constexpr std::size_t kMaxAccessTokenBytes = 16 * 1024;
constexpr std::size_t kMaxTokenTypeBytes = 64;
// Many scopes fit; a client is configured with a handful.
constexpr std::size_t kMaxScopeBytes = 4096;
// Maskinporten tokens live minutes to hours; more than a day is a bug.
constexpr std::int64_t kMaxExpiresInSeconds = 24 * 60 * 60;
// A URL in the metadata; longer is not a real endpoint.
constexpr std::size_t kMaxUrlBytes = 2048;
// How much of an error code / description / header we repeat to a person.
constexpr std::size_t kMaxErrorCodeBytes = 64;
constexpr std::size_t kMaxDescriptionBytes = 512;

constexpr const char* kJwtBearerGrantType = "urn:ietf:params:oauth:grant-type:jwt-bearer";
constexpr const char* kMetadataPath = ".well-known/oauth-authorization-server";

// RFC 6749 Appendix A.12: access-token = 1*VSCHAR; we also refuse the space,
// because the token goes into "Authorization: Bearer <token>" headers.
bool is_token_text(std::string_view text) {
  return std::all_of(text.begin(), text.end(), [](char c) { return c > 0x20 && c < 0x7F; });
}

bool is_https_url(std::string_view url) { return url.rfind("https://", 0) == 0 && url.size() > 8; }

std::string describe_body(const HttpResponse& response) {
  std::string words = std::to_string(response.body.size()) + " bytes";
  if (response.content_type) words = printable(*response.content_type, 64) + ", " + words;
  return words;
}

Error not_json(const HttpResponse& response) {
  return make_error(ErrorCode::unavailable, "Maskinporten's answer is not valid JSON (HTTP " +
                                                std::to_string(response.status) + ", " +
                                                std::to_string(response.body.size()) + " bytes)");
}

Error bad_success(const std::string& what) {
  return make_error(ErrorCode::unavailable, "Maskinporten's answer (HTTP 200) " + what);
}

// A required string member of the success answer, checked for size and
// characters; never repeats the value (it may be the token).
Result<std::string> string_field(const rapidjson::Value& object, const char* name,
                                 std::size_t max_bytes, bool (*allowed)(std::string_view)) {
  const rapidjson::Value* value = json::find(object, name);
  if (value == nullptr) return bad_success(std::string("has no ") + name);
  if (!value->IsString()) return bad_success(std::string("has a ") + name + " that is not a string");
  const std::string_view text = json::view(*value);
  if (text.empty()) return bad_success(std::string("has an empty ") + name);
  if (text.size() > max_bytes) {
    return bad_success(std::string("has a ") + name + " longer than " + std::to_string(max_bytes) +
                       " bytes");
  }
  if (!allowed(text)) return bad_success(std::string("has a ") + name + " with control characters");
  return std::string(text);
}

bool is_visible_text(std::string_view text) {
  return std::all_of(text.begin(), text.end(), [](char c) {
    const auto byte = static_cast<unsigned char>(c);
    return byte >= 0x20 && byte != 0x7F;
  });
}

Result<std::int64_t> expires_in_field(const rapidjson::Value& object) {
  const rapidjson::Value* value = json::find(object, "expires_in");
  if (value == nullptr) return bad_success("has no expires_in");
  if (!value->IsInt64()) return bad_success("has an expires_in that is not an integer");
  const std::int64_t seconds = value->GetInt64();
  if (seconds <= 0 || seconds > kMaxExpiresInSeconds) {
    return bad_success("has expires_in " + std::to_string(seconds) + ", not within 1.." +
                       std::to_string(kMaxExpiresInSeconds));
  }
  return seconds;
}

Result<AccessToken> parse_success(const HttpResponse& response, std::int64_t now) {
  rapidjson::Document document;
  if (const auto problem = json::parse_strict_json(document, response.body)) {
    if (problem->kind != json::JsonProblem::Kind::duplicate_member) return not_json(response);
    return bad_success("has " + printable(problem->member) + " twice");
  }
  if (!document.IsObject()) return bad_success("is not a JSON object");

  AccessToken token;
  MPA_ASSIGN_OR_RETURN(token.access_token, string_field(document, "access_token",
                                                        kMaxAccessTokenBytes, is_token_text));
  MPA_ASSIGN_OR_RETURN(token.token_type,
                       string_field(document, "token_type", kMaxTokenTypeBytes, is_token_text));
  MPA_ASSIGN_OR_RETURN(token.expires_in, expires_in_field(document));
  // Maskinporten always sends scope; a missing one is taken as "".
  if (json::find(document, "scope") != nullptr) {
    MPA_ASSIGN_OR_RETURN(token.scope,
                         string_field(document, "scope", kMaxScopeBytes, is_visible_text));
  }
  token.expires_at = now + token.expires_in;
  return token;
}

// Maskinporten's {error, error_description} (RFC 6749 §5.2), when the body
// is one; empty strings when absent.
struct OAuthError {
  std::string code;
  std::string description;
};

std::optional<OAuthError> oauth_error(const HttpResponse& response) {
  rapidjson::Document document;
  if (json::parse_strict_json(document, response.body) || !document.IsObject()) return std::nullopt;
  const rapidjson::Value* code = json::find(document, "error");
  const rapidjson::Value* description = json::find(document, "error_description");
  OAuthError error;
  if (code != nullptr && code->IsString())
    error.code = printable(json::view(*code), kMaxErrorCodeBytes);
  if (description != nullptr && description->IsString()) {
    error.description = printable(json::view(*description), kMaxDescriptionBytes);
  }
  return error;
}

std::string error_words(const OAuthError& error) {
  std::string words = error.code.empty() ? "no error code" : error.code;
  if (!error.description.empty()) words += ": " + error.description;
  return words;
}

// RFC 6749 §5.2 codes onto ours. unauthorized_client (the client may not use
// this grant type) is about the client's registration, so invalid_client;
// `forbidden` stays for our own access control. Anything else Maskinporten
// refuses is about the grant.
ErrorCode refusal_code(const std::string& oauth_code) {
  if (oauth_code == "invalid_scope") return ErrorCode::invalid_scope;
  if (oauth_code == "invalid_client" || oauth_code == "unauthorized_client") {
    return ErrorCode::invalid_client;
  }
  return ErrorCode::invalid_grant;
}

Error refusal(const HttpResponse& response) {
  const auto error = oauth_error(response);
  // A 4xx that is not Maskinporten's JSON (a proxy's or a wrong URL's HTML
  // page) is not a verdict on the grant.
  if (!error) return not_json(response);
  return make_error(refusal_code(error->code),
                    "Maskinporten refused the grant: " + with_mp_advice(error_words(*error)));
}

Error server_trouble(const HttpResponse& response) {
  std::string message = "Maskinporten answered " + std::to_string(response.status);
  if (response.status == 429) message += " (too many requests)";
  const auto error = oauth_error(response);
  if (error && !error->code.empty()) {
    message += ": " + error_words(*error);
  } else {
    message += " (" + describe_body(response) + ")";
  }
  return make_error(ErrorCode::unavailable, message);
}

bool is_retryable_status(long status) { return status == 429 || status >= 500; }

MaskinportenIo real_io(const ClientConfig& client, std::shared_ptr<AsyncHttp> http) {
  const HttpOptions options = http_options(client);
  MaskinportenIo io;
  io.post_form = [options, http](const std::string& url, const std::string& body,
                                 int timeout_seconds, MaskinportenIo::Answer answer) {
    HttpOptions attempt = options;
    attempt.timeout_seconds = timeout_seconds;
    http->post_form(url, body, attempt, std::move(answer));
  };
  io.get = [options, http](const std::string& url, MaskinportenIo::Answer answer) {
    http->get(url, {"Accept: application/json"}, options, std::move(answer));
  };
  io.after = [http](milliseconds wait, std::function<void()> job) {
    http->after(wait, std::move(job));
  };
  io.clock = Clock::system();
  return io;
}

// Waits for a callback-style call: for the blocking forms.
template <class T, class Start>
T wait_for(Start start) {
  auto promise = std::make_shared<std::promise<T>>();
  auto future = promise->get_future();
  start([promise](T value) { promise->set_value(std::move(value)); });
  return future.get();
}

}  // namespace

Result<AccessToken> parse_token_response(const HttpResponse& response, std::int64_t now) {
  if (response.body.size() > kMaxHttpResponseBytes) {
    return make_error(ErrorCode::unavailable, "Maskinporten's answer is larger than " +
                                                  std::to_string(kMaxHttpResponseBytes / 1024) +
                                                  " KiB");
  }
  if (response.status == 200) return parse_success(response, now);
  if (is_retryable_status(response.status)) return server_trouble(response);
  if (response.status >= 400) return refusal(response);
  return make_error(ErrorCode::unavailable,
                    "Maskinporten answered " + std::to_string(response.status) +
                        ", not a token (redirects are not followed; check token_endpoint)");
}

HttpOptions http_options(const ClientConfig& client) {
  HttpOptions options;
  options.ca_file = client.ca_file;
  options.proxy = client.proxy;
  options.connect_timeout_seconds = client.connect_timeout_seconds;
  options.timeout_seconds = client.timeout_seconds;
  return options;
}

Result<std::string> parse_authorization_server_metadata(const HttpResponse& response,
                                                        const std::string& issuer,
                                                        const std::string& url) {
  if (response.status != 200) {
    return make_error(ErrorCode::unavailable, "discovery at " + url + " answered " +
                                                  std::to_string(response.status) + " (" +
                                                  describe_body(response) + ")");
  }
  rapidjson::Document document;
  const auto problem = json::parse_strict_json(document, response.body);
  const bool duplicate = problem && problem->kind == json::JsonProblem::Kind::duplicate_member;
  if ((problem && !duplicate) || (!problem && !document.IsObject())) {
    return make_error(ErrorCode::unavailable,
                      "discovery at " + url + " answered something that is not a JSON object (" +
                          describe_body(response) + ")");
  }
  const rapidjson::Value* named_issuer = duplicate ? nullptr : json::find(document, "issuer");
  const rapidjson::Value* endpoint = duplicate ? nullptr : json::find(document, "token_endpoint");
  if (duplicate || named_issuer == nullptr || !named_issuer->IsString() || endpoint == nullptr ||
      !endpoint->IsString()) {
    return make_error(ErrorCode::invalid_config,
                      "discovery at " + url + " needs one string \"issuer\" and one string "
                      "\"token_endpoint\"");
  }
  // RFC 8414 §3.3: the issuer in the metadata must be identical to the one
  // the metadata was fetched for.
  if (json::view(*named_issuer) != issuer) {
    return make_error(ErrorCode::invalid_config,
                      "discovery at " + url + " names issuer \"" +
                          printable(json::view(*named_issuer), kMaxUrlBytes) +
                          "\", not the configured \"" + issuer + "\"");
  }
  const std::string_view token_endpoint = json::view(*endpoint);
  if (token_endpoint.size() > kMaxUrlBytes || !is_https_url(token_endpoint) ||
      !is_token_text(token_endpoint)) {
    return make_error(ErrorCode::invalid_config,
                      "discovery at " + url + " gives token_endpoint \"" +
                          printable(token_endpoint, 128) + "\", not an https:// URL");
  }
  return std::string(token_endpoint);
}

MaskinportenIo MaskinportenIo::blocking(
    std::function<Result<HttpResponse>(const std::string&, const std::string&, int)> post_form,
    std::function<Result<HttpResponse>(const std::string&)> get,
    std::function<void(milliseconds)> sleep, Clock clock) {
  MaskinportenIo io;
  io.post_form = [post_form](const std::string& url, const std::string& body, int timeout,
                             Answer answer) { answer(post_form(url, body, timeout)); };
  io.get = [get](const std::string& url, Answer answer) { answer(get(url)); };
  io.after = [sleep](milliseconds wait, std::function<void()> job) {
    sleep(wait);
    job();
  };
  io.clock = std::move(clock);
  return io;
}

// The token endpoint, resolved once and shared by every copy of the work
// in flight.
struct MaskinportenClient::Endpoint {
  std::mutex mutex;
  std::string url;                                // set once resolved
  std::vector<std::function<void(Status)>> waiting;  // while discovery runs
  bool resolving = false;
};

MaskinportenClient::MaskinportenClient(ClientConfig client, std::shared_ptr<AsyncHttp> http)
    : MaskinportenClient(client, real_io(client, std::move(http))) {}

MaskinportenClient::MaskinportenClient(ClientConfig client, MaskinportenIo io)
    : client_(std::move(client)), io_(std::move(io)), endpoint_(std::make_shared<Endpoint>()) {}

std::string MaskinportenClient::token_endpoint() const {
  std::lock_guard lock(endpoint_->mutex);
  return endpoint_->url;
}

Status MaskinportenClient::prepare() {
  return wait_for<Status>([this](std::function<void(Status)> done) { prepare(std::move(done)); });
}

void MaskinportenClient::prepare(std::function<void(Status)> done) {
  const std::shared_ptr<Endpoint> endpoint = endpoint_;
  const auto settle = [endpoint](const Result<std::string>& url) {
    std::vector<std::function<void(Status)>> waiting;
    {
      std::lock_guard lock(endpoint->mutex);
      if (url) endpoint->url = *url;
      endpoint->resolving = false;
      waiting.swap(endpoint->waiting);
    }
    for (auto& waiter : waiting) waiter(url ? Status{} : Status(url.error()));
  };
  {
    std::unique_lock lock(endpoint->mutex);
    if (!endpoint->url.empty()) {
      lock.unlock();
      done(Status{});
      return;
    }
    endpoint->waiting.push_back(std::move(done));
    if (endpoint->resolving) return;
    endpoint->resolving = true;
  }
  if (!client_.discovery) {
    if (!is_https_url(client_.token_endpoint)) {
      settle(make_error(ErrorCode::invalid_config,
                        "client \"" + client_.name + "\": token_endpoint \"" +
                            client_.token_endpoint + "\" is not an https:// URL"));
      return;
    }
    settle(client_.token_endpoint);
    return;
  }
  if (!is_https_url(client_.issuer) || client_.issuer.back() != '/') {
    settle(make_error(ErrorCode::invalid_config,
                      "client \"" + client_.name + "\": issuer \"" + client_.issuer +
                          "\" is not an https:// URL ending in '/'"));
    return;
  }
  const std::string url = client_.issuer + kMetadataPath;
  io_.get(url, [settle, url, issuer = client_.issuer](Result<HttpResponse> response) {
    if (!response) {
      settle(std::move(response).error().with_context("discovery"));
      return;
    }
    settle(parse_authorization_server_metadata(*response, issuer, url));
  });
}

namespace {

// One attempt's verdict: the token or the error, and whether another grant
// may do better.
using Attempt = AttemptOutcome<AccessToken>;

Attempt judge(const Result<HttpResponse>& response, std::int64_t now) {
  if (!response) {
    // Network trouble may pass; a refused URL or option, or a certificate
    // that does not verify, will not.
    const Error& error = response.error();
    return {error,
            error.code == ErrorCode::unavailable && error.reason != ErrorReason::tls_untrusted,
            std::nullopt};
  }
  Attempt attempt{parse_token_response(*response, now), false, std::nullopt};
  if (attempt.result.ok()) return attempt;
  // A 200 we cannot read is retried too: it is most likely a proxy's page or
  // a cut-off answer, and the next attempt is a fresh grant anyway.
  attempt.retryable = is_retryable_status(response->status) || response->status == 200;
  if (response->status == 429 && response->retry_after) {
    attempt.retry_after = parse_retry_after(*response->retry_after, now);
  }
  return attempt;
}

std::string attempts_words(int attempts) {
  return std::to_string(attempts) + (attempts == 1 ? " attempt" : " attempts");
}


// One exchange's attempts, kept alive by the callbacks in flight.
struct ExchangeRun : std::enable_shared_from_this<ExchangeRun> {
  ExchangeRun(const ClientConfig& client, MaskinportenIo i, std::string url,
              MaskinportenClient::GrantMaker make, MaskinportenClient::TokenDone d)
      : timeout_cap(client.timeout_seconds),
        io(std::move(i)),
        endpoint(std::move(url)),
        make_grant(std::move(make)),
        done(std::move(d)),
        budget(client.retry_deadline_seconds),
        policy(budget, io.clock, [](milliseconds) {}) {}

  int timeout_cap;  // seconds, of one attempt
  MaskinportenIo io;
  std::string endpoint;
  MaskinportenClient::GrantMaker make_grant;
  MaskinportenClient::TokenDone done;
  std::chrono::seconds budget;
  RetryPolicy policy;
  int attempts = 0;
  std::string jti;  // of the latest grant, for the log

  // Each attempt is a new grant (new jti, iat, signature): Maskinporten
  // refuses a jti it has seen, and a retried grant may have been used.
  void attempt() {
    ++attempts;
    make_grant([self = shared_from_this()](Result<SignedGrant> grant) {
      if (!grant) {
        self->done(std::move(grant).error());
        return;
      }
      self->post(*grant);
    });
  }

  void post(const SignedGrant& grant) {
    jti = grant.jti;
    const std::string form =
        form_encode({{"grant_type", kJwtBearerGrantType}, {"assertion", grant.jwt}});
    const int timeout = policy.attempt_timeout_seconds(timeout_cap);
    io.post_form(endpoint, form, timeout, [self = shared_from_this()](Result<HttpResponse> response) {
      self->judged(judge(response, self->io.clock.epoch_seconds()));
    });
  }

  void judged(Attempt outcome) {
    if (outcome.result.ok() || !outcome.retryable) {
      done(std::move(outcome.result));
      return;
    }
    const Error& last = outcome.result.error();
    const auto wait = policy.next_wait(attempts, outcome.retry_after);
    if (!wait) {
      done(give_up(last, outcome.retry_after));
      return;
    }
    log::warning("Maskinporten attempt " + std::to_string(attempts) + " (jti " + jti +
                 ") failed: " + last.message + "; retrying in " + std::to_string(wait->count()) +
                 " ms");
    io.after(*wait, [self = shared_from_this()] { self->attempt(); });
  }

  Error give_up(const Error& last, std::optional<int> asked) const {
    const std::string why =
        asked ? "; it asks to wait " + std::to_string(*asked) + " s, past the retry deadline" : "";
    return make_error(last.code, last.message + why + " (gave up after " +
                                     attempts_words(attempts) + " within " +
                                     std::to_string(budget.count()) + " s)");
  }
};

}  // namespace

void MaskinportenClient::exchange(GrantMaker make_grant, TokenDone done) const {
  std::string url = token_endpoint();
  if (url.empty()) {
    done(make_error(ErrorCode::internal, "exchange() before prepare() succeeded"));
    return;
  }
  auto run = std::make_shared<ExchangeRun>(client_, io_, std::move(url), std::move(make_grant),
                                           std::move(done));
  run->attempt();
}

Result<AccessToken> MaskinportenClient::exchange(
    const std::function<Result<SignedGrant>()>& make_grant) const {
  return wait_for<Result<AccessToken>>([&](TokenDone done) {
    exchange([make_grant](GrantDone grant_done) { grant_done(make_grant()); }, std::move(done));
  });
}

}  // namespace mpa
