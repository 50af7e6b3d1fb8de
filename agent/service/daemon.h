// The agent's process life (`maskinporten-agent run`): the socket (made
// here or passed by systemd), the worker pool, signals (SIGTERM/SIGINT
// graceful stop, SIGHUP reload), and the log lines an operator and the
// tests wait for ("ready: listening on PATH").
#pragma once

#include <optional>
#include <string>

#include "agent/engine/engine.h"
#include "common/log.h"
#include "common/result.h"

namespace mpa {

// Threads for what still blocks (the Altinn exchange, reload, sweeps);
// Maskinporten exchanges take none: they are signed on each token's
// signing queue and sent by an AsyncHttp.
inline constexpr int kWorkerThreads = 4;
// How often the cache looks for entries due for a refresh ahead.
inline constexpr int kRefreshAheadIntervalSeconds = 1;
// Threads for status and verify_altinn, apart from the workers, so that
// they answer while every worker waits on a slow Maskinporten.
inline constexpr int kControlThreads = 1;
// The thread verify_token runs on: a fetch of the issuer's keys waits for
// the network there, never in front of status or metrics.
inline constexpr int kVerifyThreads = 1;
// SIGTERM waits this long for requests in flight before closing them.
inline constexpr int kShutdownGraceSeconds = 20;
// How often idle cache entries are dropped.
inline constexpr int kCacheSweepIntervalSeconds = 60;

struct DaemonOptions {
  std::string config_path;
  // `run --log-format`: wins over [agent] log_format, at start and on reload.
  std::optional<log::Format> log_format;
  // Where each client's signer comes from; empty: a signer helper process
  // per token (helper_signers()), so that this process never loads the
  // PKCS#11 module.
  Engine::GrantSignerFactory signers;
};

// Runs until SIGTERM/SIGINT; ok after a graceful stop. `run` hardens the
// process first (agent/service/hardening.h). An error says why
// the agent could not start (bad configuration, token, socket in use).
Status run_daemon(const DaemonOptions& options);

}  // namespace mpa
