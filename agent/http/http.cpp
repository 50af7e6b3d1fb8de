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
