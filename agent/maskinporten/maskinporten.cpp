#include "agent/maskinporten/maskinporten.h"

#include <rapidjson/document.h>
#include <rapidjson/error/en.h>

#include <algorithm>
#include <array>
#include <ctime>
#include <random>
#include <thread>

#include "common/log.h"

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
// Backoff between attempts: exponential from the first, capped, full jitter
// ("Exponential Backoff And Jitter", AWS Architecture Blog, 2015).
constexpr milliseconds kFirstBackoff{500};
constexpr milliseconds kMaxBackoff{8000};
// Delta-seconds longer than this many digits is capped without parsing.
constexpr std::size_t kMaxRetryAfterDigits = 9;

constexpr const char* kJwtBearerGrantType = "urn:ietf:params:oauth:grant-type:jwt-bearer";
constexpr const char* kMetadataPath = ".well-known/oauth-authorization-server";

// Text from outside, made safe to put in a message or a log line: control
// characters become spaces, and it is cut at `max` bytes (on a UTF-8
// boundary; RapidJSON has validated the encoding).
std::string printable(std::string_view text, std::size_t max) {
  std::string out(text.substr(0, max));
  if (text.size() > max) {
    while (!out.empty() && (static_cast<unsigned char>(out.back()) & 0xC0) == 0x80) out.pop_back();
    if (!out.empty() && static_cast<unsigned char>(out.back()) >= 0xC0) out.pop_back();
    out += "...";
  }
  for (char& c : out) {
    const auto byte = static_cast<unsigned char>(c);
    if (byte < 0x20 || byte == 0x7F) c = ' ';
  }
  return out;
}

// RFC 6749 Appendix A.12: access-token = 1*VSCHAR; we also refuse the space,
// because the token goes into "Authorization: Bearer <token>" headers.
bool is_token_text(std::string_view text) {
  return std::all_of(text.begin(), text.end(), [](char c) { return c > 0x20 && c < 0x7F; });
}

bool is_https_url(std::string_view url) { return url.rfind("https://", 0) == 0 && url.size() > 8; }

// Strict JSON: one value, nothing after it but whitespace, valid UTF-8, no
// NaN or comments; iterative, so deep nesting cannot exhaust the stack.
bool parse_json(const std::string& text, rapidjson::Document& document) {
  constexpr unsigned kFlags = rapidjson::kParseValidateEncodingFlag | rapidjson::kParseIterativeFlag;
  document.Parse<kFlags>(text.data(), text.size());
  return !document.HasParseError();
}

// The member called `name`, nullptr when absent; `duplicate` is set when it
// appears twice (RFC 8259 §4 leaves that to us; we refuse it).
const rapidjson::Value* member(const rapidjson::Value& object, const char* name, bool& duplicate) {
  const rapidjson::Value* found = nullptr;
  for (auto it = object.MemberBegin(); it != object.MemberEnd(); ++it) {
    if (std::string_view(it->name.GetString(), it->name.GetStringLength()) != name) continue;
    if (found != nullptr) duplicate = true;
    found = &it->value;
  }
  return found;
}

