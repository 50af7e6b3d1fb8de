// Request encoding for socket protocol v1 (DESIGN.md), for the client
// library: "op" first, then "id", then the fields that are set.
#include <utility>

#include "common/json_text.h"
#include "protocol/limits.h"
#include "protocol/messages.h"
#include "protocol/request_fields.h"

namespace mpa::protocol {
namespace {

using rapidjson::Value;

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
  } else if (const auto* check = std::get_if<VerifyTokenRequest>(&request.body)) {
    writer.Key("token");
    json::write_string(writer, check->token);
    writer.Key("scopes");
    writer.StartArray();
    for (const auto& scope : check->scopes) json::write_string(writer, scope);
    writer.EndArray();
  }
  writer.EndObject();
  return std::string(buffer.GetString(), buffer.GetSize()) + "\n";
}

Result<std::string> normalize_authorization_details(std::string_view json_text) {
  if (json_text.size() > kMaxRequestLineBytes) {
    return invalid("authorization_details is longer than " +
                   std::to_string(kMaxAuthorizationDetailsBytes) + " bytes");
  }
  rapidjson::Document document;
  if (auto problem = json::parse_strict_json(document, json_text, kMaxAuthorizationDetailsDepth)) {
    switch (problem->kind) {
      case json::JsonProblem::Kind::too_deep:
        return invalid("authorization_details nests deeper than " +
                       std::to_string(kMaxAuthorizationDetailsDepth) + " levels");
      case json::JsonProblem::Kind::duplicate_member:
        return invalid("authorization_details has a key twice in one object");
      case json::JsonProblem::Kind::not_json:
        return invalid("authorization_details is not valid JSON: " + problem->words);
    }
  }
  return read_authorization_details(document);
}

}  // namespace mpa::protocol
