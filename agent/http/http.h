// The few HTTP calls the agent makes, through libcurl. TLS is always
// verified; ca_file only adds trust.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "common/result.h"

namespace mpa {

// Largest response body we read; more is an error, not a truncation.
inline constexpr std::size_t kMaxHttpResponseBytes = 256 * 1024;

struct HttpOptions {
  std::optional<std::string> ca_file;
  std::optional<std::string> proxy;   // else https_proxy / no_proxy from the environment
  int connect_timeout_seconds = 5;
  int timeout_seconds = 15;
};

struct HttpResponse {
  long status = 0;
  std::string body;
  std::optional<std::string> content_type;
  std::optional<std::string> retry_after;   // raw Retry-After header
  std::optional<std::string> www_authenticate;  // raw; RFC 6750 §3 puts a 401's reason here
};

// Network failures (DNS, connect, TLS, time-out, oversize) are `unavailable`
// with curl's words; any HTTP status is a successful Result. (Form posts,
// the exchanges', go through AsyncHttp::post_form.)
Result<HttpResponse> http_get(const std::string& url, const std::vector<std::string>& headers,
                              const HttpOptions& options);

// A proxy URL as messages and logs may show it: scheme, host and port. The
// configured value may carry a user and password, which must not reach a
// tenant or the log.
std::string proxy_for_messages(const std::string& proxy);

// "a=b&c=d" with RFC 3986 percent-encoding of values.
std::string form_encode(const std::vector<std::pair<std::string, std::string>>& fields);

}  // namespace mpa
