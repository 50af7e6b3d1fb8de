// The configuration loader (DESIGN.md "Configuration (TOML)").
//
// Strict on purpose: unknown tables and keys, wrong types and values out of
// range are errors, so that a typo is seen at start instead of silently
// falling back to a default. Every error names the file, the line when
// toml++ knows it, the table and key, what is wrong and what was expected.
// The Config is built in locals and returned only when all of it is valid.
#include "agent/config/config.h"

#include <fcntl.h>
#include <grp.h>
#include <pwd.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <toml++/toml.h>
#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <cstdlib>
#include <filesystem>
#include <initializer_list>
#include <set>
#include <string>
#include <system_error>
#include <utility>
#include <vector>

#include "agent/config/config_table.h"
#include "pkcs11/pkcs11.h"

namespace mpa {
namespace {

namespace fs = std::filesystem;

// A configuration is a page or two of text; anything near this is a mistake
// (or not a configuration file at all), so it is refused before parsing.
constexpr std::size_t kMaxConfigBytes = 1024 * 1024;
// Client names are used in requests and messages; keep them plain.
constexpr std::size_t kMaxClientNameBytes = 64;
// URLs longer than this are not Maskinporten's or Altinn's.
constexpr std::size_t kMaxUrlBytes = 2048;
// sun_path holds the socket path and its terminating NUL.
constexpr std::size_t kMaxSocketPathBytes = sizeof(sockaddr_un::sun_path) - 1;
// (uid_t)-1 and (gid_t)-1 mean "no id" to the kernel, so they name no one.
constexpr std::int64_t kMaxId = 0xFFFFFFFE;
// A passwd or group entry larger than this is not a real one.
constexpr std::size_t kMaxNssBufferBytes = 1024 * 1024;

// Digdir's endpoints per environment (DESIGN.md "Maskinporten facts").
struct EnvironmentEndpoints {
  const char* issuer;
  const char* token_endpoint;
  const char* altinn_exchange_endpoint;
};
constexpr EnvironmentEndpoints kTestEndpoints{
    "https://test.maskinporten.no/", "https://test.maskinporten.no/token",
    "https://platform.tt02.altinn.no/authentication/api/v1/exchange/maskinporten"};
constexpr EnvironmentEndpoints kProdEndpoints{
    "https://maskinporten.no/", "https://maskinporten.no/token",
    "https://platform.altinn.no/authentication/api/v1/exchange/maskinporten"};

// systemd's LoadCredential= puts credentials in this directory.
constexpr std::string_view kCredentialsVariable = "CREDENTIALS_DIRECTORY";

// ---------------------------------------------------------------- files

// strerror's words, without its shared buffer (a reload may run beside
// other threads).
std::string errno_text(int err) { return std::error_code(err, std::generic_category()).message(); }

// Closes a file descriptor when it goes out of scope.
class ScopedFd final {
 public:
  explicit ScopedFd(int fd) : fd_(fd) {}
  // Nothing useful can be done about a failed close of a read-only file.
  ~ScopedFd() noexcept {
    if (fd_ >= 0) ::close(fd_);
  }
  // One owner per descriptor: a copy would close it twice.
  ScopedFd(const ScopedFd&) = delete;
  ScopedFd& operator=(const ScopedFd&) = delete;

  int get() const { return fd_; }
  bool valid() const { return fd_ >= 0; }

