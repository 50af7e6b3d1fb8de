#include "agent/http/transfer.h"

#include <string_view>

#include "common/text.h"
#include "common/version.h"

namespace mpa {
namespace {

const std::string kUserAgent = std::string("maskinporten-agent/") + kVersion;
// Content-Type, Retry-After and WWW-Authenticate are a few dozen bytes; a
// longer value is not something we act on, so it is dropped rather than kept.
constexpr std::size_t kMaxCapturedHeaderBytes = 512;
// All response headers together; an endless header stream is cut off.
constexpr std::size_t kMaxResponseHeaderBytes = 64 * 1024;
// Idle connections are probed, so a peer that went away is noticed.
constexpr long kKeepAliveIdleSeconds = 30;

std::size_t on_body(char* data, std::size_t size, std::size_t count, void* user) {
  auto* received = static_cast<Transfer::Received*>(user);
  const std::size_t n = size * count;
  if (received->response.body.size() + n > kMaxHttpResponseBytes) {
    received->body_too_large = true;
    return 0;  // aborts the transfer with CURLE_WRITE_ERROR
  }
  received->response.body.append(data, n);
  return n;
}

std::size_t on_header(char* data, std::size_t size, std::size_t count, void* user) {
  auto* received = static_cast<Transfer::Received*>(user);
  const std::size_t n = size * count;
  received->header_bytes += n;
  if (received->header_bytes > kMaxResponseHeaderBytes) {
    received->headers_too_large = true;
    return 0;
  }
  HttpResponse& response = received->response;
  const std::string_view line(data, n);
  if (starts_with_ignoring_case(line, "HTTP/")) {
    // A new response (after a proxy's CONNECT or a 100 Continue): only the
    // last one's headers count.
    response.content_type.reset();
    response.retry_after.reset();
    response.www_authenticate.reset();
    return n;
  }
  const auto colon = line.find(':');
  if (colon == std::string_view::npos) return n;
  const std::string_view name = trim_whitespace(line.substr(0, colon));
  const std::string_view value = trim_whitespace(line.substr(colon + 1));
  if (value.size() > kMaxCapturedHeaderBytes) return n;
  const auto is = [&](std::string_view wanted) {
    return name.size() == wanted.size() && starts_with_ignoring_case(name, wanted);
  };
  if (is("Content-Type")) response.content_type = std::string(value);
  if (is("Retry-After")) response.retry_after = std::string(value);
  if (is("WWW-Authenticate")) response.www_authenticate = std::string(value);
  return n;
}

// Collects the first failing curl_easy_setopt, so that a security option
// that did not take (TLS verification, protocols) stops the request.
class CurlOptions {
 public:
  explicit CurlOptions(CURL* handle) : handle_(handle) {}
  template <class T>
  CurlOptions& set(CURLoption option, T value) {
    if (first_error_ == CURLE_OK) first_error_ = curl_easy_setopt(handle_, option, value);
    return *this;
  }
  CURLcode result() const { return first_error_; }

