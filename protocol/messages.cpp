// Request decoding and encoding for socket protocol v1 (DESIGN.md). The
// decoder is strict: one JSON object, known op, known fields only, each of
// the expected type and within its named limit (protocol/limits.h).
#include "protocol/messages.h"

#include <algorithm>
#include <array>
#include <set>
#include <utility>

#include "common/text.h"
#include "common/json_text.h"
#include "protocol/limits.h"

namespace mpa::protocol {
namespace {

using rapidjson::Value;

constexpr std::array<std::string_view, 5> kOps = {"token", "status", "invalidate", "verify_altinn",
                                                  "ping"};
constexpr std::string_view kOpList = "token, status, invalidate, verify_altinn, ping";

// Fields of each op besides "op" and "id".
const std::vector<std::string_view> kTokenFields = {
    "scopes", "client",  "resource", "consumer_org", "iss_onbehalfof",
    "pid",    "authorization_details", "min_ttl", "exchange"};
const std::vector<std::string_view> kInvalidateFields = {
    "scopes", "client",  "resource", "consumer_org", "iss_onbehalfof",
    "pid",    "authorization_details", "exchange"};
const std::vector<std::string_view> kVerifyAltinnFields = {"token"};
const std::vector<std::string_view> kNoFields = {};

// A suggestion is offered for an unknown field this close to a known one.
constexpr std::size_t kMaxSuggestionDistance = 2;

Error invalid(std::string message) {
  return make_error(ErrorCode::invalid_request, std::move(message));
}

std::string kind_of(const Value& value) {
  switch (value.GetType()) {
    case rapidjson::kNullType: return "null";
    case rapidjson::kFalseType:
    case rapidjson::kTrueType: return "a boolean";
    case rapidjson::kNumberType: return "a number";
    case rapidjson::kStringType: return "a string";
    case rapidjson::kArrayType: return "an array";
    case rapidjson::kObjectType: return "an object";
  }
  return "something else";
}


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
  return best.empty() ? std::string() : "; did you mean " + json::quoted(best) + "?";
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
  std::string message = "unknown field " + json::quoted(name) + " in a" +
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
    if (!seen.insert(name).second) return invalid("field " + json::quoted(name) + " appears twice");
    if (name == "op" || name == "id") continue;
    if (std::find(known.begin(), known.end(), name) == known.end()) {
      return unknown_field(name, op, known);
    }
  }
  return {};
}

bool has_control_character(std::string_view text) {
  return std::any_of(text.begin(), text.end(), [](char c) {
    const auto byte = static_cast<unsigned char>(c);
    return byte < 0x20 || byte == 0x7F;
  });
}

// A non-empty string of printable UTF-8 within `max_bytes`.
Result<std::string> read_text(const Value& value, const std::string& label, std::size_t max_bytes) {
  if (!value.IsString()) return invalid(label + " must be a string, not " + kind_of(value));
  const std::string_view text = json::view(value);
  if (text.empty()) return invalid(label + " must not be empty");
  if (text.size() > max_bytes) {
    return invalid(label + " is longer than " + std::to_string(max_bytes) + " bytes");
  }
  if (!json::is_valid_utf8(text)) return invalid(label + " is not valid UTF-8");
  if (has_control_character(text)) return invalid(label + " must not contain control characters");
  return std::string(text);
}

