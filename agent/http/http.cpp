#include "agent/http/http.h"

#include <algorithm>
#include <cctype>
#include <string_view>

#include "agent/http/curl_handles.h"
#include "common/file_read.h"
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
// A PEM bundle of extra trust anchors; real ones are a few KiB.
constexpr std::size_t kMaxCaFileBytes = 1024 * 1024;
// Debian's ca-certificates bundle is ~220 KiB; room for growth.
constexpr std::size_t kMaxSystemBundleBytes = 8 * 1024 * 1024;

Status init_curl_once() {
  // curl_global_init is not thread-safe; a function-local static is.
  static const CURLcode code = curl_global_init(CURL_GLOBAL_DEFAULT);
  if (code != CURLE_OK) {
    return make_error(ErrorCode::internal,
                      std::string("libcurl failed to initialise: ") + curl_easy_strerror(code));
  }
  return {};
}

// CA bundles are public material and often symlinks (/etc/ssl/certs).
Result<std::string> read_bounded_file(const std::string& path, std::size_t max_bytes,
                                      const std::string& what) {
  auto read = read_file(path, {max_bytes, FileModeCheck::none, true});
  if (read) return std::move(read.bytes());
  const FileProblem& problem = read.problem();
  if (problem.kind == FileProblem::Kind::too_large) {
    return make_error(ErrorCode::invalid_config, what + " " + path + " is larger than " +
                                                     std::to_string(max_bytes / 1024) + " KiB");
  }
  const std::string why = problem.kind == FileProblem::Kind::not_regular_file
                              ? std::string("not a regular file")
                              : errno_text(problem.error_number);
  return make_error(ErrorCode::invalid_config, "cannot read " + what + " " + path + ": " + why);
}

// The trust set for a request with ca_file: the system bundle plus ca_file.
// CURLOPT_CAINFO would *replace* the system bundle, and adding to the
// X509_STORE from CURLOPT_SSL_CTX_FUNCTION depends on whether this libcurl
// fills (or swaps in a cached) store before or after the callback, which
// has changed between releases. A CURLOPT_CAINFO_BLOB holding both is
// explicit and version-proof; it replaces only CAINFO, so a default CAPATH
// stays in force as well.
Result<std::string> trust_bundle_with(const std::string& ca_file) {
  auto extra = read_bounded_file(ca_file, kMaxCaFileBytes, "ca_file");
  if (!extra) return std::move(extra).error();
  std::string bundle;
  const curl_version_info_data* info = curl_version_info(CURLVERSION_NOW);
  if (info->age >= CURLVERSION_SEVENTH && info->cainfo != nullptr) {
    // A missing system bundle only narrows trust; ca_file alone still works.
    auto system = read_bounded_file(info->cainfo, kMaxSystemBundleBytes, "system CA bundle");
    if (system) bundle = std::move(*system);
  }
  bundle += '\n';
  bundle += *extra;
  return bundle;
}

// What the callbacks of one transfer write into.
struct Transfer {
  HttpResponse response;
  std::size_t header_bytes = 0;
  bool body_too_large = false;
  bool headers_too_large = false;
};

std::size_t on_body(char* data, std::size_t size, std::size_t count, void* user) {
  auto* transfer = static_cast<Transfer*>(user);
  const std::size_t n = size * count;
  if (transfer->response.body.size() + n > kMaxHttpResponseBytes) {
    transfer->body_too_large = true;
    return 0;  // aborts the transfer with CURLE_WRITE_ERROR
  }
  transfer->response.body.append(data, n);
  return n;
}

