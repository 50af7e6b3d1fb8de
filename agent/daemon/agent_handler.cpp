#include "agent/daemon/agent_handler.h"

#include <unistd.h>

#include <exception>
#include <string>
#include <utility>

#include "agent/altinn/altinn_token.h"
#include "agent/daemon/metrics_op.h"
#include "agent/daemon/verify_token_op.h"
#include "agent/signer_helper/helper_pool.h"
#include "common/log.h"
#include "common/version.h"
#include "protocol/status.h"

namespace mpa {
namespace {

// The scopes as Maskinporten writes them (space-separated), for log lines.
std::string scopes_text(const std::vector<std::string>& scopes) {
  std::string text;
  for (const auto& scope : scopes) text += (text.empty() ? "" : " ") + scope;
  return text;
}

TokenTarget token_target(const protocol::TokenRequest& request) {
  return TokenTarget{request.client, request.grant, request.exchange};
}

// The Altinn token lives no longer than the Maskinporten token it is made
// from, and a request with the default min_ttl (the refresh margin) is
// refreshed ahead once its token has twice the margin left. So a cached
// Maskinporten token is made into an Altinn token only while it has more
// than that, by this much; else the new Altinn token would be due for
// refresh at once, or fall short of the client's min_ttl.
constexpr std::int64_t kMaskinportenReuseSlackSeconds = 15;

void log_maskinporten_answer(const TokenTarget& target, const Result<AccessToken>& token) {
  if (!token) {
    log::warning("client " + target.client + ": no token for \"" +
                 scopes_text(target.grant.scopes) + "\": " + token.error().message);
    return;
  }
  log::debug("client " + target.client + ": token " + log::token_ref(token->access_token) +
             " for \"" + scopes_text(target.grant.scopes) + "\", expires in " +
             std::to_string(token->expires_in) + " s");
}

// What the cache calls for each miss or refresh ahead. No thread waits
// while a token is signed and exchanged, at Maskinporten or at Altinn.
class TokenFetcher {
 public:
  TokenFetcher(std::shared_ptr<const Engine> engine, int refresh_margin_seconds)
      : engine_(std::move(engine)),
        link_(std::make_shared<std::weak_ptr<TokenCache>>()),
        reuse_ttl_(2 * std::int64_t{refresh_margin_seconds} + kMaskinportenReuseSlackSeconds) {}

  // The cache this fetcher fills; set once, before the cache is shared.
  // Weak: the cache owns the fetcher.
  void attach(const std::shared_ptr<TokenCache>& cache) { *link_ = cache; }

  void operator()(const TokenTarget& target, const TokenCache::FetchOrder& order,
                  std::function<void(Result<AccessToken>)> done) const {
    auto client = engine_->client(target.client);
    if (!client) {
      done(client.error());
      return;
    }
    if (!target.exchange) {
      engine_->fetch_token(**client, target.grant, order.sign_by_ms,
                           [target, done = std::move(done)](Result<AccessToken> token) {
                             log_maskinporten_answer(target, token);
                             done(std::move(token));
                           });
      return;
    }
    if (*target.exchange != "altinn") {
      done(make_error(ErrorCode::invalid_request,
                      "exchange must be \"altinn\", not \"" + *target.exchange + "\""));
      return;
    }
    altinn_token(**client, target, order.sign_by_ms, std::move(done));
  }

 private:
  // The Altinn token is made from the cached Maskinporten token for the
  // same request without `exchange`, or from a fresh one that is cached in
  // turn. peek, put and invalidate never wait for another exchange.
  void altinn_token(const ClientConfig& client, const TokenTarget& target,
                    std::int64_t sign_by_ms, std::function<void(Result<AccessToken>)> done) const {
    TokenTarget plain = target;
    plain.exchange.reset();
    const std::weak_ptr<TokenCache> link = *link_;
    altinn::MaskinportenSource source;
    source.cached = [link, plain, reuse_ttl = reuse_ttl_]() -> std::optional<AccessToken> {
      const auto cache = link.lock();
      return cache ? cache->peek(plain, reuse_ttl) : std::nullopt;
    };
    // The engine holds the client's configuration as long as it lives.
    source.fresh = [engine = engine_, config = &client, plain, link,
                    sign_by_ms](altinn::AltinnDone got) {
      engine->fetch_token(*config, plain.grant, sign_by_ms,
                          [plain, link, got = std::move(got)](Result<AccessToken> token) {
                            log_maskinporten_answer(plain, token);
                            if (const auto cache = link.lock(); token && cache) {
                              cache->put(plain, *token);
                            }
                            got(std::move(token));
                          });
    };
    source.forget = [link, plain] {
      if (const auto cache = link.lock()) cache->invalidate(plain);
    };
    auto http = engine_->http(client);
    if (!http) {
      done(make_error(ErrorCode::internal, "no HTTP lane for client " + client.name));
      return;
    }
    altinn::altinn_token(client, {target.client, scopes_text(target.grant.scopes)},
                         std::move(source), altinn::AltinnIo::on(std::move(http)),
                         std::move(done));
  }

