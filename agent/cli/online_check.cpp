#include "agent/cli/online_check.h"

#include <cstdio>
#include <functional>
#include <future>
#include <memory>
#include <string>
#include <string_view>

#include "agent/cli/args.h"
#include "agent/http/async_http.h"
#include "agent/http/http.h"
#include "agent/maskinporten/maskinporten.h"
#include "common/clock.h"
#include "common/grant_request.h"

namespace mpa::cli {
namespace {

using Answer = Result<HttpResponse>;

// Waits for the one answer of an AsyncHttp request.
Answer wait_for_answer(const std::function<void(AsyncHttp::Done)>& start) {
  auto promise = std::make_shared<std::promise<Answer>>();
  auto answer = promise->get_future();
  start([promise](Answer response) { promise->set_value(std::move(response)); });
  return answer.get();
}

// "host[:port]" of an https:// URL (the configuration allows no other).
std::string host_of(const std::string& url) {
  const std::string rest = url.substr(std::string_view("https://").size());
  return rest.substr(0, rest.find('/'));
}

std::string trusted_words(const ClientConfig& client) {
  std::string words = client.ca_file ? "the system's CAs and ca_file " + *client.ca_file
                                     : "the system's CAs";
  if (client.proxy) words += ", through proxy " + proxy_for_messages(*client.proxy);
  return words;
}

// One client's checks, each printing its `ok:` line when it passes.
class ClientCheck {
 public:
  ClientCheck(const Engine& engine, const ClientConfig& client)
      : engine_(engine), client_(client), http_(engine.http(client)), options_(http_options(client)) {}

  Status run() {
    if (!http_) return make_error(ErrorCode::internal, "the engine has no HTTP lane for it");
    MPA_RETURN_IF_ERROR(tls());
    MPA_RETURN_IF_ERROR(discovery());
    return token_round_trip();
  }

 private:
  Answer get(const std::string& url) const {
    return wait_for_answer([&](AsyncHttp::Done done) {
      http_->get(url, {"Accept: application/json"}, options_, std::move(done));
    });
  }

  Answer post_form(const std::string& url, const std::string& form) const {
    return wait_for_answer(
        [&](AsyncHttp::Done done) { http_->post_form(url, form, options_, std::move(done)); });
  }

  void passed(const std::string& words) const {
    std::printf("ok: client \"%s\": %s\n", client_.name.c_str(), words.c_str());
    std::fflush(stdout);
  }

  // Any HTTP answer means the handshake verified; the transfer's own error
  // says where trust comes from (ca_file, the proxy) when it did not.
  Status tls() {
    const std::string url = client_.token_endpoint.empty() ? client_.issuer : client_.token_endpoint;
    const std::string host = host_of(url);
    if (auto answer = get(url); !answer) return answer.error().with_context("TLS to " + host);
    passed("TLS to " + host + " verifies (trusted: " + trusted_words(client_) + ")");
    return {};
  }

  Status discovery() {
    const std::string url = authorization_server_metadata_url(client_.issuer);
    auto answer = get(url);
    if (!answer) return answer.error().with_context("discovery");
    auto endpoint = parse_authorization_server_metadata(*answer, client_.issuer, url);
    if (!endpoint) return endpoint.error();
    if (!client_.discovery && *endpoint != client_.token_endpoint) {
      return make_error(ErrorCode::invalid_config,
                        "discovery at " + url + " gives token_endpoint \"" + *endpoint +
                            "\", not the configured \"" + client_.token_endpoint + "\"");
    }
    token_endpoint_ = *endpoint;
    passed("discovery at " + url + " names issuer " + client_.issuer + " and token endpoint " +
           token_endpoint_ + (client_.discovery ? " (used: discovery = true)" : ", as configured"));
    return {};
  }

  Status token_round_trip() const {
    GrantRequest request;
    request.scopes = {kOnlineCheckScope};
    auto grant = engine_.make_grant(client_, request);
    if (!grant) return grant.error().with_context("/token round trip: signing the grant");
    auto answer = post_form(token_endpoint_, token_request_form(grant->jwt));
    if (!answer) return answer.error().with_context("/token round trip");
    auto token = parse_token_response(*answer, epoch_seconds_now());
    if (token) {
      return make_error(ErrorCode::invalid_config,
                        "/token round trip: " + token_endpoint_ + " granted the reserved scope " +
                            kOnlineCheckScope +
                            ", which Maskinporten gives no client; is it Maskinporten? (the "
                            "token was dropped, not printed)");
    }
    if (token.error().code != ErrorCode::invalid_scope) {
      return token.error().with_context("/token round trip");
    }
    passed("/token at " + token_endpoint_ + " answered invalid_scope for the reserved scope " +
           kOnlineCheckScope + ", as expected: it accepted the grant's certificate, signature, " +
           "client_id and audience");
    return {};
  }

  const Engine& engine_;
  const ClientConfig& client_;
  std::shared_ptr<AsyncHttp> http_;
  HttpOptions options_;
  std::string token_endpoint_;  // from discovery, checked against the configuration
};

}  // namespace

Config with_online_check_scope(Config config) {
  for (ClientConfig& client : config.clients) client.scopes.push_back(kOnlineCheckScope);
  return config;
}

bool check_online(const Engine& engine, const std::vector<const ClientConfig*>& clients) {
  bool all_passed = true;
  for (const ClientConfig* client : clients) {
    const Status checked = ClientCheck(engine, *client).run();
    if (!checked) {
      report_failure(checked.error().with_context("client \"" + client->name + "\""));
      all_passed = false;
    }
  }
  return all_passed;
}

}  // namespace mpa::cli