std::size_t on_header(char* data, std::size_t size, std::size_t count, void* user) {
  auto* transfer = static_cast<Transfer*>(user);
  const std::size_t n = size * count;
  transfer->header_bytes += n;
  if (transfer->header_bytes > kMaxResponseHeaderBytes) {
    transfer->headers_too_large = true;
    return 0;
  }
  const std::string_view line(data, n);
  if (starts_with_ignoring_case(line, "HTTP/")) {
    // A new response (after a proxy's CONNECT or a 100 Continue): only the
    // last one's headers count.
    transfer->response.content_type.reset();
    transfer->response.retry_after.reset();
    transfer->response.www_authenticate.reset();
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
  if (is("Content-Type")) transfer->response.content_type = std::string(value);
  if (is("Retry-After")) transfer->response.retry_after = std::string(value);
  if (is("WWW-Authenticate")) transfer->response.www_authenticate = std::string(value);
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

Status check_url(const std::string& url) {
  if (!starts_with_ignoring_case(url, "https://")) {
    return make_error(ErrorCode::invalid_config,
                      "refusing " + url + ": only https:// URLs are used");
  }
  return {};
}

Status check_proxy(const std::string& proxy) {
  if (!starts_with_ignoring_case(proxy, "http://") && !starts_with_ignoring_case(proxy, "https://")) {
    return make_error(ErrorCode::invalid_config,
                      "proxy " + proxy + " is not an http:// or https:// URL");
  }
  return {};
}

Status check_request(const std::string& url, const HttpOptions& options) {
  MPA_RETURN_IF_ERROR(init_curl_once());
  MPA_RETURN_IF_ERROR(check_url(url));
  if (options.proxy) MPA_RETURN_IF_ERROR(check_proxy(*options.proxy));
  return {};
}

// One request's inputs and the buffers libcurl writes into; it outlives
// the handle that points at them.
struct Exchange {
  Exchange(const std::string& u, curl_slist* h, const std::string* f, const HttpOptions& o)
      : url(u), headers(h), form_body(f), options(o) {}

  const std::string& url;
  curl_slist* headers;
  const std::string* form_body;
  const HttpOptions& options;
  std::string bundle;  // system CAs + ca_file, when ca_file is set
  curl_blob blob{};
  Transfer transfer;
  char error_words[CURL_ERROR_SIZE] = {};
};

Status configure(CURL* handle, Exchange& x) {
  x.blob = curl_blob{x.bundle.data(), x.bundle.size(), CURL_BLOB_COPY};
  CurlOptions set(handle);
  set.set(CURLOPT_URL, x.url.c_str())
      .set(CURLOPT_ERRORBUFFER, x.error_words)
      .set(CURLOPT_NOSIGNAL, 1L)  // several threads; no SIGALRM for DNS time-outs
      .set(CURLOPT_PROTOCOLS_STR, "https")
      .set(CURLOPT_FOLLOWLOCATION, 0L)
      .set(CURLOPT_SSL_VERIFYPEER, 1L)
      .set(CURLOPT_SSL_VERIFYHOST, 2L)
      .set(CURLOPT_CONNECTTIMEOUT, static_cast<long>(x.options.connect_timeout_seconds))
      .set(CURLOPT_TIMEOUT, static_cast<long>(x.options.timeout_seconds))
      .set(CURLOPT_MAXFILESIZE_LARGE, static_cast<curl_off_t>(kMaxHttpResponseBytes))
      .set(CURLOPT_USERAGENT, kUserAgent.c_str())
      .set(CURLOPT_HTTPHEADER, x.headers)
      .set(CURLOPT_WRITEFUNCTION, on_body)
      .set(CURLOPT_WRITEDATA, &x.transfer)
      .set(CURLOPT_HEADERFUNCTION, on_header)
      .set(CURLOPT_HEADERDATA, &x.transfer);
  if (x.options.proxy) set.set(CURLOPT_PROXY, x.options.proxy->c_str());
  if (x.options.ca_file) set.set(CURLOPT_CAINFO_BLOB, &x.blob);
  if (x.form_body) {
    set.set(CURLOPT_POSTFIELDSIZE_LARGE, static_cast<curl_off_t>(x.form_body->size()))
        .set(CURLOPT_COPYPOSTFIELDS, x.form_body->c_str());
  }
  if (set.result() != CURLE_OK) {
    return make_error(ErrorCode::internal, std::string("libcurl refused an option: ") +
                                               curl_easy_strerror(set.result()));
  }
  return {};
}

Status transfer_status(CURLcode code, const Exchange& x) {
  if (x.transfer.body_too_large || code == CURLE_FILESIZE_EXCEEDED) {
    return make_error(
        ErrorCode::unavailable,
        x.url + ": response larger than " + std::to_string(kMaxHttpResponseBytes / 1024) + " KiB");
  }
  if (x.transfer.headers_too_large) {
    return make_error(ErrorCode::unavailable, x.url + ": response headers larger than " +
                                                  std::to_string(kMaxResponseHeaderBytes / 1024) +
                                                  " KiB");
  }
  if (code != CURLE_OK) {
    const std::string words = x.error_words[0] != '\0' ? x.error_words : curl_easy_strerror(code);
    return make_error(ErrorCode::unavailable, "cannot reach " + x.url + ": " + words);
  }
  return {};
}

Result<HttpResponse> perform(const std::string& url, curl_slist* headers,
                             const std::string* form_body, const HttpOptions& options) {
  MPA_RETURN_IF_ERROR(check_request(url, options));
  Exchange x(url, headers, form_body, options);
  if (options.ca_file) {
    MPA_ASSIGN_OR_RETURN(x.bundle, trust_bundle_with(*options.ca_file));
  }
  Handle<CURL> handle(curl_easy_init());
  if (!handle) return make_error(ErrorCode::internal, "libcurl could not make a handle");
  MPA_RETURN_IF_ERROR(configure(handle.get(), x));
  MPA_RETURN_IF_ERROR(transfer_status(curl_easy_perform(handle.get()), x));
  curl_easy_getinfo(handle.get(), CURLINFO_RESPONSE_CODE, &x.transfer.response.status);
  return std::move(x.transfer.response);
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

}  // namespace

Result<HttpResponse> http_post_form(const std::string& url, const std::string& form_body,
                                    const HttpOptions& options) {
  // "Expect:" stops libcurl's 100-continue round trip for bodies over 1 KiB
  // (a grant with an x5c chain is several KiB).
  MPA_ASSIGN_OR_RETURN(const Handle<curl_slist> list,
                       header_list({"Content-Type: application/x-www-form-urlencoded",
                                    "Accept: application/json", "Expect:"}));
  return perform(url, list.get(), &form_body, options);
}

Result<HttpResponse> http_get(const std::string& url, const std::vector<std::string>& headers,
                              const HttpOptions& options) {
  MPA_ASSIGN_OR_RETURN(const Handle<curl_slist> list, header_list(headers));
  return perform(url, list.get(), nullptr, options);
}

std::string form_encode(const std::vector<std::pair<std::string, std::string>>& fields) {
  // RFC 3986 §2.3 unreserved characters pass; everything else is %XX.
  const auto encode = [](std::string& out, const std::string& text) {
    static constexpr char kHex[] = "0123456789ABCDEF";
    for (const char c : text) {
      const auto byte = static_cast<unsigned char>(c);
      const bool unreserved = (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') ||
                              (c >= '0' && c <= '9') || c == '-' || c == '.' || c == '_' ||
                              c == '~';
      if (unreserved) {
        out += c;
      } else {
        out += '%';
        out += kHex[byte >> 4];
        out += kHex[byte & 0x0F];
      }
    }
  };
  std::string out;
  for (const auto& [name, value] : fields) {
    if (!out.empty()) out += '&';
    encode(out, name);
    out += '=';
    encode(out, value);
  }
  return out;
}

}  // namespace mpa
