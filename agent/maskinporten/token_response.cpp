// Maskinporten's /token answer: the token, or its refusal in words.
#include <rapidjson/document.h>

#include <algorithm>
#include <optional>
#include <string>

#include "agent/maskinporten/answer_checks.h"
#include "agent/maskinporten/maskinporten.h"
#include "agent/maskinporten/mp_error_codes.h"
#include "common/json_text.h"
#include "common/text.h"

namespace mpa {
namespace {

using maskinporten_detail::describe_body;
using maskinporten_detail::is_retryable_status;
using maskinporten_detail::is_token_text;

// Digdir's JWTs are 1-2 KiB; an opaque token is shorter still.
constexpr std::size_t kMaxAccessTokenBytes = 16 * 1024;
constexpr std::size_t kMaxTokenTypeBytes = 64;
// Many scopes fit; a client is configured with a handful.
constexpr std::size_t kMaxScopeBytes = 4096;
// How much of an error code / description / header we repeat to a person.
constexpr std::size_t kMaxErrorCodeBytes = 64;
constexpr std::size_t kMaxDescriptionBytes = 512;

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
  if (seconds <= 0 || seconds > kMaxAccessTokenLifetimeSeconds) {
    return bad_success("has expires_in " + std::to_string(seconds) + ", not within 1.." +
                       std::to_string(kMaxAccessTokenLifetimeSeconds));
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
  // The agent hands the token on as a bearer token (RFC 6750); any other
  // type (a DPoP-bound one, say) would be used wrongly by every tenant.
  if (token.token_type.size() != 6 || !starts_with_ignoring_case(token.token_type, "Bearer")) {
    return bad_success("has token_type " + quoted(token.token_type) +
                       ", not Bearer: an answer the agent does not understand");
  }
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

}  // namespace mpa
