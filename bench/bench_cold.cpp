// The baseline of the cold-path benchmark (bench/run_cold.sh): what the
// stand-in Maskinporten takes from a plain client that posts ready-made
// grants, no signing, no cache, with at most CONNECTIONS in flight and
// connections reused.
//
//   bench_cold direct CONFIG COUNT CONNECTIONS
//
// Signs COUNT grants first (each a new consumer_org, as the agent's run
// asks for), then posts them all and prints rate=<tokens/s> ok=N failed=N.
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdio>
#include <cstdlib>
#include <mutex>
#include <string>
#include <vector>

#include "agent/config/config.h"
#include "agent/engine/engine.h"
#include "agent/http/async_http.h"
#include "agent/maskinporten/maskinporten.h"
#include "bench/in_process_signers.h"

using namespace mpa;

namespace {

struct Progress {
  std::mutex mutex;
  std::condition_variable done;
  std::size_t next = 0, answered = 0, ok = 0;
  std::string first_failure;
};

int direct(const std::string& config_path, std::size_t count, std::size_t connections) {
  auto config = load_config(config_path);
  if (!config) return std::fprintf(stderr, "%s\n", config.error().message.c_str()), 1;
  auto engine = Engine::create(*config, bench::in_process_signers);
  if (!engine) return std::fprintf(stderr, "%s\n", engine.error().message.c_str()), 1;
  const ClientConfig& client = config->clients.front();
  std::vector<std::string> forms;
  for (std::size_t i = 0; i < count; ++i) {
    GrantRequest request;
    request.scopes = {client.scopes.front()};
    char org[16];
    std::snprintf(org, sizeof org, "%09zu", 800000000 + i);
    request.consumer_org = org;
    auto grant = (*engine)->make_grant(client, request);
    if (!grant) return std::fprintf(stderr, "%s\n", grant.error().message.c_str()), 1;
    forms.push_back(form_encode({{"grant_type", "urn:ietf:params:oauth:grant-type:jwt-bearer"},
                                 {"assertion", grant->jwt}}));
  }
  auto http = AsyncHttp::create(client.ca_file);
  if (!http) return std::fprintf(stderr, "%s\n", http.error().message.c_str()), 1;
  const HttpOptions options = http_options(client);
  Progress progress;
  std::function<void()> post_next = [&] {
    std::size_t i = 0;
    {
      std::lock_guard lock(progress.mutex);
      if (progress.next == forms.size()) return;
      i = progress.next++;
    }
    (*http)->post_form(client.token_endpoint, forms[i], options, [&](Result<HttpResponse> r) {
      {
        std::lock_guard lock(progress.mutex);
        ++progress.answered;
        if (r && r->status == 200) {
          ++progress.ok;
        } else if (progress.first_failure.empty()) {
          progress.first_failure = r ? std::to_string(r->status) + " " + r->body : r.error().message;
        }
      }
      progress.done.notify_all();
      post_next();
    });
  };
  const auto start = std::chrono::steady_clock::now();
  for (std::size_t c = 0; c < connections; ++c) post_next();
  {
    std::unique_lock lock(progress.mutex);
    progress.done.wait(lock, [&] { return progress.answered == forms.size(); });
  }
  const double seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  http->reset();  // joins the HTTP thread: no callback runs after this
  if (!progress.first_failure.empty()) std::fprintf(stderr, "first failure: %s\n", progress.first_failure.c_str());
  std::printf("rate=%.1f ok=%zu failed=%zu\n", static_cast<double>(forms.size()) / seconds,
              progress.ok, forms.size() - progress.ok);
  return progress.ok == forms.size() ? 0 : 1;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc == 5 && std::string(argv[1]) == "direct") {
    return direct(argv[2], std::strtoul(argv[3], nullptr, 10), std::strtoul(argv[4], nullptr, 10));
  }
  std::fprintf(stderr, "usage: bench_cold direct CONFIG COUNT CONNECTIONS\n");
  return 2;
}