 private:
  int fd_;
};

// ---------------------------------------------------------------- values

// Where the configuration's relative paths are resolved from.
struct Origin {
  std::string file;  // as given, for messages
  fs::path directory;
};

std::string resolve(const Origin& origin, const std::string& path) {
  const fs::path p(path);
  if (p.is_absolute() || origin.directory.empty()) return p.lexically_normal().string();
  return (origin.directory / p).lexically_normal().string();
}

// Checks at load time that a file the agent will need later can be read,
// so that the operator hears of it now and in words.
Status check_readable_file(const ConfigTable& section, std::string_view key,
                           const std::string& path) {
  // O_NONBLOCK: a FIFO put there by mistake must not hang the loader.
  const ScopedFd fd(::open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NONBLOCK));
  if (!fd.valid()) {
    const int err = errno;
    return section.error(key, "cannot read " + quote_value(path) + ": " + errno_text(err));
  }
  struct stat st {};
  if (::fstat(fd.get(), &st) != 0 || !S_ISREG(st.st_mode)) {
    return section.error(key, quote_value(path) + " is not a regular file");
  }
  return {};
}

Status read_existing_file(const ConfigTable& section, const Origin& origin, std::string_view key,
                          std::optional<std::string>& out) {
  MPA_RETURN_IF_ERROR(section.read(key, out));
  if (!out) return {};
  out = resolve(origin, *out);
  return check_readable_file(section, key, *out);
}

bool starts_with_ignoring_case(std::string_view text, std::string_view prefix) {
  if (text.size() < prefix.size()) return false;
  for (std::size_t i = 0; i < prefix.size(); ++i) {
    if (std::tolower(static_cast<unsigned char>(text[i])) != prefix[i]) return false;
  }
  return true;
}

// TLS is always used and always verified (DESIGN.md), so every endpoint is
// https:// with a host.
Status check_https_url(const ConfigTable& section, std::string_view key, const std::string& url) {
  constexpr std::string_view kScheme = "https://";
  if (url.size() > kMaxUrlBytes) {
    return section.error(key, "is longer than " + std::to_string(kMaxUrlBytes) + " bytes");
  }
  if (!starts_with_ignoring_case(url, kScheme)) {
    return section.error(key, quote_value(url) +
                                  " is not an https:// URL; the agent always uses "
                                  "verified TLS (add trust with ca_file for tests)");
  }
  const std::string_view rest = std::string_view(url).substr(kScheme.size());
  const std::string_view authority = rest.substr(0, rest.find_first_of("/?#"));
  if (authority.empty()) return section.error(key, quote_value(url) + " has no host");
  if (authority.find('@') != std::string_view::npos) {
    return section.error(key, "must not carry a user name or password");
  }
  if (std::any_of(url.begin(), url.end(), [](char c) { return c == ' '; })) {
    return section.error(key, quote_value(url) + " contains a space (write it as %20)");
  }
  if (url.find('#') != std::string::npos) {
    return section.error(key, quote_value(url) + " has a #fragment, which an endpoint never has");
  }
  return {};
}

Status read_https_url(const ConfigTable& section, std::string_view key, std::string& out) {
  MPA_RETURN_IF_ERROR(section.read(key, out));
  if (!section.has(key)) return {};
  return check_https_url(section, key, out);
}

// ---------------------------------------------------------------- [agent]

// Reads "0600"-style modes. Only owner read+write, optionally the same for
// the group ([[allow]] by gid needs it): connecting needs write permission,
// an executable or other-accessible socket is a mistake.
Status read_socket_mode(const ConfigTable& section, std::uint32_t& out) {
  std::string text;
  MPA_RETURN_IF_ERROR(section.read("socket_mode", text, "a string in quotes such as \"0600\""));
  if (!section.has("socket_mode")) return {};
  constexpr const char* kExpected = "use \"0600\", or \"0660\" to let a group in";
  const bool octal =
      text.size() >= 3 && text.size() <= 4 &&
      std::all_of(text.begin(), text.end(), [](char c) { return c >= '0' && c <= '7'; });
  if (!octal || (text.size() == 4 && text[0] != '0')) {
    return section.error("socket_mode",
                         quote_value(text) + " is not a permission mode; " + kExpected);
  }
  const auto mode = static_cast<std::uint32_t>(std::stoul(text, nullptr, 8));
  if ((mode & 0007) != 0) {
    return section.error("socket_mode",
                         quote_value(text) + " gives access to other users; " + kExpected);
  }
  if ((mode & 0111) != 0) {
    return section.error("socket_mode", quote_value(text) +
                                            " has an execute bit, which means nothing "
                                            "on a socket; " +
                                            kExpected);
  }
  if (mode != 0600 && mode != 0660) {
    return section.error("socket_mode",
                         quote_value(text) + ": connecting needs read and write; " + kExpected);
  }
  out = mode;
  return {};
}

Status read_socket(const ConfigTable& section, const Origin& origin, std::string& out) {
  MPA_RETURN_IF_ERROR(section.read("socket", out));
  if (section.has("socket")) {
    out = resolve(origin, out);
  } else {
    const char* runtime_dir = std::getenv("XDG_RUNTIME_DIR");
    if (runtime_dir == nullptr || *runtime_dir == '\0') {
      return section.error("socket",
                           "is not set and XDG_RUNTIME_DIR is not set either; "
                           "give the socket's path, e.g. "
                           "socket = \"/run/maskinporten-agent/agent.sock\"");
    }
    if (runtime_dir[0] != '/') {
      return section.error("socket", "is not set and XDG_RUNTIME_DIR (" + quote_value(runtime_dir) +
                                         ") is not an absolute path; give the socket's path");
    }
    out = (fs::path(runtime_dir) / "maskinporten-agent" / "agent.sock").lexically_normal().string();
  }
  if (out.size() > kMaxSocketPathBytes) {
    return section.error("socket", quote_value(out) + " is " + std::to_string(out.size()) +
                                       " bytes long; a Unix socket path holds at most " +
                                       std::to_string(kMaxSocketPathBytes));
  }
  return {};
}

Status read_agent(const ConfigTable& section, const Origin& origin, Config& config) {
  MPA_RETURN_IF_ERROR(
      section.only_keys({"socket", "socket_mode", "refresh_margin_seconds", "max_connections",
                         "state_dir"}));
  MPA_RETURN_IF_ERROR(read_socket(section, origin, config.socket));
  MPA_RETURN_IF_ERROR(read_socket_mode(section, config.socket_mode));
  MPA_RETURN_IF_ERROR(
      section.read("refresh_margin_seconds", config.refresh_margin_seconds, 0, 3600));
  MPA_RETURN_IF_ERROR(section.read("max_connections", config.max_connections, 1, 65536));
  MPA_RETURN_IF_ERROR(section.read("state_dir", config.state_dir));
  if (config.state_dir) config.state_dir = resolve(origin, *config.state_dir);
  return {};
}

// ---------------------------------------------------------------- [pkcs11]

// "$CREDENTIALS_DIRECTORY/NAME" (or "${CREDENTIALS_DIRECTORY}/NAME") is the
// credential systemd's LoadCredential= made; nothing else is expanded.
Status expand_credentials(const ConfigTable& section, std::string& path) {
  if (path.empty() || path[0] != '$') return {};
  const std::string plain = "$" + std::string(kCredentialsVariable) + "/";
  const std::string braced = "${" + std::string(kCredentialsVariable) + "}/";
  std::string name;
  if (path.starts_with(plain)) {
    name = path.substr(plain.size());
  } else if (path.starts_with(braced)) {
    name = path.substr(braced.size());
  } else {
    return section.error("pin_file", quote_value(path) +
                                         ": only $CREDENTIALS_DIRECTORY/NAME is "
                                         "expanded (systemd LoadCredential=)");
  }
  if (name.empty()) return section.error("pin_file", "names no file after $CREDENTIALS_DIRECTORY/");
  const char* directory = std::getenv(std::string(kCredentialsVariable).c_str());
  if (directory == nullptr || *directory == '\0') {
    return section.error("pin_file",
                         "uses $CREDENTIALS_DIRECTORY, which is not set; run the "
                         "agent from systemd with LoadCredential=, or give the "
                         "file's path");
  }
  path = (fs::path(directory) / name).lexically_normal().string();
  return {};
}

Status read_pkcs11(const ConfigTable& section, const Origin& origin, Config& config) {
  MPA_RETURN_IF_ERROR(section.only_keys(
      {"module", "pin_file", "pin_env", "sign_timeout_seconds", "max_concurrent_signatures"}));
  MPA_RETURN_IF_ERROR(section.read("sign_timeout_seconds", config.sign_timeout_seconds, 1, 300));
  MPA_RETURN_IF_ERROR(
      section.read("max_concurrent_signatures", config.max_concurrent_signatures, 1, 256));
  MPA_RETURN_IF_ERROR(section.require("module",
                                      "the path of the token's PKCS#11 module, e.g. "
                                      "\"/usr/lib/softhsm/libsofthsm2.so\""));
  MPA_RETURN_IF_ERROR(section.read("module", config.module));
  MPA_RETURN_IF_ERROR(section.read("pin_file", config.pin_file));
  MPA_RETURN_IF_ERROR(section.read("pin_env", config.pin_env));
  if (config.pin_file && config.pin_env) {
    return section.error("pin_env", "pin_file and pin_env are exclusive; keep one");
  }
  if (!config.pin_file && !config.pin_env) {
    return section.error("",
                         "needs pin_file (a file holding the PIN) or pin_env (the name of "
                         "an environment variable holding it)");
  }
  if (config.pin_env && config.pin_env->find('=') != std::string::npos) {
    return section.error("pin_env", "is the name of an environment variable, not NAME=VALUE");
  }
  if (config.pin_file) {
    MPA_RETURN_IF_ERROR(expand_credentials(section, *config.pin_file));
    config.pin_file = resolve(origin, *config.pin_file);
  }
  return {};
}

// ---------------------------------------------------------------- [[client]]

bool is_name_char(char c) {
  return std::isalnum(static_cast<unsigned char>(c)) != 0 || c == '-' || c == '_' || c == '.';
}

// RFC 6749 §3.3: scope-token = 1*( %x21 / %x23-5B / %x5D-7E ).
bool is_scope_char(char c) {
  const auto u = static_cast<unsigned char>(c);
  return u == 0x21 || (u >= 0x23 && u <= 0x5b) || (u >= 0x5d && u <= 0x7e);
}

Status read_client_name(const ConfigTable& section, bool only_client, std::string& out) {
  MPA_RETURN_IF_ERROR(section.read("name", out));
  if (!section.has("name")) {
    if (!only_client) return section.error("name", "is required when there are several clients");
    out = "default";
    return {};
  }
  if (out.size() > kMaxClientNameBytes || !std::all_of(out.begin(), out.end(), is_name_char)) {
    return section.error("name", quote_value(out) + " is not a client name; use up to " +
                                     std::to_string(kMaxClientNameBytes) +
                                     " letters, digits, '-', '_' or '.'");
  }
  return {};
}

Status read_environment(const ConfigTable& section, ClientConfig& client) {
  constexpr const char* kHint = "\"test\", \"prod\" or \"custom\"";
  MPA_RETURN_IF_ERROR(section.require("environment", std::string(kHint)));
  std::string text;
  MPA_RETURN_IF_ERROR(section.read("environment", text));
  if (text == "test") {
    client.environment = Environment::test;
  } else if (text == "prod") {
    client.environment = Environment::prod;
  } else if (text == "custom") {
    client.environment = Environment::custom;
  } else {
    return section.error("environment", quote_value(text) + " is not known; use " + kHint);
  }
  return {};
}

// issuer is the grant's aud, so it must be exactly the issuer Maskinporten
// publishes, trailing slash included (Digdir's JWT grant table).
Status read_custom_endpoints(const ConfigTable& section, ClientConfig& client) {
  MPA_RETURN_IF_ERROR(section.require(
      "issuer", "environment = \"custom\" needs the issuer, e.g. \"https://localhost:8443/\""));
  MPA_RETURN_IF_ERROR(read_https_url(section, "issuer", client.issuer));
  if (client.issuer.back() != '/') {
    return section.error("issuer", quote_value(client.issuer) +
                                       " does not end with '/'; add the "
                                       "trailing slash; the grant's aud is the issuer exactly");
  }
  if (client.discovery) {
    if (section.has("token_endpoint")) {
      return section.error("token_endpoint", "and discovery = true are exclusive; keep one");
    }
    return {};
  }
  MPA_RETURN_IF_ERROR(section.require(
      "token_endpoint", "environment = \"custom\" needs the token endpoint (or discovery = true)"));
  return read_https_url(section, "token_endpoint", client.token_endpoint);
}

Status read_endpoints(const ConfigTable& section, ClientConfig& client) {
  MPA_RETURN_IF_ERROR(section.read("discovery", client.discovery));
  if (client.environment == Environment::custom) {
    MPA_RETURN_IF_ERROR(read_custom_endpoints(section, client));
  } else {
    const char* environment = client.environment == Environment::test ? "test" : "prod";
    for (std::string_view key : {"issuer", "token_endpoint"}) {
      if (section.has(key)) {
        return section.error(key, std::string("is set by environment = \"") + environment +
                                      "\"; remove it, or use environment = \"custom\"");
      }
    }
    const EnvironmentEndpoints& endpoints =
        client.environment == Environment::test ? kTestEndpoints : kProdEndpoints;
    client.issuer = endpoints.issuer;
    client.token_endpoint = endpoints.token_endpoint;
    client.altinn_exchange_endpoint = endpoints.altinn_exchange_endpoint;
  }
  return read_https_url(section, "altinn_exchange_endpoint", client.altinn_exchange_endpoint);
}

Status read_key(const ConfigTable& section, const Origin& origin, ClientConfig& client) {
  MPA_RETURN_IF_ERROR(
      section.require("key",
                      "an RFC 7512 URI of the private key, e.g. "
                      "\"pkcs11:token=Virksomhet%20Test;object=vsert-auth;type=private\""));
  MPA_RETURN_IF_ERROR(section.read("key", client.key));
  auto uri = pkcs11::Pkcs11Uri::parse(client.key);
  if (!uri) return section.error("key", uri.error().message);

  MPA_RETURN_IF_ERROR(section.read("kid", client.kid));
  std::string x5c;
  MPA_RETURN_IF_ERROR(section.read("x5c", x5c));
  if (client.kid && section.has("x5c")) {
    return section.error("x5c",
                         "and kid are exclusive: the grant's header carries one of "
                         "them; remove x5c to use kid, or kid to use x5c");
  }
  if (section.has("x5c") && x5c != "leaf" && x5c != "chain") {
    return section.error("x5c", quote_value(x5c) +
                                    " is not known; use \"leaf\" (the certificate "
                                    "alone) or \"chain\" (with its intermediates)");
  }
  client.x5c_chain = x5c == "chain";
  return read_existing_file(section, origin, "chain_file", client.chain_file);
}

Status read_alg(const ConfigTable& section, JwsAlg& out) {
  std::string text;
  MPA_RETURN_IF_ERROR(section.read("alg", text));
  if (!section.has("alg")) return {};
  for (JwsAlg alg : {JwsAlg::RS256, JwsAlg::RS384, JwsAlg::RS512}) {
    if (text == to_string(alg)) {
      out = alg;
      return {};
    }
  }
  // Maskinporten accepts only these (Digdir's JWT grant table).
  return section.error("alg", quote_value(text) + " is not allowed; use RS256, RS384 or RS512");
}

Status read_proxy(const ConfigTable& section, std::optional<std::string>& out) {
  MPA_RETURN_IF_ERROR(section.read("proxy", out));
  if (!out) return {};
  // The value may carry a password: it is never quoted back.
  for (std::string_view scheme : {"http://", "https://", "socks5://", "socks5h://"}) {
    if (starts_with_ignoring_case(*out, scheme) && out->size() > scheme.size()) return {};
  }
  return section.error("proxy",
                       "is not a proxy URL; expected http://, https://, socks5:// or "
                       "socks5h:// and a host (TLS to the endpoint stays end to end)");
}

Status read_scopes(const ConfigTable& section, std::vector<std::string>& out) {
  MPA_RETURN_IF_ERROR(section.require("scopes",
                                      "the scopes this client may ask for, e.g. "
                                      "scopes = [\"altinn:instances.read\"]"));
  MPA_RETURN_IF_ERROR(section.read("scopes", out));
  if (out.empty())
    return section.error("scopes", "is empty; list the scopes this client may ask for");
  std::set<std::string> seen;
  for (const std::string& scope : out) {
    if (!std::all_of(scope.begin(), scope.end(), is_scope_char)) {
      return section.error("scopes", quote_value(scope) +
                                         " is not a scope: a scope has no spaces, "
                                         "quotes or backslashes (RFC 6749 section 3.3)");
    }
    if (!seen.insert(scope).second) {
      return section.error("scopes", quote_value(scope) + " is listed twice");
    }
  }
  return {};
}

Status read_timeouts(const ConfigTable& section, ClientConfig& client) {
  MPA_RETURN_IF_ERROR(
      section.read("connect_timeout_seconds", client.connect_timeout_seconds, 1, 300));
  MPA_RETURN_IF_ERROR(section.read("timeout_seconds", client.timeout_seconds, 1, 300));
  return section.read("retry_deadline_seconds", client.retry_deadline_seconds, 1, 300);
}

Result<ClientConfig> read_client(ConfigTable& section, const Origin& origin, bool only_client) {
  ClientConfig client;
  // The name first, so that even an unknown key is reported under it.
  const Status named = read_client_name(section, only_client, client.name);
  if (named) section.set_label("[[client]] \"" + client.name + "\"");
  MPA_RETURN_IF_ERROR(section.only_keys(
      {"name", "client_id", "environment", "issuer", "token_endpoint", "discovery", "key", "kid",
       "x5c", "chain_file", "alg", "grant_lifetime_seconds", "ca_file", "proxy",
       "altinn_exchange_endpoint", "scopes", "connect_timeout_seconds", "timeout_seconds",
       "retry_deadline_seconds"}));
  MPA_RETURN_IF_ERROR(named);

  MPA_RETURN_IF_ERROR(
      section.require("client_id", "your Maskinporten client id (the grant's iss)"));
  MPA_RETURN_IF_ERROR(section.read("client_id", client.client_id));
  MPA_RETURN_IF_ERROR(read_environment(section, client));
  MPA_RETURN_IF_ERROR(read_endpoints(section, client));
  MPA_RETURN_IF_ERROR(read_key(section, origin, client));
  MPA_RETURN_IF_ERROR(read_alg(section, client.alg));
  // Digdir: exp - iat is at most 120 seconds.
  MPA_RETURN_IF_ERROR(
      section.read("grant_lifetime_seconds", client.grant_lifetime_seconds, 1, 120));
  MPA_RETURN_IF_ERROR(read_existing_file(section, origin, "ca_file", client.ca_file));
  MPA_RETURN_IF_ERROR(read_proxy(section, client.proxy));
  MPA_RETURN_IF_ERROR(read_scopes(section, client.scopes));
  MPA_RETURN_IF_ERROR(read_timeouts(section, client));
  return client;
}

// ---------------------------------------------------------------- [altinn]

Status read_altinn(const ConfigTable& section, const Origin& origin, Config& config) {
  MPA_RETURN_IF_ERROR(section.only_keys({"certificates", "leeway_seconds"}));
  MPA_RETURN_IF_ERROR(section.require("certificates",
                                      "the PEM files of Altinn's signing "
                                      "certificate(s)"));
  MPA_RETURN_IF_ERROR(section.read("certificates", config.altinn_certificates));
  if (config.altinn_certificates.empty()) {
    return section.error("certificates", "is empty; list Altinn's signing certificate(s)");
  }
  for (std::string& path : config.altinn_certificates) {
    path = resolve(origin, path);
    MPA_RETURN_IF_ERROR(check_readable_file(section, "certificates", path));
  }
  return section.read("leeway_seconds", config.altinn_leeway_seconds, 0, 600);
}

// ---------------------------------------------------------------- [[allow]]

// getpwnam_r / getgrnam_r with a buffer that grows on ERANGE. `found` is
// null afterwards when the name does not exist.
template <class Entry, class Lookup>
int lookup_name(Lookup lookup, Entry& entry, Entry*& found) {
  std::vector<char> buffer(4096);
  for (;;) {
    found = nullptr;
    const int rc = lookup(&entry, buffer.data(), buffer.size(), &found);
    if (rc != ERANGE || buffer.size() >= kMaxNssBufferBytes) return rc;
    buffer.resize(buffer.size() * 2);
  }
}

// getpwnam_r(3): "not found" is 0 with no entry, or one of these.
bool names_no_entry(int rc) {
  return rc == 0 || rc == ENOENT || rc == ESRCH || rc == EBADF || rc == EPERM;
}

Status resolve_user(const ConfigTable& section, const std::string& name, std::uint32_t& uid) {
  passwd entry{};
  passwd* found = nullptr;
  const int rc = lookup_name([&name](passwd* e, char* b, std::size_t n,
                                     passwd** r) { return getpwnam_r(name.c_str(), e, b, n, r); },
                             entry, found);
  if (found != nullptr) {
    uid = found->pw_uid;
    return {};
  }
  if (names_no_entry(rc)) {
    return section.error("user", "no user " + quote_value(name) + " on this system");
  }
  return section.error("user", "cannot look up user " + quote_value(name) + ": " + errno_text(rc));
}

Status resolve_group(const ConfigTable& section, const std::string& name, std::uint32_t& gid) {
  group entry{};
  group* found = nullptr;
  const int rc = lookup_name([&name](group* e, char* b, std::size_t n,
                                     group** r) { return getgrnam_r(name.c_str(), e, b, n, r); },
                             entry, found);
  if (found != nullptr) {
    gid = found->gr_gid;
    return {};
  }
  if (names_no_entry(rc)) {
    return section.error("group", "no group " + quote_value(name) + " on this system");
  }
  return section.error("group",
                       "cannot look up group " + quote_value(name) + ": " + errno_text(rc));
}

Status read_principal(const ConfigTable& section, AllowRule& rule) {
  const int given = int{section.has("uid")} + int{section.has("user")} + int{section.has("gid")} +
                    int{section.has("group")};
  if (given != 1) {
    return section.error("", "needs exactly one of uid, user, gid or group (it has " +
                                 std::to_string(given) + "); write one rule per principal");
  }
  std::uint32_t id = 0;
  std::string name;
  if (section.has("uid")) {
    MPA_RETURN_IF_ERROR(section.read("uid", id, 0, kMaxId));
    rule.uid = id;
    rule.who = "uid " + std::to_string(id);
  } else if (section.has("gid")) {
    MPA_RETURN_IF_ERROR(section.read("gid", id, 0, kMaxId));
    rule.gid = id;
    rule.who = "gid " + std::to_string(id);
  } else if (section.has("user")) {
    MPA_RETURN_IF_ERROR(section.read("user", name));
    MPA_RETURN_IF_ERROR(resolve_user(section, name, id));
    rule.uid = id;
    rule.who = "user " + name + " (uid " + std::to_string(id) + ")";
  } else {
    MPA_RETURN_IF_ERROR(section.read("group", name));
    MPA_RETURN_IF_ERROR(resolve_group(section, name, id));
    rule.gid = id;
    rule.who = "group " + name + " (gid " + std::to_string(id) + ")";
  }
  return {};
}

const ClientConfig* client_named(const std::vector<ClientConfig>& clients,
                                 const std::string& name) {
  for (const ClientConfig& client : clients) {
    if (client.name == name) return &client;
  }
  return nullptr;
}

Result<AllowRule> read_allow(const ConfigTable& section, const std::vector<ClientConfig>& clients) {
  MPA_RETURN_IF_ERROR(section.only_keys({"uid", "user", "gid", "group", "clients", "scopes"}));
  AllowRule rule;
  MPA_RETURN_IF_ERROR(read_principal(section, rule));
  MPA_RETURN_IF_ERROR(section.require("clients",
                                      "the clients this rule lets in, e.g. "
                                      "clients = [\"default\"]"));
  MPA_RETURN_IF_ERROR(section.read("clients", rule.clients));
  if (rule.clients.empty()) return section.error("clients", "is empty; name at least one client");
  std::vector<const ClientConfig*> listed;
  for (const std::string& name : rule.clients) {
    const ClientConfig* client = client_named(clients, name);
    if (client == nullptr) {
      return section.error("clients", quote_value(name) + " is not a configured [[client]] name");
    }
    listed.push_back(client);
  }
  MPA_RETURN_IF_ERROR(section.read("scopes", rule.scopes));
  if (section.has("scopes") && rule.scopes.empty()) {
    return section.error("scopes", "is empty; leave it out to allow every scope of the clients");
  }
  for (const std::string& scope : rule.scopes) {
    for (const ClientConfig* client : listed) {
      if (std::find(client->scopes.begin(), client->scopes.end(), scope) == client->scopes.end()) {
        return section.error(
            "scopes",
            quote_value(scope) + " is not among the scopes of client \"" + client->name + "\"");
      }
    }
  }
  return rule;
}

// ---------------------------------------------------------------- the file

// The array of tables `key` ([[client]], [[allow]]), or an error when the
// key is something else.
Result<const toml::array*> array_of_tables(const ConfigTable& root, const toml::table& document,
                                           std::string_view key) {
  const toml::node* node = document.get(key);
  if (node == nullptr) return static_cast<const toml::array*>(nullptr);
  const toml::array* array = node->as_array();
  if (array == nullptr || !array->is_array_of_tables()) {
    return root.error_at(*node, key,
                         "write [[" + std::string(key) + "]] tables (one per " + std::string(key) +
                             "), not " + std::string(toml_type_name(node->type())));
  }
  return array;
}

Result<const toml::table*> single_table(const ConfigTable& root, const toml::table& document,
                                        std::string_view key) {
  const toml::node* node = document.get(key);
  if (node == nullptr) return static_cast<const toml::table*>(nullptr);
  if (!node->is_table()) {
    return root.error_at(*node, key,
                         "write a [" + std::string(key) + "] table, not " +
                             std::string(toml_type_name(node->type())));
  }
  return node->as_table();
}

Status read_clients(const ConfigTable& root, const toml::table& document, const Origin& origin,
                    Config& config) {
  auto array = array_of_tables(root, document, "client");
  if (!array) return std::move(array).error();
  if (*array == nullptr || (*array)->empty()) {
    return root.error("",
                      "has no [[client]] table; add one with client_id, environment, key "
                      "and scopes");
  }
  const bool only_client = (*array)->size() == 1;
  for (std::size_t i = 0; i < (*array)->size(); ++i) {
    ConfigTable section(*(*array)->get(i)->as_table(), origin.file,
                        "[[client]] #" + std::to_string(i + 1));
    auto client = read_client(section, origin, only_client);
    if (!client) return std::move(client).error();
    if (client_named(config.clients, client->name) != nullptr) {
      section.set_label("[[client]] #" + std::to_string(i + 1));
      return section.error("name", "\"" + client->name +
                                       "\" is used by an earlier [[client]]; "
                                       "client names must be unique");
    }
    config.clients.push_back(std::move(*client));
  }
  return {};
}

Status read_allow_rules(const ConfigTable& root, const toml::table& document, const Origin& origin,
                        Config& config) {
  auto array = array_of_tables(root, document, "allow");
  if (!array) return std::move(array).error();
  if (*array == nullptr) return {};
  for (std::size_t i = 0; i < (*array)->size(); ++i) {
    ConfigTable section(*(*array)->get(i)->as_table(), origin.file,
                        "[[allow]] #" + std::to_string(i + 1));
    auto rule = read_allow(section, config.clients);
    if (!rule) return std::move(rule).error();
    config.allow.push_back(std::move(*rule));
  }
  return {};
}

Status check_top_level(const ConfigTable& root, const toml::table& document) {
  for (const auto& [key, node] : document) {
    const std::string_view name = key.str();
    if (name == "agent" || name == "pkcs11" || name == "client" || name == "altinn" ||
        name == "allow") {
      continue;
    }
    if (is_pin_key(name)) {
      return root.error_at(node, name,
                           "the PIN never goes in the configuration file; "
                           "use pin_file or pin_env in [pkcs11]");
    }
    const std::string what = node.is_table() ? "unknown table [" + std::string(name) + "]"
                             : node.is_array_of_tables()
                                 ? "unknown table [[" + std::string(name) + "]]"
                                 : "unknown key " + quote_value(name) + " outside any table";
    return root.error_at(node, "",
                         what +
                             "; expected [agent], [pkcs11], [[client]], [altinn] "
                             "or [[allow]]");
  }
  return {};
}

Result<Config> read_document(const toml::table& document, const Origin& origin) {
  const ConfigTable root(document, origin.file, "");
  MPA_RETURN_IF_ERROR(check_top_level(root, document));
  Config config;
  config.path = origin.file;

  auto agent = single_table(root, document, "agent");
  if (!agent) return std::move(agent).error();
  const toml::table empty;
  MPA_RETURN_IF_ERROR(
      read_agent(ConfigTable(*agent ? **agent : empty, origin.file, "[agent]"), origin, config));

  auto pkcs11 = single_table(root, document, "pkcs11");
  if (!pkcs11) return std::move(pkcs11).error();
  if (*pkcs11 == nullptr) {
    return root.error("", "has no [pkcs11] table; it needs module, and pin_file or pin_env");
  }
  MPA_RETURN_IF_ERROR(read_pkcs11(ConfigTable(**pkcs11, origin.file, "[pkcs11]"), origin, config));

  MPA_RETURN_IF_ERROR(read_clients(root, document, origin, config));

  auto altinn = single_table(root, document, "altinn");
  if (!altinn) return std::move(altinn).error();
  if (*altinn != nullptr) {
    MPA_RETURN_IF_ERROR(
        read_altinn(ConfigTable(**altinn, origin.file, "[altinn]"), origin, config));
  }
  MPA_RETURN_IF_ERROR(read_allow_rules(root, document, origin, config));
  return config;
}

Error file_error(const std::string& path, const std::string& what) {
  return make_error(ErrorCode::invalid_config, path + ": " + what);
}

Error too_large(const std::string& path, std::size_t size) {
  return file_error(path, "is " + std::to_string(size) +
                              " bytes; a configuration file is at most " +
                              std::to_string(kMaxConfigBytes) + " bytes (1 MiB)");
}

}  // namespace