Result<std::vector<std::string>> read_text_array(const Value& value, const std::string& field,
                                                 std::size_t max_count, std::size_t max_bytes) {
  if (!value.IsArray()) return invalid(field + " must be an array of strings, not " + kind_of(value));
  if (value.Size() > max_count) {
    return invalid(field + " holds more than " + std::to_string(max_count) + " entries");
  }
  std::vector<std::string> texts;
  for (rapidjson::SizeType i = 0; i < value.Size(); ++i) {
    auto text = read_text(value[i], field + "[" + std::to_string(i) + "]", max_bytes);
    if (!text) return std::move(text).error();
    texts.push_back(std::move(*text));
  }
  return texts;
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

bool has_duplicate_keys(const Value& value) {
  if (value.IsArray()) {
    return std::any_of(value.Begin(), value.End(), [](const Value& v) { return has_duplicate_keys(v); });
  }
  if (!value.IsObject()) return false;
  std::set<std::string_view> seen;
  for (rapidjson::SizeType i = 0; i < value.MemberCount(); ++i) {
    const auto& member = json::member_at(value, i);
    if (!seen.insert(json::view(member.name)).second || has_duplicate_keys(member.value)) return true;
  }
  return false;
}

// The shape the protocol checks (the grant builder checks the Altinn
// types): a non-empty array of objects, bounded, unambiguous.
Result<std::string> read_authorization_details(const Value& value) {
  if (!value.IsArray() || value.Empty()) {
    return invalid("authorization_details must be a non-empty array of objects");
  }
  for (const Value& element : value.GetArray()) {
    if (!element.IsObject()) {
      return invalid("authorization_details must be an array of objects, but holds " +
                     kind_of(element));
    }
  }
  if (has_duplicate_keys(value)) return invalid("authorization_details has a key twice in one object");
  std::string text = json::compact(value);
  if (text.size() > kMaxAuthorizationDetailsBytes) {
    return invalid("authorization_details is longer than " +
                   std::to_string(kMaxAuthorizationDetailsBytes) + " bytes");
  }
  if (!json::is_valid_utf8(text)) return invalid("authorization_details is not valid UTF-8");
  return text;
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
const std::pair<const char*, std::optional<std::string> GrantRequest::*> kOptionalTextFields[] = {
    {"consumer_org", &GrantRequest::consumer_org},
    {"iss_onbehalfof", &GrantRequest::iss_onbehalfof},
    {"pid", &GrantRequest::pid},
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
  for (const auto& [name, field] : kOptionalTextFields) {
    if (auto s = read_optional_text(object, name, kMaxNameBytes, request.grant.*field); !s) {
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
  if (auto s = check_field_names(object, op, kNoFields); !s) return std::move(s).error();
  if (op == "status") return RequestBody(StatusRequest{});
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
  return invalid("unknown op " + json::quoted(name) +
                 (suggestion.empty() ? "; the ops are " + std::string(kOpList) : suggestion));
}

void write_text_array(json::Writer& writer, std::string_view key, const std::vector<std::string>& texts) {
  json::write_key(writer, key);
  writer.StartArray();
  for (const std::string& text : texts) json::write_string(writer, text);
  writer.EndArray();
}

void write_optional(json::Writer& writer, std::string_view key, const std::optional<std::string>& text) {
  if (!text) return;
  json::write_key(writer, key);
  json::write_string(writer, *text);
}

void write_token_fields(json::Writer& writer, const TokenRequest& request, bool with_min_ttl) {
  if (!request.client.empty()) write_optional(writer, "client", request.client);
  write_text_array(writer, "scopes", request.grant.scopes);
  if (!request.grant.resource.empty()) write_text_array(writer, "resource", request.grant.resource);
  write_optional(writer, "consumer_org", request.grant.consumer_org);
  write_optional(writer, "iss_onbehalfof", request.grant.iss_onbehalfof);
  write_optional(writer, "pid", request.grant.pid);
  if (request.grant.authorization_details) {
    json::write_key(writer, "authorization_details");
    auto details = normalize_authorization_details(*request.grant.authorization_details);
    if (details) {
      writer.RawValue(details->data(), details->size(), rapidjson::kArrayType);
    } else {
      // Sent as a string, which the agent refuses with words: the line stays JSON.
      json::write_string(writer, *request.grant.authorization_details);
    }
  }
  if (with_min_ttl && request.min_ttl) {
    writer.Key("min_ttl");
    writer.Int64(*request.min_ttl);
  }
  write_optional(writer, "exchange", request.exchange);
}

}  // namespace

// kOps lists the ops in the order of RequestBody's alternatives.
static_assert(std::variant_size_v<RequestBody> == kOps.size());

std::string_view op_name(const RequestBody& body) { return kOps[body.index()]; }

std::variant<Request, DecodeError> decode_request(std::string_view line) {
  if (line.size() > kMaxRequestLineBytes) {
    return DecodeError{invalid("the request is longer than " + std::to_string(kMaxRequestLineBytes) +
                               " bytes"),
                       std::nullopt};
  }
  if (!json::nesting_within(line, kMaxRequestNestingDepth)) {
    return DecodeError{invalid("the request nests arrays or objects deeper than " +
                               std::to_string(kMaxRequestNestingDepth) + " levels"),
                       std::nullopt};
  }
  rapidjson::Document document;
  if (std::string why = json::parse_strict(document, line); !why.empty()) {
    return DecodeError{invalid("the request is not valid JSON: " + why), std::nullopt};
  }
  if (!document.IsObject()) {
    return DecodeError{invalid("a request must be a JSON object, not " + kind_of(document)), std::nullopt};
  }
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

std::string encode_request(const Request& request) {
  rapidjson::StringBuffer buffer;
  json::Writer writer(buffer);
  writer.StartObject();
  writer.Key("op");
  json::write_string(writer, op_name(request.body));
  if (request.id_json) {
    writer.Key("id");
    writer.RawValue(request.id_json->data(), request.id_json->size(), rapidjson::kStringType);
  }
  if (const auto* token = std::get_if<TokenRequest>(&request.body)) {
    write_token_fields(writer, *token, true);
  } else if (const auto* invalidate = std::get_if<InvalidateRequest>(&request.body)) {
    write_token_fields(writer, invalidate->target, false);
  } else if (const auto* verify = std::get_if<VerifyAltinnRequest>(&request.body)) {
    writer.Key("token");
    json::write_string(writer, verify->token);
  }
  writer.EndObject();
  return std::string(buffer.GetString(), buffer.GetSize()) + "\n";
}

Result<std::string> normalize_authorization_details(std::string_view json_text) {
  if (json_text.size() > kMaxRequestLineBytes) {
    return invalid("authorization_details is longer than " +
                   std::to_string(kMaxAuthorizationDetailsBytes) + " bytes");
  }
  if (!json::nesting_within(json_text, kMaxAuthorizationDetailsDepth)) {
    return invalid("authorization_details nests deeper than " + std::to_string(kMaxAuthorizationDetailsDepth) +
                   " levels");
  }
  rapidjson::Document document;
  if (std::string why = json::parse_strict(document, json_text); !why.empty()) {
    return invalid("authorization_details is not valid JSON: " + why);
  }
  return read_authorization_details(document);
}

}  // namespace mpa::protocol
