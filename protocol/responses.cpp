// Response encoding (agent side) and decoding (client side) for socket
// protocol v1 (DESIGN.md): {"ok":true,...} or {"ok":false,"error":CODE,
// "message":...}, "id" right after "ok" when the request had one.
#include <array>
#include <utility>

#include "common/json_text.h"
#include "protocol/limits.h"
#include "protocol/messages.h"
#include "protocol/response_reader.h"

namespace mpa::protocol {
namespace {

using rapidjson::Value;

// Every code that may appear on the wire (invalid_config is spelled `internal`).
constexpr std::array kWireCodes = {
    ErrorCode::invalid_request, ErrorCode::forbidden,     ErrorCode::unknown_client,
    ErrorCode::invalid_scope,   ErrorCode::invalid_grant, ErrorCode::invalid_client,
    ErrorCode::unavailable,     ErrorCode::hsm_error,     ErrorCode::invalid_token,
    ErrorCode::internal,
};

}  // namespace

void begin_response(json::Writer& writer, bool ok, const std::optional<std::string>& id_json) {
  writer.StartObject();
  writer.Key("ok");
  writer.Bool(ok);
  if (id_json) {
    writer.Key("id");
    writer.RawValue(id_json->data(), id_json->size(), rapidjson::kStringType);
  }
}

std::string finish_response(json::Writer& writer, const rapidjson::StringBuffer& buffer) {
  writer.EndObject();
  return std::string(buffer.GetString(), buffer.GetSize()) + "\n";
}

namespace {

Error bad_answer(std::string what) {
  return make_error(ErrorCode::internal, "the agent's answer " + std::move(what));
}

Result<std::string> string_member(const Value& object, const char* name) {
  const Value* member = json::find(object, name);
  if (member == nullptr || !member->IsString()) {
    return bad_answer("has no string \"" + std::string(name) + "\"");
  }
  return std::string(json::view(*member));
}

Result<std::int64_t> integer_member(const Value& object, const char* name) {
  const Value* member = json::find(object, name);
  if (member == nullptr || !member->IsInt64()) {
    return bad_answer("has no integer \"" + std::string(name) + "\"");
  }
  return member->GetInt64();
}

}  // namespace

Status read_response(rapidjson::Document& document, std::string_view line) {
  if (line.size() > kMaxResponseLineBytes) return bad_answer("is too long");
  if (auto problem = json::parse_strict_json(document, line, kMaxResponseNestingDepth)) {
    switch (problem->kind) {
      case json::JsonProblem::Kind::too_deep:
        return bad_answer("nests too deep");
      case json::JsonProblem::Kind::duplicate_member:
        return bad_answer(problem->words);
      case json::JsonProblem::Kind::not_json:
        return bad_answer("is not JSON: " + problem->words);
    }
  }
  if (!document.IsObject()) return bad_answer("is not a JSON object");
  const Value* ok = json::find(document, "ok");
  if (ok == nullptr || !ok->IsBool()) return bad_answer("has no \"ok\" true or false");
  if (ok->GetBool()) return {};

  const Value* code = json::find(document, "error");
  const Value* message = json::find(document, "message");
  if (code == nullptr || !code->IsString()) return bad_answer("has no error code");
  std::string words = message != nullptr && message->IsString() ? json::to_valid_utf8(json::view(*message))
                                                                 : std::string("(no message)");
  const std::string_view code_text = json::view(*code);
  if (const auto known = error_code_from_string(code_text)) return make_error(*known, std::move(words));
  return make_error(ErrorCode::internal, json::to_valid_utf8(code_text) + ": " + words);
}

std::string encode_error(const std::optional<std::string>& id_json, const Error& error) {
  rapidjson::StringBuffer buffer;
  json::Writer writer(buffer);
  begin_response(writer, false, id_json);
  writer.Key("error");
  json::write_string(writer, to_string(error.code));
  writer.Key("message");
  json::write_string(writer, error.message);
  return finish_response(writer, buffer);
}

std::string encode_token_response(const std::optional<std::string>& id_json,
                                  const TokenResponse& response) {
  rapidjson::StringBuffer buffer;
  json::Writer writer(buffer);
  begin_response(writer, true, id_json);
  writer.Key("access_token");
  json::write_string(writer, response.access_token);
  writer.Key("token_type");
  json::write_string(writer, response.token_type);
  writer.Key("expires_in");
  writer.Int64(response.expires_in);
  writer.Key("expires_at");
  writer.Int64(response.expires_at);
  writer.Key("scope");
  json::write_string(writer, response.scope);
  return finish_response(writer, buffer);
}

std::string encode_ok(const std::optional<std::string>& id_json, std::string_view fields_json) {
  rapidjson::Document fields;
  const std::string why = json::parse_strict(fields, fields_json);
  const bool usable = why.empty() && fields.IsObject() && !fields.HasMember("ok") && !fields.HasMember("id");
  if (!usable) {
    // Our own answer could not be built: a bug here, not the client's fault.
    return encode_error(id_json, make_error(ErrorCode::internal, "the agent could not put its answer together"));
  }
  rapidjson::StringBuffer buffer;
  json::Writer writer(buffer);
  begin_response(writer, true, id_json);
  for (rapidjson::SizeType i = 0; i < fields.MemberCount(); ++i) {
    const auto& member = json::member_at(fields, i);
    json::write_key(writer, json::view(member.name));
    member.value.Accept(writer);
  }
  return finish_response(writer, buffer);
}

std::optional<ErrorCode> error_code_from_string(std::string_view text) {
  for (ErrorCode code : kWireCodes) {
    if (to_string(code) == text) return code;
  }
  return std::nullopt;
}

Status decode_response_status(std::string_view line) {
  rapidjson::Document document;
  return read_response(document, line);
}

Result<TokenResponse> decode_token_response(std::string_view line) {
  rapidjson::Document document;
  if (auto status = read_response(document, line); !status) return std::move(status).error();
  TokenResponse response;
  auto access_token = string_member(document, "access_token");
  auto token_type = string_member(document, "token_type");
  auto expires_in = integer_member(document, "expires_in");
  auto expires_at = integer_member(document, "expires_at");
  auto scope = string_member(document, "scope");
  if (!access_token) return std::move(access_token).error();
  if (!token_type) return std::move(token_type).error();
  if (!expires_in) return std::move(expires_in).error();
  if (!expires_at) return std::move(expires_at).error();
  if (!scope) return std::move(scope).error();
  if (access_token->empty()) return bad_answer("has an empty access_token");
  response.access_token = std::move(*access_token);
  response.token_type = std::move(*token_type);
  response.expires_in = *expires_in;
  response.expires_at = *expires_at;
  response.scope = std::move(*scope);
  return response;
}

Result<std::string> decode_metrics_response(std::string_view line) {
  rapidjson::Document document;
  if (auto status = read_response(document, line); !status) return std::move(status).error();
  return string_member(document, "metrics");
}

}  // namespace mpa::protocol
