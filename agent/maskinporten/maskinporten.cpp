#include "agent/maskinporten/maskinporten.h"

#include <future>
#include <memory>
#include <string>

#include "agent/maskinporten/answer_checks.h"
#include "agent/maskinporten/endpoint.h"
#include "common/log.h"
#include "common/text.h"

namespace mpa {
namespace {

using maskinporten_detail::is_retryable_status;
using std::chrono::milliseconds;

constexpr const char* kJwtBearerGrantType = "urn:ietf:params:oauth:grant-type:jwt-bearer";

MaskinportenIo real_io(const ClientConfig& client, std::shared_ptr<AsyncHttp> http) {
  const HttpOptions options = http_options(client);
  MaskinportenIo io;
  io.post_form = [options, http](const std::string& url, const std::string& body,
                                 int timeout_seconds, MaskinportenIo::Answer answer) {
    HttpOptions attempt = options;
    attempt.timeout_seconds = timeout_seconds;
    http->post_form(url, body, attempt, std::move(answer));
  };
  io.get = [options, http](const std::string& url, MaskinportenIo::Answer answer) {
    http->get(url, {"Accept: application/json"}, options, std::move(answer));
  };
  io.after = [http](milliseconds wait, std::function<void()> job) {
    http->after(wait, std::move(job));
  };
  io.clock = Clock::system();
  return io;
}

// Waits for a callback-style call: for the blocking forms.
template <class T, class Start>
T wait_for(Start start) {
  auto promise = std::make_shared<std::promise<T>>();
  auto future = promise->get_future();
  start([promise](T value) { promise->set_value(std::move(value)); });
  return future.get();
}

}  // namespace

std::string token_request_form(const std::string& signed_grant) {
  return form_encode({{"grant_type", kJwtBearerGrantType}, {"assertion", signed_grant}});
}

MaskinportenIo MaskinportenIo::blocking(
    std::function<Result<HttpResponse>(const std::string&, const std::string&, int)> post_form,
    std::function<Result<HttpResponse>(const std::string&)> get,
    std::function<void(milliseconds)> sleep, Clock clock) {
  MaskinportenIo io;
  io.post_form = [post_form](const std::string& url, const std::string& body, int timeout,
                             Answer answer) { answer(post_form(url, body, timeout)); };
  io.get = [get](const std::string& url, Answer answer) { answer(get(url)); };
  io.after = [sleep](milliseconds wait, std::function<void()> job) {
    sleep(wait);
    job();
  };
  io.clock = std::move(clock);
  return io;
}

MaskinportenClient::MaskinportenClient(ClientConfig client, std::shared_ptr<AsyncHttp> http)
    : MaskinportenClient(client, real_io(client, std::move(http))) {}

MaskinportenClient::MaskinportenClient(ClientConfig client, MaskinportenIo io)
    : client_(std::move(client)), io_(std::move(io)), endpoint_(std::make_shared<Endpoint>()) {}

Status MaskinportenClient::prepare() {
  return wait_for<Status>([this](std::function<void(Status)> done) { prepare(std::move(done)); });
}

namespace {

// One attempt's verdict: the token or the error, and whether another grant
// may do better.
using Attempt = AttemptOutcome<AccessToken>;

Attempt judge(const Result<HttpResponse>& response, std::int64_t now) {
  if (!response) {
    // Network trouble may pass; a refused URL or option, or a certificate
    // that does not verify, will not.
    const Error& error = response.error();
    return {error,
            error.code == ErrorCode::unavailable && error.reason != ErrorReason::tls_untrusted,
            std::nullopt};
  }
  Attempt attempt{parse_token_response(*response, now), false, std::nullopt};
  if (attempt.result.ok()) return attempt;
  // A 200 we cannot read is retried too: it is most likely a proxy's page or
  // a cut-off answer, and the next attempt is a fresh grant anyway.
  attempt.retryable = is_retryable_status(response->status) || response->status == 200;
  if (response->status == 429 && response->retry_after) {
    attempt.retry_after = parse_retry_after(*response->retry_after, now);
  }
  return attempt;
}

std::string attempts_words(int attempts) {
  return std::to_string(attempts) + (attempts == 1 ? " attempt" : " attempts");
}

// One exchange's attempts, kept alive by the callbacks in flight.
struct ExchangeRun : std::enable_shared_from_this<ExchangeRun> {
  ExchangeRun(const ClientConfig& client, MaskinportenIo i, std::string url,
              MaskinportenClient::GrantMaker make, MaskinportenClient::TokenDone d)
      : timeout_cap(client.timeout_seconds),
        io(std::move(i)),
        endpoint(std::move(url)),
        make_grant(std::move(make)),
        done(std::move(d)),
        budget(client.retry_deadline_seconds),
        policy(budget, io.clock) {}

  int timeout_cap;  // seconds, of one attempt
  MaskinportenIo io;
  std::string endpoint;
  MaskinportenClient::GrantMaker make_grant;
  MaskinportenClient::TokenDone done;
  std::chrono::seconds budget;
  RetryPolicy policy;
  int attempts = 0;
  std::string jti;  // of the latest grant, for the log

  // Each attempt is a new grant (new jti, iat, signature): Maskinporten
  // refuses a jti it has seen, and a retried grant may have been used.
  void attempt() {
    ++attempts;
    make_grant([self = shared_from_this()](Result<SignedGrant> grant) {
      if (!grant) {
        self->done(std::move(grant).error());
        return;
      }
      self->post(*grant);
    });
  }

  void post(const SignedGrant& grant) {
    jti = grant.jti;
    const std::string form = token_request_form(grant.jwt);
    const int timeout = policy.attempt_timeout_seconds(timeout_cap);
    io.post_form(endpoint, form, timeout, [self = shared_from_this()](Result<HttpResponse> response) {
      self->judged(judge(response, self->io.clock.epoch_seconds()));
    });
  }

  void judged(Attempt outcome) {
    policy.after(std::move(outcome), attempts, report(), done,
                 [self = shared_from_this()](milliseconds wait) {
                   self->io.after(wait, [self] { self->attempt(); });
                 });
  }

  RetryReport report() const {
    RetryReport words;
    words.give_up = [this](const Error& last, int tried, std::optional<int> asked) {
      const std::string why =
          asked ? "; it asks to wait " + std::to_string(*asked) + " s, past the retry deadline" : "";
      return make_error(last.code, last.message + why + " (gave up after " +
                                       attempts_words(tried) + " within " +
                                       std::to_string(budget.count()) + " s)");
    };
    words.retrying = [this](const Error& last, int tried, milliseconds wait) {
      log::warning("Maskinporten attempt " + std::to_string(tried) + " (jti " + jti +
                   ") failed: " + last.message + "; retrying in " + std::to_string(wait.count()) +
                   " ms");
    };
    return words;
  }
};

}  // namespace

void MaskinportenClient::exchange(GrantMaker make_grant, TokenDone done) const {
  std::string url = token_endpoint();
  if (url.empty()) {
    done(make_error(ErrorCode::internal, "exchange() before prepare() succeeded"));
    return;
  }
  auto run = std::make_shared<ExchangeRun>(client_, io_, std::move(url), std::move(make_grant),
                                           std::move(done));
  run->attempt();
}

Result<AccessToken> MaskinportenClient::exchange(
    const std::function<Result<SignedGrant>()>& make_grant) const {
  return wait_for<Result<AccessToken>>([&](TokenDone done) {
    exchange([make_grant](GrantDone grant_done) { grant_done(make_grant()); }, std::move(done));
  });
}

}  // namespace mpa
