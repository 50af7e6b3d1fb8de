// The token endpoint: configured, or discovered from the issuer's RFC 8414
// metadata once per client and shared by every exchange.
#include <rapidjson/document.h>

#include <mutex>
#include <string>
#include <vector>

#include "agent/maskinporten/answer_checks.h"
#include "agent/maskinporten/endpoint.h"
#include "agent/maskinporten/maskinporten.h"
#include "common/json_text.h"
#include "common/text.h"

namespace mpa {
namespace {

using maskinporten_detail::describe_body;
using maskinporten_detail::is_https_url;
using maskinporten_detail::is_token_text;
using maskinporten_detail::kMaxUrlBytes;

constexpr const char* kMetadataPath = ".well-known/oauth-authorization-server";

}  // namespace

std::string authorization_server_metadata_url(const std::string& issuer) {
  return issuer + kMetadataPath;
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

std::string MaskinportenClient::token_endpoint() const {
  std::lock_guard lock(endpoint_->mutex);
  return endpoint_->url;
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
  const std::string url = authorization_server_metadata_url(client_.issuer);
  io_.get(url, [settle, url, issuer = client_.issuer](Result<HttpResponse> response) {
    if (!response) {
      settle(std::move(response).error().with_context("discovery"));
      return;
    }
    settle(parse_authorization_server_metadata(*response, issuer, url));
  });
}

}  // namespace mpa