  std::shared_ptr<const Engine> engine_;
  std::shared_ptr<std::weak_ptr<TokenCache>> link_;  // shared by the copies std::function makes
  std::int64_t reuse_ttl_;
};

protocol::TokenResponse token_response(const AccessToken& token, std::int64_t now) {
  protocol::TokenResponse response;
  response.access_token = token.access_token;
  response.token_type = token.token_type;
  response.expires_at = token.expires_at;
  response.expires_in = token.expires_at > now ? token.expires_at - now : 0;
  response.scope = token.scope;
  return response;
}

// A failed exchange's words may name what another tenant asked for (a
// consumer_org, a system user): a peer that neither sees everything nor
// asked for it gets the error code only.
std::string last_error_for(const AgentState& state, const PeerCredentials& peer,
                           const TokenCache::LastError& error) {
  if (state.policy->sees_everything(peer) || error.owner == exchange_owner(peer)) return error.words;
  return error.code + ": (an exchange another peer asked for failed; its words are in the agent's log)";
}

protocol::ClientStatus client_status(const AgentState& state, const ClientConfig& client,
                                     const PeerCredentials& peer,
                                     const std::map<std::string, TokenCache::LastError>& cache_errors) {
  const SignerInfo info = state.engine->signer_info(client);
  protocol::ClientStatus status;
  status.name = client.name;
  status.client_id = client.client_id;
  status.token_present = info.token_present;
  status.logged_in = info.logged_in;
  status.token_label = info.token_label;
  status.certificate_subject = info.certificate_subject;
  status.certificate_not_after = info.certificate_not_after;
  const auto cached = cache_errors.find(client.name);
  status.last_error =
      cached != cache_errors.end() ? last_error_for(state, peer, cached->second) : info.last_error;
  return status;
}

// Status lists only the clients the peer may use (the agent's own uid and
// root see all): another tenant's client id, certificate and last error
// are not its business.
protocol::StatusResponse agent_status(const AgentState& state, const PeerCredentials& peer,
                                      std::int64_t uptime_seconds,
                                      const std::optional<FairScheduler::Stats>& workers) {
  protocol::StatusResponse status;
  status.version = kVersion;
  status.uptime_seconds = uptime_seconds;
  status.clients.emplace();
  const auto cache_errors = state.cache->last_errors();
  for (const ClientConfig& client : state.config.clients) {
    if (!state.policy->may_see(peer, client.name)) continue;
    status.clients->push_back(client_status(state, client, peer, cache_errors));
  }
  const TokenCache::Stats stats = state.cache->stats();
  const auto count = [](auto n) { return static_cast<std::int64_t>(n); };
  status.cache = protocol::CacheStatus{count(stats.entries), count(stats.in_flight),
                                       count(stats.hits),    count(stats.misses),
                                       count(stats.exchanges), count(stats.held)};
  if (workers) {
    status.workers = protocol::WorkerStatus{count(workers->slots), count(workers->running),
                                            count(workers->queued)};
  }
  status.signing.emplace();
  for (const Engine::SignatureQueueStatus& queue : state.engine->signature_queues()) {
    status.signing->push_back(protocol::SigningStatus{
        queue.token, count(queue.stats.threads), count(queue.stats.signing),
        count(queue.stats.queued), queue.stats.oldest_wait_ms});
  }
  return status;
}

// The client a token or invalidate request names, if the peer may use it
// for those scopes; `request.client` becomes the resolved name. An unknown
// (or missing) name is answered with the clients the peer may use.
Status authorize(const AgentState& state, const PeerCredentials& peer,
                 protocol::TokenRequest& request) {
  auto client = state.engine->client(request.client);
  if (!client) {
    Error error = std::move(client).error();
    error.message += "; " + state.policy->clients_it_may_use(peer, state.config.clients);
    return error;
  }
  request.client = (*client)->name;
  return state.policy->check(peer, request.client, request.grant);
}

// A token request that the grant builder would refuse (a scope outside the
// client's list, a bad resource ...) is answered before the cache: it
// takes no entry and starts no exchange.
Status check_token_request(const AgentState& state, const protocol::TokenRequest& request) {
  auto client = state.engine->client(request.client);
  if (!client) return client.error();
  // Before the cache, so no Maskinporten token is made for nothing.
  if (request.exchange) MPA_RETURN_IF_ERROR(altinn::check_exchange_endpoint(**client));
  return check_grant_request(request.grant, **client);
}

// A reply built by our own code failed: our bug, logged, answered `internal`.
void answer_internal(const Reply& reply, const std::optional<std::string>& id, const char* what) {
  log::error(std::string("bug: could not build the answer: ") + what);
  reply(protocol::encode_error(id, make_error(ErrorCode::internal, "the agent failed to answer")));
}

// Each client's `prefetch` tokens: fetched now, and kept fresh by the
// cache from then on, so the first requests after a start or reload are hits.
void start_prefetch(const AgentState& state) {
  for (const ClientConfig& client : state.config.clients) {
    for (const std::vector<std::string>& scopes : client.prefetch) {
      TokenTarget target;
      target.client = client.name;
      target.grant.scopes = scopes;
      state.cache->keep_fresh(target, kPrefetchOwner);
    }
  }
}

}  // namespace

std::string exchange_owner(const PeerCredentials& peer) {
  return "uid " + std::to_string(peer.uid);
}

Result<std::shared_ptr<AgentState>> build_agent_state(const Config& config,
                                                      TokenCache::Scheduler exchanges) {
  // --- signer helpers: in `run` only the helpers load the module ---
  auto engine = Engine::create(config, [](const Config& loaded) {
    return signer_helper::HelperPool::for_this_process().signers_for(loaded);
  });
  // --- end signer helpers ---
  if (!engine) return engine.error();
  std::shared_ptr<const altinn::ConsentVerifier> verifier;
  if (!config.altinn_certificates.empty()) {
    auto made = altinn::ConsentVerifier::create(config.altinn_certificates,
                                                config.altinn_leeway_seconds);
    if (!made) return made.error();
    verifier = std::move(*made);
  }
  auto state = std::make_shared<AgentState>();
  state->config = config;
  state->engine = std::shared_ptr<const Engine>(std::move(*engine));
  state->policy = std::make_shared<const PeerPolicy>(config.allow, ::geteuid());
  state->altinn_verifier = std::move(verifier);
  MPA_ASSIGN_OR_RETURN(state->verify_keys, make_verify_keys(config));
  TokenCacheOptions options;
  options.refresh_margin_seconds = config.refresh_margin_seconds;
  TokenFetcher fetcher(state->engine, config.refresh_margin_seconds);
  state->cache = std::make_shared<TokenCache>(fetcher, std::move(exchanges), options);
  fetcher.attach(state->cache);
  start_prefetch(*state);
  return state;
}

AgentHandler::AgentHandler(std::shared_ptr<AgentState> state, WorkScheduler control,
                           WorkScheduler verify, Clock clock)
    : state_(std::move(state)),
      scheduler_(std::move(control)),
      verify_scheduler_(std::move(verify)),
      clock_(std::move(clock)),
      started_at_(clock_.epoch_seconds()) {}

void AgentHandler::replace_state(std::shared_ptr<AgentState> state) {
  std::lock_guard lock(mutex_);
  state_ = std::move(state);
}

std::shared_ptr<AgentState> AgentHandler::state() const {
  std::lock_guard lock(mutex_);
  return state_;
}

void AgentHandler::report_workers(std::function<FairScheduler::Stats()> stats) {
  worker_stats_ = std::move(stats);
}

bool AgentHandler::may_connect(const PeerCredentials& peer) const {
  return state()->policy->may_connect(peer);
}

void AgentHandler::sweep_cache() const { state()->cache->sweep(); }

void AgentHandler::refresh_ahead() const { state()->cache->refresh_due_entries(); }

void AgentHandler::handle(const PeerCredentials& peer, protocol::Request request, Reply reply) {
  auto state = this->state();
  const auto id = request.id_json;
  reply = counted_reply(protocol::op_name(request.body), std::move(reply));
  try {
    if (std::holds_alternative<protocol::PingRequest>(request.body)) {
      reply(protocol::encode_ok(id));
    } else if (auto* token = std::get_if<protocol::TokenRequest>(&request.body)) {
      handle_token(state, peer, id, *token, reply);
    } else if (auto* invalidate = std::get_if<protocol::InvalidateRequest>(&request.body)) {
      handle_invalidate(*state, peer, id, *invalidate, reply);
    } else if (std::holds_alternative<protocol::StatusRequest>(request.body)) {
      handle_status(state, peer, id, reply);
    } else if (auto* check = std::get_if<protocol::VerifyTokenRequest>(&request.body)) {
      handle_verify_token(state, id, std::move(*check), verify_scheduler_, clock_, reply);
    } else if (std::holds_alternative<protocol::MetricsRequest>(request.body)) {
      handle_metrics(state, peer, id, scheduler_, clock_, reply);
    } else {
      auto& verify = std::get<protocol::VerifyAltinnRequest>(request.body);
      handle_verify_altinn(state, id, std::move(verify.token), reply);
    }
  } catch (const std::exception& e) {
    answer_internal(reply, id, e.what());
  }
}

void AgentHandler::handle_token(const std::shared_ptr<AgentState>& state, const PeerCredentials& peer,
                                const std::optional<std::string>& id, protocol::TokenRequest& token,
                                Reply reply) const {
  if (auto allowed = authorize(*state, peer, token); !allowed) {
    reply(protocol::encode_error(id, allowed.error()));
    return;
  }
  if (auto checked = check_token_request(*state, token); !checked) {
    reply(protocol::encode_error(id, checked.error()));
    return;
  }
  const std::int64_t min_ttl = token.min_ttl.value_or(state->config.refresh_margin_seconds);
  auto answer = [state, id, reply, now = clock_.epoch_seconds](Result<AccessToken> result) {
    try {
      if (!result) {
        reply(protocol::encode_error(id, result.error()));
      } else {
        reply(protocol::encode_token_response(id, token_response(*result, now())));
      }
    } catch (const std::exception& e) {
      answer_internal(reply, id, e.what());
    }
  };
  state->cache->get(token_target(token), min_ttl, std::move(answer), exchange_owner(peer));
}

void AgentHandler::handle_invalidate(const AgentState& state, const PeerCredentials& peer,
                                     const std::optional<std::string>& id,
                                     protocol::InvalidateRequest& invalidate, const Reply& reply) const {
  if (auto allowed = authorize(state, peer, invalidate.target); !allowed) {
    reply(protocol::encode_error(id, allowed.error()));
    return;
  }
  const bool dropped = state.cache->invalidate(token_target(invalidate.target));
  reply(protocol::encode_ok(id, dropped ? R"({"invalidated":true})" : R"({"invalidated":false})"));
}

void AgentHandler::handle_status(const std::shared_ptr<AgentState>& state,
                                 const PeerCredentials& peer,
                                 const std::optional<std::string>& id, Reply reply) const {
  // signer_info may talk to the token: not on the I/O thread.
  const std::int64_t uptime = clock_.epoch_seconds() - started_at_;
  std::optional<FairScheduler::Stats> workers;
  if (worker_stats_) workers = worker_stats_();
  scheduler_([state, peer, id, reply, uptime, workers] {
    try {
      reply(protocol::encode_status_response(id, agent_status(*state, peer, uptime, workers)));
    } catch (const std::exception& e) {
      answer_internal(reply, id, e.what());
    }
  });
}

void AgentHandler::handle_verify_altinn(const std::shared_ptr<AgentState>& state,
                                        const std::optional<std::string>& id, std::string token,
                                        Reply reply) const {
  if (!state->altinn_verifier) {
    reply(protocol::encode_error(
        id, make_error(ErrorCode::invalid_request,
                       "verify_altinn needs [altinn] certificates in the configuration")));
    return;
  }
  scheduler_([state, id, reply, token = std::move(token), now = clock_.epoch_seconds] {
    try {
      auto claims = state->altinn_verifier->verify(token, now());
      if (!claims) {
        reply(protocol::encode_error(id, claims.error()));
      } else {
        reply(protocol::encode_ok(id, "{\"claims\":" + *claims + "}"));
      }
    } catch (const std::exception& e) {
      answer_internal(reply, id, e.what());
    }
  });
}

}  // namespace mpa
