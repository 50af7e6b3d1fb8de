// One HTTPS request's libcurl handle and everything it points at, set up
// the same way for the blocking calls (http.h) and the multi loop
// (async_http.h): https only, TLS verified against a TrustStore, no
// redirects, bounded headers and body. Private to agent/http/.
#pragma once

#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "agent/http/curl_handles.h"
#include "agent/http/http.h"
#include "agent/http/trust_store.h"

namespace mpa {

struct HttpRequest {
  std::string url;
  std::vector<std::string> headers;
  std::optional<std::string> form_body;  // set: a POST of this urlencoded body
  HttpOptions options;
};

HttpRequest form_post_request(const std::string& url, const std::string& form_body,
                              const HttpOptions& options);
HttpRequest get_request(const std::string& url, const std::vector<std::string>& headers,
                        const HttpOptions& options);

class Transfer {
 public:
  // Errors: invalid_config (not https, a bad proxy), internal (libcurl).
  static Result<std::unique_ptr<Transfer>> make(HttpRequest request,
                                                std::shared_ptr<const TrustStore> trust);
  Transfer(const Transfer&) = delete;
  Transfer& operator=(const Transfer&) = delete;

  CURL* handle() const { return handle_.get(); }
  // The answer once libcurl is done with `code`: network failures,
  // oversize and time-outs are `unavailable` with curl's words.
  Result<HttpResponse> finish(CURLcode code);

  // What libcurl's callbacks write into.
  struct Received {
    HttpResponse response;
    std::size_t header_bytes = 0;
    bool body_too_large = false;
    bool headers_too_large = false;
  };

 private:
  Transfer(HttpRequest request, std::shared_ptr<const TrustStore> trust)
      : request_(std::move(request)), trust_(std::move(trust)) {}
  Status configure();

  HttpRequest request_;
  std::shared_ptr<const TrustStore> trust_;
  Handle<curl_slist> headers_;
  Handle<CURL> handle_;
  Received received_;
  char error_words_[CURL_ERROR_SIZE] = {};
};

// libcurl's global initialisation, once per process.
Status init_curl_once();

}  // namespace mpa
