// Grants built and signed per second through the signer helper process
// (what `run` uses: the Engine made with the helper pool's signers, the
// key held by `maskinporten-agent signer-helper`), against a raw libp11
// sign loop on the same key in the same run.
//
//   bench_helper CONFIG SECONDS AGENT_BINARY
//
// CONFIG is an agent configuration whose first client's key is used;
// AGENT_BINARY is the maskinporten-agent started as the helper (this
// benchmark is not that binary, so /proc/self/exe will not do).
#include <cstdio>
#include <cstdlib>
#include <string>

#include "agent/config/config.h"
#include "agent/engine/engine.h"
#include "agent/signer/helper_launch.h"
#include "agent/signer/helper_pool.h"
#include "bench/raw_pkcs11.h"

using mpa::bench::RawKey;
using mpa::bench::open_raw;
using mpa::bench::rate;
using mpa::bench::raw_sign;

int main(int argc, char** argv) {
  if (argc != 4) {
    std::fprintf(stderr, "usage: bench_helper CONFIG SECONDS AGENT_BINARY\n");
    return 2;
  }
  const double seconds = std::atof(argv[2]);
  const std::string agent_binary = argv[3];
  auto config = mpa::load_config(argv[1]);
  if (!config) {
    std::fprintf(stderr, "bench: %s\n", config.error().message.c_str());
    return 1;
  }
  mpa::signer::HelperPool pool;
  pool.set_launcher([agent_binary] { return mpa::signer::launch_helper_process(agent_binary); });
  auto engine = mpa::Engine::create(*config, [&pool](const mpa::Config& loaded) {
    return pool.signers_for(loaded);
  });
  if (!engine) {
    std::fprintf(stderr, "bench: %s\n", engine.error().message.c_str());
    return 1;
  }
  RawKey raw;
  if (!open_raw(*config, raw)) {
    std::fprintf(stderr, "bench: cannot open the key through libp11 directly\n");
    return 1;
  }
  const mpa::ClientConfig& client = config->clients.front();
  mpa::GrantRequest request;
  request.scopes = {client.scopes.front()};
  auto grant = [&] { return static_cast<bool>((*engine)->make_grant(client, request)); };
  auto sign = [&] { return raw_sign(raw.pkey); };

  std::printf("%-34s %12s %12s %8s\n", "through the signer helper", "raw libp11/s", "grants/s",
              "ratio");
  for (int threads : {1, 2}) {
    // Four alternating rounds, so that drift and bursts of outside load
    // hit baseline and subject alike; the rates are the rounds' means.
    constexpr int kRounds = 4;
    double raw_rate = 0, grant_rate = 0;
    for (int round = 0; round < kRounds; ++round) {
      raw_rate += rate(threads, seconds / kRounds, sign) / kRounds;
      grant_rate += rate(threads, seconds / kRounds, grant) / kRounds;
    }
    std::printf("%-34s %12.0f %12.0f %7.1f%%\n",
                (std::to_string(threads) + (threads == 1 ? " thread" : " threads")).c_str(),
                raw_rate, grant_rate, 100.0 * grant_rate / raw_rate);
  }
  EVP_PKEY_free(raw.pkey);
  return 0;
}
