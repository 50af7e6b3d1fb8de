#include "agent/jwt/grant.h"

#include <rapidjson/document.h>
#include <rapidjson/stringbuffer.h>
#include <rapidjson/writer.h>

#include <algorithm>
#include <string_view>
#include <utility>

#include "agent/jwt/grant_request_check.h"
#include "agent/jwt/jose.h"
#include "common/text.h"

namespace mpa {
namespace {

// Digdir's grant table: Maskinporten refuses a grant whose exp - iat exceeds 120 s.
constexpr int kMaxGrantLifetimeSeconds = 120;

using JsonWriter = rapidjson::Writer<rapidjson::StringBuffer>;

// --- header and body -----------------------------------------------------------

void write_string(JsonWriter& writer, std::string_view value) {
  writer.String(value.data(), static_cast<rapidjson::SizeType>(value.size()));
}

void write_member(JsonWriter& writer, std::string_view key, std::string_view value) {
  writer.Key(key.data(), static_cast<rapidjson::SizeType>(key.size()));
  write_string(writer, value);
}

// DESIGN.md / Digdir: alg and exactly one of x5c or kid; nothing else (no typ).
Result<std::string> header_json(const ClientConfig& client, const GrantSigner& signer) {
  rapidjson::StringBuffer buffer;
  JsonWriter writer(buffer);
  writer.StartObject();
  write_member(writer, "alg", to_string(client.alg));
  if (client.kid) {
    write_member(writer, "kid", *client.kid);
  } else {
    const std::vector<Bytes>& chain = signer.certificate_chain();
    if (chain.empty() || chain.front().empty()) {
      return make_error(ErrorCode::hsm_error,
                        "no certificate was found for the key of client " +
                            quoted(client.name) + ", so the grant has no x5c (set kid instead)");
    }
    // RFC 7515 §4.1.6: standard base64 DER, the leaf first.
    const std::size_t count = client.x5c_chain ? chain.size() : 1;
    writer.Key("x5c");
    writer.StartArray();
    for (std::size_t i = 0; i < count; ++i) write_string(writer, jose::base64_encode(chain[i]));
    writer.EndArray();
  }
  writer.EndObject();
  return std::string(buffer.GetString(), buffer.GetSize());
}

struct Claims {
  std::int64_t iat = 0;
  std::int64_t exp = 0;
  std::string jti;
};

std::string join_scopes(const std::vector<std::string>& scopes) {
  std::string joined;
  for (const std::string& scope : scopes) {
    if (!joined.empty()) joined += ' ';
    joined += scope;
  }
  return joined;
}

// Digdir's grant table: these claims and no other (any other is invalid_grant).
std::string body_json(const ClientConfig& client, const GrantRequest& request,
                      const Claims& claims, const rapidjson::Document* authorization_details) {
  rapidjson::StringBuffer buffer;
  JsonWriter writer(buffer);
  writer.StartObject();
  write_member(writer, "aud", client.issuer);
  write_member(writer, "iss", client.client_id);
  writer.Key("iat");
  writer.Int64(claims.iat);
  writer.Key("exp");
  writer.Int64(claims.exp);
  write_member(writer, "jti", claims.jti);
  write_member(writer, "scope", join_scopes(request.scopes));
  if (!request.resource.empty()) {
    writer.Key("resource");
    writer.StartArray();
    for (const std::string& resource : request.resource) write_string(writer, resource);
    writer.EndArray();
  }
  if (request.consumer_org) write_member(writer, "consumer_org", *request.consumer_org);
  if (request.iss_onbehalfof) write_member(writer, "iss_onbehalfof", *request.iss_onbehalfof);
  if (request.pid) write_member(writer, "pid", *request.pid);
  if (authorization_details) {
    writer.Key("authorization_details");
    authorization_details->Accept(writer);
  }
  writer.EndObject();
  return std::string(buffer.GetString(), buffer.GetSize());
}

Result<int> grant_lifetime(const ClientConfig& client) {
  if (client.grant_lifetime_seconds <= 0) {
    return make_error(ErrorCode::invalid_config,
                      "client " + quoted(client.name) + " has a grant lifetime of " +
                          std::to_string(client.grant_lifetime_seconds) +
                          " s; it must be 1 to 120");
  }
  return std::min(client.grant_lifetime_seconds, kMaxGrantLifetimeSeconds);
}

Status check_client(const ClientConfig& client) {
  if (client.client_id.empty()) {
    return make_error(ErrorCode::invalid_config,
                      "client " + quoted(client.name) + " has no client_id (the grant's iss)");
  }
  if (client.kid && client.kid->empty()) {
    return make_error(ErrorCode::invalid_config,
                      "client " + quoted(client.name) + " has an empty kid");
  }
  // Digdir: aud is the issuer with its trailing slash, never the token endpoint.
  if (client.issuer.empty() || client.issuer.back() != '/') {
    return make_error(ErrorCode::invalid_config,
                      "client " + quoted(client.name) + " has issuer " + quoted(client.issuer) +
                          "; the grant's aud must be the issuer ending in '/'");
  }
  return {};
}


}  // namespace

GrantBuilder::GrantBuilder(ClientConfig client, std::shared_ptr<GrantSigner> signer)
    : client_(std::move(client)), signer_(std::move(signer)) {}

Result<SignedGrant> GrantBuilder::build(const GrantRequest& request, std::int64_t now) const {
  // Every check comes before the signer is asked: a refused request costs
  // no HSM operation and leaves nothing signed behind.
  if (auto checked = check_client(client_); !checked) return std::move(checked).error();
  auto lifetime = grant_lifetime(client_);
  if (!lifetime) return std::move(lifetime).error();
  rapidjson::Document authorization_details;
  if (auto checked = check_request(request, client_, authorization_details); !checked) {
    return std::move(checked).error();
  }
  if (!signer_) return make_error(ErrorCode::internal, "the grant builder has no signer");

  auto header = header_json(client_, *signer_);
  if (!header) return std::move(header).error();
  auto jti = jose::random_uuid();
  if (!jti) return std::move(jti).error();

  const Claims claims{now, now + *lifetime, *jti};
  const std::string body =
      body_json(client_, request, claims,
                request.authorization_details ? &authorization_details : nullptr);
  // RFC 7515 §5.1: the JWS signing input is BASE64URL(header) '.' BASE64URL(body).
  std::string jwt = jose::base64url_encode(*header) + '.' + jose::base64url_encode(body);
  auto signature = signer_->sign(client_.alg, jwt);
  if (!signature) return std::move(signature).error();
  if (signature->empty()) {
    return make_error(ErrorCode::hsm_error, "the token returned an empty signature");
  }
  jwt += '.';
  jwt += jose::base64url_encode(*signature);
  return SignedGrant{std::move(jwt), claims.jti, claims.iat, claims.exp};
}

}  // namespace mpa
