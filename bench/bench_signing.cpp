// Grants built and signed per second, against a raw libp11 sign loop on the
// same key in the same run (the token's own speed is the ceiling).
//
//   bench_signing CONFIG SECONDS
//
// CONFIG is an agent configuration whose first client's key is used. The
// baseline talks to libp11 directly — only a benchmark may; the agent's
// code keeps PKCS#11 inside pkcs11/.
#include <cstdio>
#include <cstdlib>
#include <string>

#include "agent/config/config.h"
#include "agent/engine/engine.h"
#include "bench/in_process_signers.h"
#include "bench/raw_pkcs11.h"

using mpa::bench::RawKey;
using mpa::bench::open_raw;
using mpa::bench::compare_with_raw;
using mpa::bench::raw_sign;

int main(int argc, char** argv) {
  if (argc != 3) {
    std::fprintf(stderr, "usage: bench_signing CONFIG SECONDS\n");
    return 2;
  }
  const double seconds = std::atof(argv[2]);
  auto config = mpa::load_config(argv[1]);
  if (!config) {
    std::fprintf(stderr, "bench: %s\n", config.error().message.c_str());
    return 1;
  }
  auto engine = mpa::Engine::create(*config, mpa::bench::in_process_signers);
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

  compare_with_raw("signing (RSA-2048, RS256)", seconds, sign, grant);
  EVP_PKEY_free(raw.pkey);
  return 0;
}