std::string_view as_view(const rapidjson::Value& value) {
  return {value.GetString(), value.GetStringLength()};
}

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
  bool duplicate = false;
  const rapidjson::Value* value = member(object, name, duplicate);
  if (duplicate) return bad_success(std::string("has ") + name + " twice");
  if (value == nullptr) return bad_success(std::string("has no ") + name);
  if (!value->IsString()) return bad_success(std::string("has a ") + name + " that is not a string");
  const std::string_view text = as_view(*value);
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
  bool duplicate = false;
  const rapidjson::Value* value = member(object, "expires_in", duplicate);
  if (duplicate) return bad_success("has expires_in twice");
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
  if (!parse_json(response.body, document)) return not_json(response);
  if (!document.IsObject()) return bad_success("is not a JSON object");

  AccessToken token;
  auto access_token = string_field(document, "access_token", kMaxAccessTokenBytes, is_token_text);
  if (!access_token) return std::move(access_token).error();
  auto token_type = string_field(document, "token_type", kMaxTokenTypeBytes, is_token_text);
  if (!token_type) return std::move(token_type).error();
  auto expires_in = expires_in_field(document);
  if (!expires_in) return std::move(expires_in).error();
  // Maskinporten always sends scope; a missing one is taken as "".
  bool duplicate = false;
  if (member(document, "scope", duplicate) != nullptr || duplicate) {
    auto scope = string_field(document, "scope", kMaxScopeBytes, is_visible_text);
    if (!scope) return std::move(scope).error();
    token.scope = std::move(*scope);
  }
  token.access_token = std::move(*access_token);
  token.token_type = std::move(*token_type);
  token.expires_in = *expires_in;
  token.expires_at = now + *expires_in;
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
  if (!parse_json(response.body, document) || !document.IsObject()) return std::nullopt;
  bool duplicate = false;
  const rapidjson::Value* code = member(document, "error", duplicate);
  const rapidjson::Value* description = member(document, "error_description", duplicate);
  if (duplicate) return std::nullopt;
  OAuthError error;
  if (code != nullptr && code->IsString()) error.code = printable(as_view(*code), kMaxErrorCodeBytes);
  if (description != nullptr && description->IsString()) {
    error.description = printable(as_view(*description), kMaxDescriptionBytes);
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
                    "Maskinporten refused the grant: " + error_words(*error));
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

int digit(char c) { return c >= '0' && c <= '9' ? c - '0' : -1; }

// Fixed-width decimal field of `text`; -1 when any character is no digit.
int number_at(std::string_view text, std::size_t at, std::size_t width) {
  int n = 0;
  for (std::size_t i = at; i < at + width; ++i) {
    const int d = digit(text[i]);
    if (d < 0) return -1;
    n = n * 10 + d;
  }
  return n;
}

template <std::size_t N>
int index_of(std::string_view word, const std::array<std::string_view, N>& names) {
  for (std::size_t i = 0; i < N; ++i) {
    if (names[i] == word) return static_cast<int>(i);
  }
  return -1;
}

// RFC 9110 §5.6.7 IMF-fixdate, "Sun, 06 Nov 1994 08:49:37 GMT", as epoch
// seconds; the weekday must match the date.
std::optional<std::int64_t> parse_imf_fixdate(std::string_view text) {
  static constexpr std::array<std::string_view, 7> kDays = {"Sun", "Mon", "Tue", "Wed",
                                                             "Thu", "Fri", "Sat"};
  static constexpr std::array<std::string_view, 12> kMonths = {
      "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"};
  if (text.size() != 29 || text.substr(3, 2) != ", " || text[7] != ' ' || text[11] != ' ' ||
      text[16] != ' ' || text[19] != ':' || text[22] != ':' || text.substr(25) != " GMT") {
    return std::nullopt;
  }
  const int weekday = index_of(text.substr(0, 3), kDays);
  const int day = number_at(text, 5, 2);
  const int month = index_of(text.substr(8, 3), kMonths);
  const int year = number_at(text, 12, 4);
  const int hour = number_at(text, 17, 2);
  const int minute = number_at(text, 20, 2);
  const int second = number_at(text, 23, 2);
  if (weekday < 0 || day < 0 || month < 0 || year < 0 || hour < 0 || hour > 23 || minute < 0 ||
      minute > 59 || second < 0 || second > 60) {
    return std::nullopt;
  }
  using namespace std::chrono;
  const year_month_day date{std::chrono::year{year}, std::chrono::month{static_cast<unsigned>(month + 1)},
                            std::chrono::day{static_cast<unsigned>(day)}};
  if (!date.ok()) return std::nullopt;
  const sys_days days{date};
  if (std::chrono::weekday{days}.c_encoding() != static_cast<unsigned>(weekday)) return std::nullopt;
  return days.time_since_epoch().count() * std::int64_t{86400} + hour * 3600 + minute * 60 + second;
}

