#include "agent/altinn/altinn_token.h"

#include <memory>
#include <utility>

#include "agent/metrics/agent_metrics.h"
#include "common/log.h"

namespace mpa::altinn {
namespace {

// One request's legs, kept alive by the callbacks in flight.
struct AltinnTokenRun : std::enable_shared_from_this<AltinnTokenRun> {
  AltinnTokenRun(const ClientConfig& c, AltinnRequest r, MaskinportenSource s, AltinnIo i,
                 AltinnDone d)
      : client(c), request(std::move(r)), source(std::move(s)), io(std::move(i)),
        done(std::move(d)) {}

  ClientConfig client;
  AltinnRequest request;
  MaskinportenSource source;
  AltinnIo io;
  AltinnDone done;
  bool from_cache = false;
  std::string maskinporten_ref;  // log::token_ref of the token exchanged

  void start() {
    if (auto cached = source.cached()) {
      from_cache = true;
      exchange(*cached);
      return;
    }
    exchange_fresh();
  }

  void exchange_fresh() {
    from_cache = false;
    source.fresh([self = shared_from_this()](Result<AccessToken> token) {
      if (!token) {
        self->done(std::move(token).error());
        return;
      }
      self->exchange(*token);
    });
  }

  void exchange(const AccessToken& maskinporten) {
    maskinporten_ref = log::token_ref(maskinporten.access_token);
    exchange_for_altinn(client, maskinporten.access_token, io,
                        metrics::counted_altinn_exchange<AccessToken>(
                            [self = shared_from_this()](Result<AccessToken> token) {
                              self->exchanged(std::move(token));
                            }));
  }

  void exchanged(Result<AccessToken> token) {
    if (!token && from_cache && token.error().code == ErrorCode::invalid_grant) {
      log::warning("client " + request.client +
                   ": Altinn refused the cached Maskinporten token " + maskinporten_ref +
                   "; trying once with a fresh one");
      source.forget();
      exchange_fresh();
      return;
    }
    if (!token) {
      log::warning("client " + request.client + ": no Altinn token for \"" + request.scopes +
                   "\": " + token.error().message);
      done(token.error().with_context("Altinn token exchange"));
      return;
    }
    log::debug("client " + request.client + ": Altinn token " +
               log::token_ref(token->access_token) + " from Maskinporten token " +
               maskinporten_ref + ", expires in " + std::to_string(token->expires_in) + " s");
    done(std::move(token));
  }
};

}  // namespace

void altinn_token(const ClientConfig& client, const AltinnRequest& request,
                  MaskinportenSource source, AltinnIo io, AltinnDone done) {
  auto run = std::make_shared<AltinnTokenRun>(client, request, std::move(source), std::move(io),
                                              std::move(done));
  run->start();
}

}  // namespace mpa::altinn
