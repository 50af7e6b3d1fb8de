// The issuer's keys over verified TLS: its RFC 8414 metadata, then jwks_uri.
#include "agent/http/http.h"
#include "agent/verify/jws.h"
#include "agent/verify/key_source.h"
#include "common/json_text.h"
#include "common/text.h"

namespace mpa::verify {
namespace {

constexpr std::string_view kMetadataPath = ".well-known/oauth-authorization-server";

Result<std::string> get_body(const std::string& url, const HttpOptions& options,
                             std::string_view what) {
  MPA_ASSIGN_OR_RETURN(HttpResponse response, http_get(url, {"Accept: application/json"}, options));
  if (response.status != 200) {
    return make_error(ErrorCode::unavailable, "GET " + url + " (" + std::string(what) +
                                                  ") answered HTTP " +
                                                  std::to_string(response.status));
  }
  return std::move(response.body);
}

Error bad_metadata(const std::string& url, const std::string& words) {
  return make_error(ErrorCode::invalid_config, url + ": " + words);
}

Result<std::string> jwks_uri_of(const std::string& issuer, const HttpOptions& options) {
  // RFC 8414 §3 puts the well-known path after the issuer's path; Digdir's
  // issuers end in "/", so the metadata is <issuer>.well-known/...
  const std::string url =
      issuer + (issuer.ends_with('/') ? "" : "/") + std::string(kMetadataPath);
  MPA_ASSIGN_OR_RETURN(const std::string body, get_body(url, options, "the issuer's metadata"));
  auto doc = parse_strict_object(body, "the metadata");
  if (!doc) return bad_metadata(url, doc.error().message);
  const std::string_view said = string_member(*doc, "issuer");
  if (said != issuer) {
    return bad_metadata(url, "the metadata names issuer " + quoted(said, 256) + ", not " +
                                 quoted(issuer, 256) + " (RFC 8414 §3.3)");
  }
  const std::string_view jwks_uri = string_member(*doc, "jwks_uri");
  if (!starts_with_ignoring_case(jwks_uri, "https://")) {
    return bad_metadata(url, "the metadata has no https jwks_uri");
  }
  return std::string(jwks_uri);
}

}  // namespace

CachedJwks::Fetch issuer_jwks_fetch(const std::string& issuer, const HttpOptions& options) {
  return [issuer, options]() -> Result<std::string> {
    MPA_ASSIGN_OR_RETURN(const std::string jwks_uri, jwks_uri_of(issuer, options));
    return get_body(jwks_uri, options, "the issuer's keys");
  };
}

}  // namespace mpa::verify
