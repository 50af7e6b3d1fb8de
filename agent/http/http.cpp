#include "agent/http/http.h"

#include "agent/http/transfer.h"

namespace mpa {
namespace {

Result<HttpResponse> perform(HttpRequest request) {
  MPA_ASSIGN_OR_RETURN(auto trust, TrustStore::load(request.options.ca_file));
  MPA_ASSIGN_OR_RETURN(auto transfer, Transfer::make(std::move(request), std::move(trust)));
  return transfer->finish(curl_easy_perform(transfer->handle()));
}

}  // namespace

Result<HttpResponse> http_get(const std::string& url, const std::vector<std::string>& headers,
                              const HttpOptions& options) {
  return perform(get_request(url, headers, options));
}

std::string proxy_for_messages(const std::string& proxy) {
  const auto scheme_end = proxy.find("://");
  const std::size_t authority_begin = scheme_end == std::string::npos ? 0 : scheme_end + 3;
  const auto authority_end = proxy.find_first_of("/?#", authority_begin);
  std::string authority = proxy.substr(authority_begin, authority_end == std::string::npos
                                                            ? std::string::npos
                                                            : authority_end - authority_begin);
  // The user information ends at the last '@' (a password may hold one).
  const auto at = authority.rfind('@');
  if (at != std::string::npos) authority.erase(0, at + 1);
  return proxy.substr(0, authority_begin) + authority;
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
