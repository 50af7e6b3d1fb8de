// Compact JWS splitting, strict parsing, header rules and RS256 checks.
#include "agent/verify/jws.h"

#include <openssl/err.h>

#include "agent/jwt/jose.h"
#include "common/json_text.h"
#include "common/openssl_handles.h"
#include "common/text.h"

namespace mpa::verify {
namespace {

// Header parameters that carry or point to a key (RFC 7515 §4.1): trusting
// them would let the token choose its own verifier. `crit` names extensions
// we would have to understand, and we understand none.
constexpr const char* kRefusedHeaderParameters[] = {"jwk", "x5c", "jku", "x5u", "crit"};

}  // namespace

Result<CompactJws> split_compact_jws(std::string_view token) {
  const std::size_t first = token.find('.');
  const std::size_t second = first == std::string_view::npos ? first : token.find('.', first + 1);
  if (second == std::string_view::npos || token.find('.', second + 1) != std::string_view::npos) {
    std::size_t dots = 0;
    for (char c : token) dots += c == '.' ? 1 : 0;
    return refuse("expected three base64url parts separated by dots, found " +
                  std::to_string(dots + 1));
  }
  auto header = jose::base64url_decode(token.substr(0, first));
  auto payload = jose::base64url_decode(token.substr(first + 1, second - first - 1));
  auto signature = jose::base64url_decode(token.substr(second + 1));
  if (!header) return refuse("the header is not base64url");
  if (!payload) return refuse("the payload is not base64url");
  if (!signature) return refuse("the signature is not base64url");
  return CompactJws{token.substr(0, second), std::move(*header), std::move(*payload),
                    std::move(*signature)};
}

Result<rapidjson::Document> parse_strict_object(std::string_view json, std::string_view what) {
  rapidjson::Document doc;
  if (const auto problem = mpa::json::parse_strict_json(doc, json)) {
    switch (problem->kind) {
      case mpa::json::JsonProblem::Kind::too_deep:
        return refuse(std::string(what) + " " + problem->words);
      case mpa::json::JsonProblem::Kind::duplicate_member:
        return refuse(std::string(what) + " repeats a member name");
      case mpa::json::JsonProblem::Kind::not_json:
        break;
    }
    return refuse(std::string(what) + " is not JSON (" + problem->words + ")");
  }
  if (!doc.IsObject()) return refuse(std::string(what) + " is not a JSON object");
  return doc;
}

std::string_view string_member(const rapidjson::Value& object, const char* name) {
  const rapidjson::Value* value = json::find(object, name);
  if (value == nullptr || !value->IsString()) return {};
  return json::view(*value);
}

Status check_rs256_header(const rapidjson::Value& header, const HeaderRules& rules) {
  const rapidjson::Value* alg = json::find(header, "alg");
  if (alg == nullptr || !alg->IsString()) {
    return refuse("the header has no alg; " + std::string(rules.signer) + " signs with RS256");
  }
  const std::string_view name = json::view(*alg);
  if (name != "RS256") {
    return refuse("alg \"" + printable(name, 32) + "\" is refused; only RS256 (" +
                  std::string(rules.signer) + "'s algorithm) is accepted");
  }
  for (const char* parameter : kRefusedHeaderParameters) {
    if (json::find(header, parameter) != nullptr) {
      return refuse(std::string("the token tries to bring its own key (") + parameter +
                    "); only " + std::string(rules.trusted_keys) + " are trusted");
    }
  }
  if (json::find(header, "typ") == nullptr) return {};
  const std::string_view typ = string_member(header, "typ");
  for (std::string_view accepted : rules.accepted_typ) {
    if (typ == accepted) return {};
  }
  std::string expected;
  for (std::string_view accepted : rules.accepted_typ) {
    expected += (expected.empty() ? "\"" : " or \"") + std::string(accepted) + "\"";
  }
  return refuse("typ must be " + expected + " when present, found \"" + printable(typ, 32) +
                "\"");
}

bool rs256_signature_verifies(EVP_PKEY* key, const CompactJws& jws) {
  Handle<EVP_MD_CTX> ctx(EVP_MD_CTX_new());
  const bool ok =
      ctx && key && EVP_DigestVerifyInit(ctx.get(), nullptr, EVP_sha256(), nullptr, key) == 1 &&
      EVP_DigestVerify(ctx.get(), reinterpret_cast<const unsigned char*>(jws.signature.data()),
                       jws.signature.size(),
                       reinterpret_cast<const unsigned char*>(jws.signing_input.data()),
                       jws.signing_input.size()) == 1;
  // A failed verification leaves reasons on this thread's queue; they are
  // not errors of anyone who calls OpenSSL next.
  ERR_clear_error();
  return ok;
}

}  // namespace mpa::verify
