// RFC 7512 PKCS#11 URIs, restricted to what the agent needs to name one
// token and one key on it.
//
// Decisions beyond the RFC:
// - The query part (`?...`) is refused as a whole: `pin-value` and
//   `pin-source` would put the PIN where the configuration keeps it out
//   (DESIGN.md), and `module-name` / `module-path` would be a second place
//   for what `[pkcs11] module` says. Each gets its own message.
// - Path attributes the RFC defines but the agent does not use
//   (library-*, slot-*) are refused, not ignored, so that a URI never
//   selects less than it seems to.
// - Attribute names are case-sensitive; the scheme is not (RFC 3986 §3.1).
#include <algorithm>
#include <cctype>
#include <string>

#include "common/text.h"
#include "pkcs11/pkcs11.h"

namespace mpa::pkcs11 {
namespace {

// A configuration line, not a document: longer is a mistake.
constexpr std::size_t kMaxUriBytes = 4096;
// How much of the URI a message quotes.
constexpr std::size_t kMaxQuotedUriBytes = 200;

// Quotes the URI for a person, but never a query part or a pin-value:
// messages end up in logs, and the PIN must not.
Error uri_error(std::string_view uri, const std::string& what) {
  const std::string_view shown = uri.substr(0, std::min<std::size_t>(uri.find('?'), kMaxQuotedUriBytes));
  if (shown.find("pin-value") != std::string_view::npos) {
    return make_error(ErrorCode::invalid_config, "PKCS#11 URI: " + what);
  }
  return make_error(ErrorCode::invalid_config,
                    "PKCS#11 URI " + quoted(shown, kMaxQuotedUriBytes) + ": " + what);
}

int hex_value(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

// RFC 7512 §2.3 pk11-pchar without pct-encoded: unreserved and
// pk11-res-avail (with "&", allowed in the path).
bool is_plain_pchar(char c) {
  if (std::isalnum(static_cast<unsigned char>(c)) != 0) return true;
  return std::string_view("-._~:[]@!$'()*+,=&").find(c) != std::string_view::npos;
}

std::string describe_char(char c) {
  const auto u = static_cast<unsigned char>(c);
  if (u == ' ') return "a space (write it as %20)";
  if (u < 0x20 || u >= 0x7f) {
    static const char* hex = "0123456789ABCDEF";
    return std::string("byte 0x") + hex[u >> 4] + hex[u & 0xf] + " (write it %-escaped)";
  }
  std::string escaped = "%";
  escaped += "0123456789ABCDEF"[u >> 4];
  escaped += "0123456789ABCDEF"[u & 0xf];
  return std::string("'") + c + "' (write it as " + escaped + ")";
}

// Decodes one attribute value; `name` is only for messages.
Result<std::string> percent_decode(std::string_view uri, std::string_view name,
                                   std::string_view value) {
  std::string out;
  out.reserve(value.size());
  for (std::size_t i = 0; i < value.size(); ++i) {
    const char c = value[i];
    if (c == '%') {
      const int hi = i + 1 < value.size() ? hex_value(value[i + 1]) : -1;
      const int lo = i + 2 < value.size() ? hex_value(value[i + 2]) : -1;
      if (hi < 0 || lo < 0) {
        return uri_error(uri, "bad %-escape in " + std::string(name) + " at " +
                                  quoted(value.substr(i, 3)) +
                                  ": expected % and two hex digits");
      }
      out.push_back(static_cast<char>(hi * 16 + lo));
      i += 2;
    } else if (is_plain_pchar(c)) {
      out.push_back(c);
    } else {
      return uri_error(uri, std::string(name) + " contains " + describe_char(c));
    }
  }
  return out;
}

Error query_error(std::string_view uri, std::string_view query) {
  const auto has = [&](std::string_view attr) {
    return query.substr(0, attr.size()) == attr ||
           query.find(std::string("&") + std::string(attr)) != std::string_view::npos;
  };
  if (has("pin-value")) {
    return uri_error(uri, "pin-value is refused: the PIN never goes in the configuration; "
                          "use pin_file (or pin_env) in [pkcs11]");
  }
  if (has("pin-source")) {
    return uri_error(uri, "pin-source is not supported; use pin_file (or pin_env) in [pkcs11]");
  }
  if (has("module-name") || has("module-path")) {
    return uri_error(uri, "module-name / module-path are not supported; "
                          "the module is set by module in [pkcs11]");
  }
  return uri_error(uri, "a query part (after '?') is not supported");
}

// Stores `decoded` into the field `name` names; refuses duplicates.
Result<void> assign(Pkcs11Uri& out, std::string_view uri, std::string_view name,
                    std::string decoded) {
  const auto set_text = [&](std::optional<std::string>& field) -> Result<void> {
    if (field) return uri_error(uri, "attribute " + std::string(name) + " appears twice");
    if (decoded.find('\0') != std::string::npos) {
      return uri_error(uri, std::string(name) + " contains a NUL byte (%00)");
    }
    field = std::move(decoded);
    return {};
  };
  if (name == "token") return set_text(out.token);
  if (name == "serial") return set_text(out.serial);
  if (name == "manufacturer") return set_text(out.manufacturer);
  if (name == "model") return set_text(out.model);
  if (name == "object") return set_text(out.object);
  if (name == "type") {
    if (decoded != "private" && decoded != "cert" && decoded != "public") {
      return uri_error(uri, "type must be private, cert or public, not " + quoted(decoded));
    }
    return set_text(out.type);
  }
  if (name == "id") {
    if (out.id) return uri_error(uri, "attribute id appears twice");
    out.id = std::vector<std::uint8_t>(decoded.begin(), decoded.end());
    return {};
  }
  if (name.substr(0, 8) == "library-" || name.substr(0, 5) == "slot-") {
    return uri_error(uri, "attribute " + std::string(name) +
                              " is not supported; name the token with token, serial, "
                              "manufacturer or model");
  }
  if (name == "pin-value") {
    return uri_error(uri, "pin-value is refused: the PIN never goes in the configuration; "
                          "use pin_file (or pin_env) in [pkcs11]");
  }
  return uri_error(uri, "unknown attribute " + quoted(name) +
                            " (known: token, serial, manufacturer, model, object, id, type)");
}

bool starts_with_scheme(std::string_view uri) {
  constexpr std::string_view kScheme = "pkcs11:";
  if (uri.size() < kScheme.size()) return false;
  return std::equal(kScheme.begin(), kScheme.end(), uri.begin(), [](char a, char b) {
    return a == std::tolower(static_cast<unsigned char>(b));
  });
}

}  // namespace

Result<Pkcs11Uri> Pkcs11Uri::parse(std::string_view uri) {
  if (uri.empty()) return uri_error(uri, "is empty; expected pkcs11:token=...;object=...");
  if (uri.size() > kMaxUriBytes) {
    return uri_error(uri, "is longer than " + std::to_string(kMaxUriBytes) + " bytes");
  }
  if (!starts_with_scheme(uri)) {
    return uri_error(uri, "does not start with \"pkcs11:\" (RFC 7512)");
  }
  std::string_view path = uri.substr(7);
  if (const auto q = path.find('?'); q != std::string_view::npos) {
    return query_error(uri, path.substr(q + 1));
  }
  if (path.empty()) return uri_error(uri, "names nothing; expected attributes after pkcs11:");

  Pkcs11Uri out;
  while (true) {
    const auto end = path.find(';');
    const std::string_view attr = path.substr(0, end);
    if (attr.empty()) return uri_error(uri, "has an empty attribute (stray ';')");
    const auto eq = attr.find('=');
    if (eq == std::string_view::npos) {
      return uri_error(uri, "attribute " + quoted(attr) + " has no '=' and no value");
    }
    const std::string_view name = attr.substr(0, eq);
    const std::string_view raw = attr.substr(eq + 1);
    if (name.empty()) return uri_error(uri, "an attribute has no name before '='");
    if (raw.empty()) return uri_error(uri, "attribute " + std::string(name) + " has an empty value");
    auto decoded = percent_decode(uri, name, raw);
    if (!decoded) return std::move(decoded).error();
    if (auto set = assign(out, uri, name, std::move(decoded).value()); !set) {
      return std::move(set).error();
    }
    if (end == std::string_view::npos) break;
    path.remove_prefix(end + 1);
  }
  return out;
}

std::string Pkcs11Uri::token_selector() const {
  std::string s;
  s += token.value_or("") + '\x1f';
  s += serial.value_or("") + '\x1f';
  s += manufacturer.value_or("") + '\x1f';
  s += model.value_or("");
  return s;
}

}  // namespace mpa::pkcs11