// Full jitter needs no cryptographic randomness; a per-thread engine keeps
// exchange() free of shared state.
milliseconds jittered_backoff(int attempt) {
  thread_local std::minstd_rand engine(static_cast<std::minstd_rand::result_type>(
      std::chrono::steady_clock::now().time_since_epoch().count() ^
      static_cast<std::int64_t>(std::hash<std::thread::id>{}(std::this_thread::get_id()))));
  const int doublings = std::min(attempt - 1, 16);
  const milliseconds ceiling = std::min(kMaxBackoff, kFirstBackoff * (std::int64_t{1} << doublings));
  std::uniform_int_distribution<std::int64_t> pick(0, ceiling.count());
  return milliseconds(pick(engine));
}

MaskinportenIo real_io(const ClientConfig& client) {
  HttpOptions options;
  options.ca_file = client.ca_file;
  options.proxy = client.proxy;
  options.connect_timeout_seconds = client.connect_timeout_seconds;
  options.timeout_seconds = client.timeout_seconds;
  MaskinportenIo io;
  io.post_form = [options](const std::string& url, const std::string& body, int timeout_seconds) {
    HttpOptions attempt = options;
    attempt.timeout_seconds = timeout_seconds;
    return http_post_form(url, body, attempt);
  };
  io.get = [options](const std::string& url) {
    return http_get(url, {"Accept: application/json"}, options);
  };
  io.sleep = [](milliseconds duration) { std::this_thread::sleep_for(duration); };
  io.monotonic_now = [] { return std::chrono::steady_clock::now(); };
  io.epoch_now = [] { return static_cast<std::int64_t>(std::time(nullptr)); };
  return io;
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

std::optional<int> parse_retry_after(const std::string& value, std::int64_t now) {
  if (value.empty()) return std::nullopt;
  if (std::all_of(value.begin(), value.end(), [](char c) { return digit(c) >= 0; })) {
    if (value.size() > kMaxRetryAfterDigits) return kMaxRetryAfterSeconds;
    const int seconds = number_at(value, 0, value.size());
    return std::min(seconds, kMaxRetryAfterSeconds);
  }
  const auto date = parse_imf_fixdate(value);
  if (!date) return std::nullopt;
  const std::int64_t wait = std::clamp<std::int64_t>(*date - now, 0, kMaxRetryAfterSeconds);
  return static_cast<int>(wait);
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
  if (!parse_json(response.body, document) || !document.IsObject()) {
    return make_error(ErrorCode::unavailable,
                      "discovery at " + url + " answered something that is not a JSON object (" +
                          describe_body(response) + ")");
  }
  bool duplicate = false;
  const rapidjson::Value* named_issuer = member(document, "issuer", duplicate);
  const rapidjson::Value* endpoint = member(document, "token_endpoint", duplicate);
  if (duplicate || named_issuer == nullptr || !named_issuer->IsString() || endpoint == nullptr ||
      !endpoint->IsString()) {
    return make_error(ErrorCode::invalid_config,
                      "discovery at " + url + " needs one string \"issuer\" and one string "
                      "\"token_endpoint\"");
  }
  // RFC 8414 §3.3: the issuer in the metadata must be identical to the one
  // the metadata was fetched for.
  if (as_view(*named_issuer) != issuer) {
    return make_error(ErrorCode::invalid_config,
                      "discovery at " + url + " names issuer \"" +
                          printable(as_view(*named_issuer), kMaxUrlBytes) +
                          "\", not the configured \"" + issuer + "\"");
  }
  const std::string_view token_endpoint = as_view(*endpoint);
  if (token_endpoint.size() > kMaxUrlBytes || !is_https_url(token_endpoint) ||
      !is_token_text(token_endpoint)) {
    return make_error(ErrorCode::invalid_config,
                      "discovery at " + url + " gives token_endpoint \"" +
                          printable(token_endpoint, 128) + "\", not an https:// URL");
  }
  return std::string(token_endpoint);
}

MaskinportenClient::MaskinportenClient(ClientConfig client)
    : MaskinportenClient(client, real_io(client)) {}

MaskinportenClient::MaskinportenClient(ClientConfig client, MaskinportenIo io)
    : client_(std::move(client)), io_(std::move(io)) {}

Status MaskinportenClient::prepare() {
  if (!client_.discovery) {
    if (!is_https_url(client_.token_endpoint)) {
      return make_error(ErrorCode::invalid_config,
                        "client \"" + client_.name + "\": token_endpoint \"" +
                            client_.token_endpoint + "\" is not an https:// URL");
    }
    token_endpoint_ = client_.token_endpoint;
    return {};
  }
  if (!is_https_url(client_.issuer) || client_.issuer.back() != '/') {
    return make_error(ErrorCode::invalid_config,
                      "client \"" + client_.name + "\": issuer \"" + client_.issuer +
                          "\" is not an https:// URL ending in '/'");
  }
  const std::string url = client_.issuer + kMetadataPath;
  auto response = io_.get(url);
  if (!response) return std::move(response).error().with_context("discovery");
  auto endpoint = parse_authorization_server_metadata(*response, client_.issuer, url);
  if (!endpoint) return std::move(endpoint).error();
  token_endpoint_ = std::move(*endpoint);
  return {};
}

namespace {

// One attempt's verdict: the token or the error, and whether another grant
// may do better.
struct Attempt {
  Result<AccessToken> result;
  bool retryable = false;
  std::optional<int> retry_after;
};

Attempt judge(const Result<HttpResponse>& response, std::int64_t now) {
  if (!response) {
    // Network trouble may pass; a refused URL or option will not.
    return {response.error(), response.error().code == ErrorCode::unavailable, std::nullopt};
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

}  // namespace

Result<AccessToken> MaskinportenClient::exchange(
    const std::function<Result<SignedGrant>()>& make_grant) {
  if (token_endpoint_.empty()) {
    return make_error(ErrorCode::internal, "exchange() before prepare() succeeded");
  }
  const std::chrono::seconds budget(client_.retry_deadline_seconds);
  const auto deadline = io_.monotonic_now() + budget;
  for (int attempt = 1;; ++attempt) {
    // Each attempt is a new grant (new jti, iat, signature): Maskinporten
    // refuses a jti it has seen, and a retried grant may have been used.
    auto grant = make_grant();
    if (!grant) return std::move(grant).error();

    const auto remaining =
        std::chrono::ceil<std::chrono::seconds>(deadline - io_.monotonic_now()).count();
    const int timeout = static_cast<int>(
        std::clamp<std::int64_t>(remaining, 1, std::max(1, client_.timeout_seconds)));
    const std::string form =
        form_encode({{"grant_type", kJwtBearerGrantType}, {"assertion", grant->jwt}});
    Attempt outcome = judge(io_.post_form(token_endpoint_, form, timeout), io_.epoch_now());
    if (outcome.result.ok() || !outcome.retryable) return std::move(outcome.result);

    const Error& error = outcome.result.error();
    const milliseconds wait = outcome.retry_after
                                  ? milliseconds(std::chrono::seconds(*outcome.retry_after))
                                  : jittered_backoff(attempt);
    if (io_.monotonic_now() + wait >= deadline) {
      std::string why = outcome.retry_after
                            ? "; it asks to wait " + std::to_string(*outcome.retry_after) +
                                  " s, past the retry deadline"
                            : "";
      return make_error(error.code, error.message + why + " (gave up after " +
                                        attempts_words(attempt) + " within " +
                                        std::to_string(budget.count()) + " s)");
    }
    log::warning("Maskinporten attempt " + std::to_string(attempt) + " (jti " + grant->jti +
                 ") failed: " + error.message + "; retrying in " +
                 std::to_string(wait.count()) + " ms");
    io_.sleep(wait);
  }
}

}  // namespace mpa
