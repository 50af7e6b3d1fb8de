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
#include "agent/signer_helper/helper_launch.h"
#include "agent/signer_helper/helper_pool.h"
#include "bench/raw_pkcs11.h"

using mpa::bench::RawKey;
using mpa::bench::open_raw;
using mpa::bench::compare_with_raw;
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
  mpa::signer_helper::HelperPool pool;
  pool.set_launcher([agent_binary] { return mpa::signer_helper::launch_helper_process(agent_binary); });
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

  compare_with_raw("through the signer helper", seconds, sign, grant);
  EVP_PKEY_free(raw.pkey);
  return 0;
}