 private:
  CURL* handle_;
  CURLcode first_error_ = CURLE_OK;
};

Status check_request(const HttpRequest& request) {
  if (!starts_with_ignoring_case(request.url, "https://")) {
    return make_error(ErrorCode::invalid_config,
                      "refusing " + request.url + ": only https:// URLs are used");
  }
  const auto& proxy = request.options.proxy;
  if (proxy && !starts_with_ignoring_case(*proxy, "http://") &&
      !starts_with_ignoring_case(*proxy, "https://")) {
    return make_error(ErrorCode::invalid_config,
                      "proxy " + proxy_for_messages(*proxy) + " is not an http:// or https:// URL");
  }
  return {};
}

Result<Handle<curl_slist>> header_list(const std::vector<std::string>& headers) {
  Handle<curl_slist> list;
  for (const std::string& header : headers) {
    curl_slist* longer = curl_slist_append(list.get(), header.c_str());
    if (longer == nullptr) return make_error(ErrorCode::internal, "out of memory for headers");
    list.release();
    list.reset(longer);
  }
  return list;
}

// A certificate that does not verify is a matter of configuration, not
// of the network: say where trust comes from.
std::string tls_trust_hint(const HttpOptions& options) {
  std::string hint = options.ca_file
                         ? " (trusted: the system's CAs and ca_file " + *options.ca_file + ")"
                         : " (trusted: the system's CAs; a private CA needs ca_file)";
  if (options.proxy) {
    hint += "; through proxy " + proxy_for_messages(*options.proxy) +
            ", which must not intercept TLS";
  } else {
    hint += "; a TLS-intercepting proxy needs its CA in ca_file";
  }
  return hint;
}

}  // namespace

Status init_curl_once() {
  // curl_global_init is not thread-safe; a function-local static is.
  static const CURLcode code = curl_global_init(CURL_GLOBAL_DEFAULT);
  if (code != CURLE_OK) {
    return make_error(ErrorCode::internal,
                      std::string("libcurl failed to initialise: ") + curl_easy_strerror(code));
  }
  return {};
}

HttpRequest form_post_request(const std::string& url, const std::string& form_body,
                              const HttpOptions& options) {
  // "Expect:" stops libcurl's 100-continue round trip for bodies over 1 KiB
  // (a grant with an x5c chain is several KiB).
  return HttpRequest{url,
                     {"Content-Type: application/x-www-form-urlencoded",
                      "Accept: application/json", "Expect:"},
                     form_body,
                     options};
}

HttpRequest get_request(const std::string& url, const std::vector<std::string>& headers,
                        const HttpOptions& options) {
  return HttpRequest{url, headers, std::nullopt, options};
}

Result<std::unique_ptr<Transfer>> Transfer::make(HttpRequest request,
                                                 std::shared_ptr<const TrustStore> trust) {
  MPA_RETURN_IF_ERROR(init_curl_once());
  MPA_RETURN_IF_ERROR(check_request(request));
  std::unique_ptr<Transfer> transfer(new Transfer(std::move(request), std::move(trust)));
  MPA_RETURN_IF_ERROR(transfer->configure());
  return transfer;
}

Status Transfer::configure() {
  MPA_ASSIGN_OR_RETURN(headers_, header_list(request_.headers));
  handle_.reset(curl_easy_init());
  if (!handle_) return make_error(ErrorCode::internal, "libcurl could not make a handle");
  const HttpOptions& options = request_.options;
  CurlOptions set(handle_.get());
  set.set(CURLOPT_URL, request_.url.c_str())
      .set(CURLOPT_ERRORBUFFER, error_words_)
      .set(CURLOPT_NOSIGNAL, 1L)  // several threads; no SIGALRM for DNS time-outs
      .set(CURLOPT_PROTOCOLS_STR, "https")
      .set(CURLOPT_FOLLOWLOCATION, 0L)
      .set(CURLOPT_SSL_VERIFYPEER, 1L)
      .set(CURLOPT_SSL_VERIFYHOST, 2L)
      // Trust comes only from the TrustStore, loaded once; libcurl reads no
      // bundle of its own per connection.
      .set(CURLOPT_CAINFO, static_cast<char*>(nullptr))
      .set(CURLOPT_CAPATH, static_cast<char*>(nullptr))
      .set(CURLOPT_SSL_CTX_FUNCTION, &TrustStore::install)
      .set(CURLOPT_SSL_CTX_DATA, static_cast<void*>(trust_->get()))
      .set(CURLOPT_TCP_KEEPALIVE, 1L)
      .set(CURLOPT_TCP_KEEPIDLE, kKeepAliveIdleSeconds)
      .set(CURLOPT_CONNECTTIMEOUT, static_cast<long>(options.connect_timeout_seconds))
      .set(CURLOPT_TIMEOUT, static_cast<long>(options.timeout_seconds))
      .set(CURLOPT_MAXFILESIZE_LARGE, static_cast<curl_off_t>(kMaxHttpResponseBytes))
      .set(CURLOPT_USERAGENT, kUserAgent.c_str())
      .set(CURLOPT_HTTPHEADER, headers_.get())
      .set(CURLOPT_WRITEFUNCTION, on_body)
      .set(CURLOPT_WRITEDATA, &received_)
      .set(CURLOPT_HEADERFUNCTION, on_header)
      .set(CURLOPT_HEADERDATA, &received_)
      .set(CURLOPT_PRIVATE, static_cast<void*>(this));
  if (options.proxy) set.set(CURLOPT_PROXY, options.proxy->c_str());
  if (request_.form_body) {
    set.set(CURLOPT_POSTFIELDSIZE_LARGE, static_cast<curl_off_t>(request_.form_body->size()))
        .set(CURLOPT_POSTFIELDS, request_.form_body->c_str());
  }
  if (set.result() != CURLE_OK) {
    return make_error(ErrorCode::internal, std::string("libcurl refused an option: ") +
                                               curl_easy_strerror(set.result()));
  }
  return {};
}

Result<HttpResponse> Transfer::finish(CURLcode code) {
  const std::string& url = request_.url;
  if (received_.body_too_large || code == CURLE_FILESIZE_EXCEEDED) {
    return make_error(ErrorCode::unavailable, url + ": response larger than " +
                                                  std::to_string(kMaxHttpResponseBytes / 1024) +
                                                  " KiB");
  }
  if (received_.headers_too_large) {
    return make_error(ErrorCode::unavailable, url + ": response headers larger than " +
                                                  std::to_string(kMaxResponseHeaderBytes / 1024) +
                                                  " KiB");
  }
  if (code != CURLE_OK) {
    const std::string words = error_words_[0] != '\0' ? error_words_ : curl_easy_strerror(code);
    Error error = make_error(ErrorCode::unavailable, "cannot reach " + url + ": " + words);
    if (code == CURLE_PEER_FAILED_VERIFICATION || code == CURLE_SSL_CACERT_BADFILE) {
      error.message += tls_trust_hint(request_.options);
      error.reason = ErrorReason::tls_untrusted;
    }
    return error;
  }
  curl_easy_getinfo(handle_.get(), CURLINFO_RESPONSE_CODE, &received_.response.status);
  return std::move(received_.response);
}

}  // namespace mpa
