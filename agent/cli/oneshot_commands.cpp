// One-shot commands that need no running agent: grant, fetch, check-config.
#include <openssl/evp.h>
#include <openssl/x509.h>
#include <rapidjson/stringbuffer.h>
#include <rapidjson/writer.h>
#include <unistd.h>

#include <cstdio>
#include <ctime>
#include <memory>
#include <string>
#include <vector>

#include "agent/altinn/altinn.h"
#include "agent/cli/args.h"
#include "agent/cli/cli.h"
#include "agent/cli/online_check.h"
#include "agent/config/config.h"
#include "agent/cli/socket_access.h"
#include "agent/engine/engine.h"
#include "agent/jwt/jose.h"
#include "agent/signer_helper/helper_pool.h"
#include "common/clock.h"
#include "common/jws_digest.h"
#include "common/log.h"
#include "common/memory_privacy.h"
#include "common/openssl_handles.h"

namespace mpa::cli {
namespace {

// The options grant and fetch share.
constexpr const char* kGrantOptionsHelp =
    "options:\n"
    "  --config FILE              the agent's configuration (TOML)\n"
    "  --scope S                  a scope to ask for; repeat for several (required)\n"
    "  --client NAME              which [[client]] (default: the only one)\n"
    "  --resource URL             audience restriction; repeat for several\n"
    "  --consumer-org ORGNO       9-digit organisation number (delegation)\n"
    "  --iss-onbehalfof NAME      on-behalf-of (not with --consumer-org)\n"
    "  --pid PID                  11-digit person identifier\n"
    "  --authorization-details J  a JSON array, e.g. Altinn system user details\n";

constexpr const char* kGrantHelp =
    "usage: maskinporten-agent grant --config FILE --scope S [--scope S2 ...] [OPTIONS]\n"
    "\n"
    "Builds one Maskinporten JWT grant, has the PKCS#11 token sign it, and prints it\n"
    "(header.body.signature) on stdout. Nothing is sent anywhere: use it to see exactly\n"
    "what the agent would send, for support and debugging. Paste it into a JWT decoder,\n"
    "or read the claims (base64url without padding) with\n"
    "  maskinporten-agent grant ... | cut -d. -f2 | tr '_-' '/+' |\n"
    "    awk '{ while (length($0) % 4) $0 = $0 \"=\"; print }' | base64 -d\n"
    "It expires within 120 seconds.\n"
    "\n";

constexpr const char* kGrantHelpEnd =
    "\n"
    "exit status: 0 printed a grant, 1 failed (`error: CODE: words` on stderr), 2 usage error.\n";

constexpr const char* kFetchHelp =
    "usage: maskinporten-agent fetch --config FILE --scope S [--scope S2 ...] [OPTIONS]\n"
    "\n"
    "One shot, no agent needed: builds a grant, has the PKCS#11 token sign it, exchanges\n"
    "it at Maskinporten's /token and prints the access token and a newline on stdout.\n"
    "For cron jobs and first tries; a long-running service should ask the agent\n"
    "(`maskinporten-agent token`), which caches tokens.\n"
    "Network errors, 5xx and 429 are retried with backoff (each attempt a fresh grant)\n"
    "within the client's retry_deadline_seconds; 4xx answers are never retried.\n"
    "\n";

constexpr const char* kFetchHelpEnd =
    "  --exchange altinn          print the Altinn token made from the Maskinporten token\n"
    "  --verbose                  also print a warning line for each failed attempt that is\n"
    "                             retried, and the other log lines (default: only the error)\n"
    "  --json                     print access_token, token_type, expires_in, expires_at,\n"
    "                             scope as one JSON object\n"
    "\n"
    "exit status: 0 printed a token, 1 failed (`error: CODE: words` on stderr), 2 usage error.\n";

constexpr const char* kCheckHelp =
    "usage: maskinporten-agent check-config --config FILE [--client NAME] [--online]\n"
    "\n"
    "Validates the configuration file; then, in a signer helper process as `run` does,\n"
    "reads the PIN, loads the PKCS#11 module, opens the token and logs in (once: a\n"
    "refused PIN is recorded in the state directory and never presented again by any\n"
    "command until the PIN changes or the record is deleted), finds every client's\n"
    "key, certificate and chain, checks that certificate and key match, signs a test\n"
    "grant and verifies the signature. Says what it checked on stdout, or what is wrong\n"
    "on stderr. Without --online it makes no network calls.\n"
    "\n"
    "options:\n"
    "  --config FILE   the agent's configuration (TOML)\n"
    "  --client NAME   check only this [[client]] (default: every one)\n"
    "  --online        also check each client over the network, as the agent connects\n"
    "                  (its ca_file, proxy and time-outs), one `ok:` or `error:` line each:\n"
    "                  1. TLS: a GET of the token endpoint (the issuer with discovery),\n"
    "                     which must verify;\n"
    "                  2. discovery: GET <issuer>.well-known/oauth-authorization-server;\n"
    "                     its issuer and token_endpoint must match the configuration;\n"
    "                  3. a /token round trip: one grant, freshly signed on the token,\n"
    "                     asking only for the scope \"maskinporten-agent:check-config-online\",\n"
    "                     which no client is given. Maskinporten's invalid_scope answer\n"
    "                     shows it accepted the certificate, signature, client_id and\n"
    "                     audience; invalid_client, invalid_grant, a 5xx or a time-out\n"
    "                     fail. No token is asked for; no grant or token is printed.\n"
    "                  Nothing is retried; a client's checks stop at its first failure.\n"
    "\n"
    "exit status: 0 all good, 1 something is wrong (`error: CODE: words` on stderr), 2 usage\n"
    "error.\n";

const std::vector<OptionSpec> kGrantOptions = {
    {"config", true, false},         {"scope", true, true},  {"client", true, false},
    {"resource", true, true},        {"consumer-org", true, false},
    {"iss-onbehalfof", true, false}, {"pid", true, false},
    {"authorization-details", true, false},
};

int fail(const Error& error) { return report_failure(error); }

int usage(const std::string& command, const std::string& message) {
  return usage_error(command, message);
}

GrantRequest grant_request_from(const ParsedArgs& args) {
  GrantRequest request;
  request.scopes = args.all("scope");
  request.resource = args.all("resource");
  request.consumer_org = args.get("consumer-org");
  request.iss_onbehalfof = args.get("iss-onbehalfof");
  request.pid = args.get("pid");
  request.authorization_details = args.get("authorization-details");
  return request;
}

// Parses the shared grant options; nullopt after a usage message.
std::optional<ParsedArgs> parse_grant_args(const std::string& command,
                                           const std::vector<std::string>& args,
                                           std::vector<OptionSpec> extra) {
  std::vector<OptionSpec> specs = kGrantOptions;
  specs.insert(specs.end(), extra.begin(), extra.end());
  auto parsed = parse_args(command, args, specs);
  if (!parsed || parsed->has("help")) return parsed;
  if (!parsed->has("config")) {
    usage(command, "--config FILE is required");
    return std::nullopt;
  }
  if (!parsed->has("scope")) {
    usage(command, "at least one --scope is required");
    return std::nullopt;
  }
  return parsed;
}

// As `run` does: the token is opened, logged in to and signed with by a
// signer helper process, never here, so this process never holds the PIN
// and a PIN the token refused before (the state directory's record) is not
// presented again by a one-shot command either.
Result<std::unique_ptr<Engine>> engine_through_helper(const Config& config) {
  return Engine::create(config, [](const Config& loaded) {
    signer_helper::HelperPool pool;
    pool.set_log_starts(false);  // stderr is for the one error: line
    return pool.signers_for(loaded);
  });
}

// Hardened as the agent is, before anything is read: the process holds
// access tokens, and with pin_env the PIN it passes to its signer helper.
void keep_this_process_private() {
  if (const Status kept = keep_memory_private(); !kept) log::warning(kept.error().message);
}

struct Loaded {
  std::unique_ptr<Engine> engine;
  const ClientConfig* client = nullptr;
};

Result<Loaded> load(const ParsedArgs& args) {
  keep_this_process_private();
  auto config = load_config(*args.get("config"));
  if (!config) return std::move(config).error();
  auto engine = engine_through_helper(*config);
  if (!engine) return std::move(engine).error();
  auto client = (*engine)->client(args.get("client").value_or(""));
  if (!client) return std::move(client).error();
  return Loaded{std::move(*engine), *client};
}

std::string token_json(const AccessToken& token) {
  rapidjson::StringBuffer buffer;
  rapidjson::Writer<rapidjson::StringBuffer> w(buffer);
  w.StartObject();
  w.Key("access_token");
  w.String(token.access_token.c_str(), static_cast<rapidjson::SizeType>(token.access_token.size()));
  w.Key("token_type");
  w.String(token.token_type.c_str(), static_cast<rapidjson::SizeType>(token.token_type.size()));
  w.Key("expires_in");
  w.Int64(token.expires_in);
  w.Key("expires_at");
  w.Int64(token.expires_at);
  w.Key("scope");
  w.String(token.scope.c_str(), static_cast<rapidjson::SizeType>(token.scope.size()));
  w.EndObject();
  return buffer.GetString();
}

// Verifies a compact JWS's signature with the leaf certificate's public key,
// independently of the token: proof that key and certificate belong together.
Status verify_with_certificate(const std::string& jwt, const Bytes& leaf_der, JwsAlg alg) {
  const auto last_dot = jwt.rfind('.');
  auto signature = jose::base64url_decode(std::string_view(jwt).substr(last_dot + 1));
  const unsigned char* p = leaf_der.data();
  Handle<X509> cert(d2i_X509(nullptr, &p, static_cast<long>(leaf_der.size())));
  if (!cert || !signature) {
    return make_error(ErrorCode::internal, "cannot read the certificate or the signature back");
  }
  const EVP_MD* md = digest_for(alg);
  Handle<EVP_MD_CTX> ctx(EVP_MD_CTX_new());
  EVP_PKEY* key = X509_get0_pubkey(cert.get());
  const bool ok =
      ctx && key && EVP_DigestVerifyInit(ctx.get(), nullptr, md, nullptr, key) == 1 &&
      EVP_DigestVerify(ctx.get(), reinterpret_cast<const unsigned char*>(signature->data()),
                       signature->size(), reinterpret_cast<const unsigned char*>(jwt.data()),
                       last_dot) == 1;
  if (!ok) {
    return make_error(ErrorCode::hsm_error,
                      "the token's signature does not verify with the certificate's public key");
  }
  return {};
}

// The clients check-config looks at, as the engine holds them: all, in the
// configuration's order, or the one --client names.
Result<std::vector<const ClientConfig*>> clients_to_check(const Engine& engine, const Config& config,
                                                         const std::optional<std::string>& name) {
  std::vector<const ClientConfig*> clients;
  if (name) {
    MPA_ASSIGN_OR_RETURN(const ClientConfig* named, engine.client(*name));
    clients.push_back(named);
    return clients;
  }
  for (const ClientConfig& client : config.clients) {
    MPA_ASSIGN_OR_RETURN(const ClientConfig* held, engine.client(client.name));
    clients.push_back(held);
  }
  return clients;
}

// What the signer helper found for `client`, and a test grant signed on the
// token and verified with the certificate's public key.
Status check_client_offline(const Engine& engine, const ClientConfig& client, std::int64_t now) {
  const SignerInfo info = engine.signer_info(client);
  std::printf("ok: client \"%s\": key %s\n", client.name.c_str(), client.key.c_str());
  std::printf("    certificate: %s\n", info.certificate_subject.c_str());
  std::printf("    valid until %s (%lld days)\n",
              format_utc(info.certificate_not_after, UtcFormat::readable).c_str(),
              static_cast<long long>((info.certificate_not_after - now) / 86400));
  std::printf("    grant header: %s, %s\n", std::string(to_string(client.alg)).c_str(),
              client.kid ? ("kid " + *client.kid).c_str()
                         : (client.x5c_chain ? "x5c leaf + intermediates" : "x5c leaf"));
  std::printf("    audience %s, token endpoint %s%s\n", client.issuer.c_str(),
              client.token_endpoint.c_str(), client.discovery ? " (or discovered)" : "");

  const std::string where = "client \"" + client.name + "\"";
  GrantRequest probe;
  probe.scopes = {client.scopes.front()};
  auto grant = engine.make_grant(client, probe);
  if (!grant) return grant.error().with_context(where + ": test grant");
  const std::vector<Bytes> chain = engine.certificate_chain(client);
  if (chain.empty()) return make_error(ErrorCode::internal, "no certificate was found");
  if (auto verified = verify_with_certificate(grant->jwt, chain.front(), client.alg); !verified) {
    return verified.error().with_context(where);
  }
  std::printf("    certificate chain: %zu certificate%s found\n", chain.size(),
              chain.size() == 1 ? "" : "s");
  std::printf("ok: client \"%s\": test grant signed on the token; signature verifies\n",
              client.name.c_str());
  return {};
}

// grant's and fetch's help: their own lines around the options they share.
int print_grant_help(const char* intro, const char* end) {
  std::fputs(intro, stdout);
  std::fputs(kGrantOptionsHelp, stdout);
  std::fputs(end, stdout);
  return kExitOk;
}

}  // namespace

int grant_command(const std::vector<std::string>& args) {
  auto parsed = parse_grant_args("grant", args, {});
  if (!parsed) return kExitUsage;
  if (parsed->has("help")) {
    return print_grant_help(kGrantHelp, kGrantHelpEnd);
  }
  auto loaded = load(*parsed);
  if (!loaded) return fail(loaded.error());
  auto grant = loaded->engine->make_grant(*loaded->client, grant_request_from(*parsed));
  if (!grant) return fail(grant.error());
  std::printf("%s\n", grant->jwt.c_str());
  return kExitOk;
}

int fetch_command(const std::vector<std::string>& args) {
  auto parsed = parse_grant_args("fetch", args,
                                 {{"json", false, false}, {"exchange", true, false}, {"verbose", false, false}});
  if (!parsed) return kExitUsage;
  if (parsed->has("help")) {
    return print_grant_help(kFetchHelp, kFetchHelpEnd);
  }
  const auto exchange = parsed->get("exchange");
  if (exchange && *exchange != "altinn") {
    return usage("fetch", "--exchange takes only \"altinn\"");
  }
  // The one `error:` line says what went wrong; the retries' warnings are
  // for whoever asks to watch.
  log::set_level(parsed->has("verbose") ? log::Level::debug : log::Level::error);
  auto loaded = load(*parsed);
  if (!loaded) return fail(loaded.error());
  if (exchange) {
    // The socket's words and code, before any grant is signed.
    if (auto possible = altinn::check_exchange_endpoint(*loaded->client); !possible) return fail(possible.error());
  }
  auto token = loaded->engine->fetch_token(*loaded->client, grant_request_from(*parsed));
  if (!token) return fail(token.error());
  if (exchange) {
    auto altinn_token = altinn::exchange_for_altinn(*loaded->client, token->access_token);
    if (!altinn_token) return fail(altinn_token.error());
    token = std::move(*altinn_token);
  }
  if (parsed->has("json")) {
    std::printf("%s\n", token_json(*token).c_str());
  } else {
    std::printf("%s\n", token->access_token.c_str());
  }
  return kExitOk;
}

int check_config_command(const std::vector<std::string>& args) {
  auto parsed = parse_args("check-config", args,
                           {{"config", true, false}, {"client", true, false}, {"online", false, false}});
  if (!parsed) return kExitUsage;
  if (parsed->has("help")) {
    std::fputs(kCheckHelp, stdout);
    return kExitOk;
  }
  if (!parsed->has("config")) return usage("check-config", "--config FILE is required");

  keep_this_process_private();
  auto config = load_config(*parsed->get("config"));
  if (!config) return fail(config.error());
  std::printf("ok: %s parses (%zu client%s)\n", config->path.c_str(), config->clients.size(),
              config->clients.size() == 1 ? "" : "s");
  std::printf("    log format: %s\n", log::format_word(config->log_format));
  for (const std::string& warning : unreachable_allow_rules(*config, ::geteuid(), ::getegid())) {
    std::printf("warning: %s\n", warning.c_str());
  }

  const bool online = parsed->has("online");
  auto engine = engine_through_helper(online ? with_online_check_scope(*config) : *config);
  if (!engine) return fail(engine.error());
  std::printf("ok: PKCS#11 module %s loaded, token opened, logged in\n", config->module.c_str());

  auto clients = clients_to_check(**engine, *config, parsed->get("client"));
  if (!clients) return fail(clients.error());
  const std::int64_t now = epoch_seconds_now();
  for (const ClientConfig* client : *clients) {
    if (auto checked = check_client_offline(**engine, *client, now); !checked) {
      return fail(checked.error());
    }
  }
  std::fflush(stdout);  // before the online checks' lines, in order
  if (online && !check_online(**engine, *clients)) return kExitFailed;
  std::printf("all checks passed\n");
  return kExitOk;
}

}  // namespace mpa::cli
