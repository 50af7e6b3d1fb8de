// Request decoding for socket protocol v1 (DESIGN.md). The decoder is
// strict: one JSON object, known op, known fields only, each of the
// expected type and within its named limit (protocol/limits.h).
#include <algorithm>
#include <set>
#include <utility>

#include "common/json_text.h"
#include "common/text.h"
#include "protocol/limits.h"
#include "protocol/messages.h"
#include "protocol/request_fields.h"

namespace mpa::protocol {
namespace {

using rapidjson::Value;

constexpr std::string_view kOpList =
    "token, status, invalidate, verify_altinn, verify_token, metrics, ping";

// Fields of each op besides "op" and "id".
const std::vector<std::string_view> kTokenFields = {
    "scopes", "client",  "resource", "consumer_org", "iss_onbehalfof",
    "pid",    "authorization_details", "min_ttl", "exchange"};
const std::vector<std::string_view> kInvalidateFields = {
    "scopes", "client",  "resource", "consumer_org", "iss_onbehalfof",
    "pid",    "authorization_details", "exchange"};
const std::vector<std::string_view> kVerifyAltinnFields = {"token"};
const std::vector<std::string_view> kVerifyTokenFields = {"token", "scopes"};
const std::vector<std::string_view> kNoFields = {};

// A suggestion is offered for an unknown field this close to a known one.
constexpr std::size_t kMaxSuggestionDistance = 2;

std::string did_you_mean(std::string_view name, const std::vector<std::string_view>& known) {
  constexpr std::size_t kLongestWorthComparing = 40;
  if (name.size() > kLongestWorthComparing) return {};
  std::string_view best;
  std::size_t best_distance = kMaxSuggestionDistance + 1;
  for (std::string_view candidate : known) {
    const std::size_t distance = edit_distance(name, candidate);
    if (distance < best_distance) {
      best = candidate;
      best_distance = distance;
    }
  }
  return best.empty() ? std::string() : "; did you mean " + mpa::quoted(best) + "?";
}

std::string field_list(const std::vector<std::string_view>& fields) {
  std::string list;
  for (std::string_view field : fields) {
    if (!list.empty()) list += ", ";
    list += field;
  }
  return list;
}

Error unknown_field(std::string_view name, std::string_view op,
                    const std::vector<std::string_view>& known) {
  std::string message = "unknown field " + mpa::quoted(name) + " in a" +
                        (op == "invalidate" ? "n " : " ") + std::string(op) + " request";
  if (known.empty()) return invalid(message + " (it takes only \"op\" and \"id\")");
  const std::string suggestion = did_you_mean(name, known);
  if (!suggestion.empty()) return invalid(message + suggestion);
  return invalid(message + " (its fields: " + field_list(known) + ")");
}

// Every member is "op", "id" or a field of the op, and none appears twice.
Status check_field_names(const Value& object, std::string_view op,
                         const std::vector<std::string_view>& known) {
  std::set<std::string_view> seen;
  for (rapidjson::SizeType i = 0; i < object.MemberCount(); ++i) {
    const std::string_view name = json::view(json::member_at(object, i).name);
    if (!seen.insert(name).second) return invalid("field " + mpa::quoted(name) + " appears twice");
    if (name == "op" || name == "id") continue;
    if (std::find(known.begin(), known.end(), name) == known.end()) {
      return unknown_field(name, op, known);
    }
  }
  return {};
}

// Maskinporten's `scope` claim joins scopes with spaces, so a scope with
// whitespace in it would silently become two.
Result<std::vector<std::string>> read_scopes(const Value& value) {
  auto scopes = read_text_array(value, "scopes", kMaxScopes, kMaxScopeBytes);
  if (!scopes) return scopes;
  if (scopes->empty()) return invalid("scopes must hold at least one scope");
  for (std::size_t i = 0; i < scopes->size(); ++i) {
    if ((*scopes)[i].find(' ') != std::string::npos) {
      return invalid("scopes[" + std::to_string(i) +
                     "] contains a space; give each scope as its own array element");
    }
  }
  return scopes;
}

Result<std::int64_t> read_min_ttl(const Value& value) {
  if (!value.IsInt64() || value.GetInt64() < 0 || value.GetInt64() > kMaxMinTtlSeconds) {
    return invalid("min_ttl must be a whole number of seconds from 0 to " +
                   std::to_string(kMaxMinTtlSeconds));
  }
  return value.GetInt64();
}

Result<std::string> read_exchange(const Value& value) {
  if (!value.IsString() || json::view(value) != "altinn") {
    return invalid("exchange must be \"altinn\" (the only exchange there is)");
  }
  return std::string("altinn");
}

// Assigns the optional string field `name` of `object`, if present.
Status read_optional_text(const Value& object, const char* name, std::size_t max_bytes,
                          std::optional<std::string>& out) {
  const Value* member = json::find(object, name);
  if (member == nullptr) return {};
  auto text = read_text(*member, name, max_bytes);
  if (!text) return std::move(text).error();
  out = std::move(*text);
  return {};
}

// The optional string fields of a token request other than "client".
struct OptionalTextField {
  const char* name;
  std::optional<std::string> GrantRequest::*field;
  std::size_t max_bytes;
};
const OptionalTextField kOptionalTextFields[] = {
    {"consumer_org", &GrantRequest::consumer_org, kMaxNameBytes},
    {"iss_onbehalfof", &GrantRequest::iss_onbehalfof, kMaxOnBehalfOfBytes},
    {"pid", &GrantRequest::pid, kMaxNameBytes},
};

Result<TokenRequest> read_token_fields(const Value& object, bool with_min_ttl) {
  TokenRequest request;
  const Value* scopes = json::find(object, "scopes");
  if (scopes == nullptr) return invalid("scopes is required: an array of scope names");
  auto scope_list = read_scopes(*scopes);
  if (!scope_list) return std::move(scope_list).error();
  request.grant.scopes = std::move(*scope_list);

  std::optional<std::string> client;
  if (auto s = read_optional_text(object, "client", kMaxNameBytes, client); !s) return std::move(s).error();
  request.client = client.value_or("");
  for (const auto& [name, field, max_bytes] : kOptionalTextFields) {
    if (auto s = read_optional_text(object, name, max_bytes, request.grant.*field); !s) {
      return std::move(s).error();
    }
  }
  if (const Value* m = json::find(object, "resource")) {
    auto resource = read_text_array(*m, "resource", kMaxResources, kMaxResourceBytes);
    if (!resource) return std::move(resource).error();
    request.grant.resource = std::move(*resource);
  }
  if (const Value* m = json::find(object, "authorization_details")) {
    auto details = read_authorization_details(*m);
    if (!details) return std::move(details).error();
    request.grant.authorization_details = std::move(*details);
  }
  if (const Value* m = json::find(object, "min_ttl"); with_min_ttl && m != nullptr) {
    auto min_ttl = read_min_ttl(*m);
    if (!min_ttl) return std::move(min_ttl).error();
    request.min_ttl = *min_ttl;
  }
  if (const Value* m = json::find(object, "exchange")) {
    auto exchange = read_exchange(*m);
    if (!exchange) return std::move(exchange).error();
    request.exchange = std::move(*exchange);
  }
  return request;
}

Result<RequestBody> read_verify_token(const Value& object) {
  MPA_RETURN_IF_ERROR(check_field_names(object, "verify_token", kVerifyTokenFields));
  const Value* token = json::find(object, "token");
  if (token == nullptr) return invalid("a verify_token request needs \"token\"");
  VerifyTokenRequest request;
  MPA_ASSIGN_OR_RETURN(request.token, read_text(*token, "token", kMaxVerifyMaskinportenTokenBytes));
  if (const Value* scopes = json::find(object, "scopes")) {
    MPA_ASSIGN_OR_RETURN(request.scopes,
                         read_text_array(*scopes, "scopes", kMaxScopes, kMaxScopeBytes));
  }
  return RequestBody(std::move(request));
}

Result<RequestBody> read_body(const Value& object, std::string_view op) {
  if (op == "token") {
    if (auto s = check_field_names(object, op, kTokenFields); !s) return std::move(s).error();
    auto request = read_token_fields(object, true);
    if (!request) return std::move(request).error();
    return RequestBody(std::move(*request));
  }
  if (op == "invalidate") {
    if (auto s = check_field_names(object, op, kInvalidateFields); !s) return std::move(s).error();
    auto target = read_token_fields(object, false);
    if (!target) return std::move(target).error();
    return RequestBody(InvalidateRequest{std::move(*target)});
  }
  if (op == "verify_altinn") {
    if (auto s = check_field_names(object, op, kVerifyAltinnFields); !s) return std::move(s).error();
    const Value* token = json::find(object, "token");
    if (token == nullptr) return invalid("a verify_altinn request needs \"token\"");
    auto text = read_text(*token, "token", kMaxVerifyTokenBytes);
    if (!text) return std::move(text).error();
    return RequestBody(VerifyAltinnRequest{std::move(*text)});
  }
  if (op == "verify_token") return read_verify_token(object);
  if (auto s = check_field_names(object, op, kNoFields); !s) return std::move(s).error();
  if (op == "status") return RequestBody(StatusRequest{});
  if (op == "metrics") return RequestBody(MetricsRequest{});
  return RequestBody(PingRequest{});
}

Result<std::string> read_id(const Value& value) {
  if (value.IsString()) {
    if (value.GetStringLength() > kMaxIdBytes) {
      return invalid("id is longer than " + std::to_string(kMaxIdBytes) + " bytes");
    }
    if (!json::is_valid_utf8(json::view(value))) return invalid("id is not valid UTF-8");
    return json::compact(value);
  }
  if (value.IsInt64() || value.IsUint64()) return json::compact(value);
  return invalid("id must be a string or an integer, not " + kind_of(value));
}

Result<std::string_view> read_op(const Value& object) {
  const Value* op = json::find(object, "op");
  if (op == nullptr) return invalid("a request needs \"op\" (one of " + std::string(kOpList) + ")");
  if (!op->IsString()) return invalid("op must be a string, not " + kind_of(*op));
  const std::string_view name = json::view(*op);
  for (std::string_view known : kOps) {
    if (name == known) return known;
  }
  const std::vector<std::string_view> ops(kOps.begin(), kOps.end());
  const std::string suggestion = did_you_mean(name, ops);
  return invalid("unknown op " + mpa::quoted(name) +
                 (suggestion.empty() ? "; the ops are " + std::string(kOpList) : suggestion));
}

// The fields of a request line that is a JSON object.
std::variant<Request, DecodeError> decode_object(const Value& document) {
  Request request;
  if (const Value* id = json::find(document, "id")) {
    auto id_json = read_id(*id);
    if (!id_json) return DecodeError{std::move(id_json).error(), std::nullopt};
    request.id_json = std::move(*id_json);
  }
  auto op = read_op(document);
  if (!op) return DecodeError{std::move(op).error(), request.id_json};
  auto body = read_body(document, *op);
  if (!body) return DecodeError{std::move(body).error(), request.id_json};
  request.body = std::move(*body);
  return request;
}

}  // namespace

std::variant<Request, DecodeError> decode_request(std::string_view line) {
  constexpr bool kClose = true;
  if (line.size() > kMaxRequestLineBytes) {
    return DecodeError{invalid("the request is longer than " + std::to_string(kMaxRequestLineBytes) +
                               " bytes"),
                       std::nullopt, kClose};
  }
  // RapidJSON takes a NUL for the end of the text: garbage after one would
  // pass unseen, and one in a string would read as a missing quotation mark.
  if (const auto nul = line.find('\0'); nul != std::string_view::npos) {
    return DecodeError{invalid("the request holds a NUL byte (at byte " + std::to_string(nul) +
                               "); JSON text has none"),
                       std::nullopt, kClose};
  }
  // Iterative and bounded by the line's length, so safe before the nesting
  // check; the parse also tells whether a too deep line is still an object.
  rapidjson::Document document;
  const std::string why = json::parse_strict(document, line);
  const bool is_object = why.empty() && document.IsObject();
  if (!json::nesting_within(line, kMaxRequestNestingDepth)) {
    return DecodeError{invalid("the request nests arrays or objects deeper than " +
                               std::to_string(kMaxRequestNestingDepth) + " levels"),
                       std::nullopt, !is_object};
  }
  if (!why.empty()) {
    return DecodeError{invalid("the request is not valid JSON: " + why), std::nullopt, kClose};
  }
  if (!is_object) {
    return DecodeError{invalid("a request must be a JSON object, not " + kind_of(document)),
                       std::nullopt, kClose};
  }
  return decode_object(document);
}

}  // namespace mpa::protocol