const ClientConfig* Config::find_client(const std::string& name) const {
  if (name.empty()) return clients.size() == 1 ? &clients.front() : nullptr;
  return client_named(clients, name);
}

Result<Config> parse_config(std::string_view toml_text, const std::string& path_for_messages) {
  if (toml_text.size() > kMaxConfigBytes) return too_large(path_for_messages, toml_text.size());
  Origin origin{path_for_messages, {}};
  std::error_code ec;
  const fs::path absolute = fs::absolute(path_for_messages, ec);
  if (!ec) origin.directory = absolute.parent_path();

  // toml++ as packaged is built with exceptions; they stop here.
  try {
    const toml::table document = toml::parse(toml_text, path_for_messages);
    return read_document(document, origin);
  } catch (const toml::parse_error& e) {
    const auto& where = e.source().begin;
    return file_error(
        path_for_messages + ":" + std::to_string(where.line) + ":" + std::to_string(where.column),
        "not valid TOML: " + std::string(e.description()));
  } catch (const std::exception& e) {
    return file_error(path_for_messages, std::string("could not be read: ") + e.what());
  }
}

Result<Config> load_config(const std::string& path) {
  const ScopedFd fd(::open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NONBLOCK));
  if (!fd.valid()) {
    const int err = errno;
    return file_error(path, std::string("cannot open: ") + errno_text(err));
  }
  struct stat st {};
  if (::fstat(fd.get(), &st) != 0 || !S_ISREG(st.st_mode)) {
    return file_error(path, "is not a regular file");
  }
  // Whoever can write the file can make the agent load any PKCS#11 module.
  if ((st.st_mode & S_IWOTH) != 0) {
    return file_error(path, "is writable by other users; chmod o-w it");
  }
  if (static_cast<std::uint64_t>(st.st_size) > kMaxConfigBytes) {
    return too_large(path, static_cast<std::size_t>(st.st_size));
  }
  // Read one byte past the limit: the file may have grown since fstat.
  std::string text(kMaxConfigBytes + 1, '\0');
  std::size_t used = 0;
  while (used < text.size()) {
    const ssize_t n = ::read(fd.get(), text.data() + used, text.size() - used);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) {
      const int err = errno;
      return file_error(path, std::string("cannot read: ") + errno_text(err));
    }
    if (n == 0) break;
    used += static_cast<std::size_t>(n);
  }
  text.resize(used);
  return parse_config(text, path);
}

}  // namespace mpa
