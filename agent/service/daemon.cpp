#include "agent/service/daemon.h"

#include <fcntl.h>
#include <malloc.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <systemd/sd-daemon.h>
#include <unistd.h>

#include <boost/asio/io_context.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/signal_set.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/thread_pool.hpp>
#include <csignal>
#include <optional>

#include "agent/ops/agent_handler.h"
#include "agent/cache/fair_scheduler.h"
#include "agent/server/listen_socket.h"
#include "agent/service/service_manager.h"
#include "agent/ops/metrics_op.h"
#include "common/clock.h"
#include "common/log.h"
#include "common/memory_privacy.h"
#include "common/unique_fd.h"
#include "common/version.h"
#include "agent/server/server.h"

namespace mpa {
namespace {

constexpr std::int64_t kSecondsPerDay = 86400;
// Files the agent creates (the socket's directory) are private.
constexpr mode_t kProcessUmask = 0077;
// See harden_process().
constexpr int kMallocArenas = 1;

// As ssh-agent's sanitise_stdfd: descriptors 0, 1 and 2 are open (on
// /dev/null when whoever started us closed them), so that nothing the agent
// opens later (the socket, the PIN file) becomes "stderr" for log lines.
void open_standard_descriptors() {
  for (int fd = STDIN_FILENO; fd <= STDERR_FILENO; ++fd) {
    if (::fcntl(fd, F_GETFD) != -1 || errno != EBADF) continue;
    UniqueFd null(::open("/dev/null", O_RDWR));
    if (!null.valid()) continue;
    if (null.get() == fd) {
      (void)null.release();  // it became the missing descriptor itself: keep it open
      continue;
    }
    ::dup2(null.get(), fd);
  }
}

// Descriptors inherited from whoever started us (a shell's open files, a
// parent's sockets) have no business in the agent; those systemd passed
// (LISTEN_FDS, from fd 3 on) are kept for socket activation.
void close_inherited_descriptors() {
  const int first_stray = SD_LISTEN_FDS_START + ListeningSocket::systemd_fd_count();
  ::close_range(static_cast<unsigned>(first_stray), ~0U, 0);
}

// --- signer helpers (issue 8) ---
// With the default soft limit of 1,024, one uid's idle connections could
// leave a PKCS#11 module without descriptors (EMFILE inside C_Sign). The
// hard limit is what the administrator allows; take all of it.
void raise_open_file_limit() {
  rlimit files{};
  if (::getrlimit(RLIMIT_NOFILE, &files) != 0 || files.rlim_cur >= files.rlim_max) return;
  files.rlim_cur = files.rlim_max;
  if (::setrlimit(RLIMIT_NOFILE, &files) != 0) log::warning("setrlimit(RLIMIT_NOFILE) to the hard limit failed");
}
// --- end signer helpers ---

// As ssh-agent does: no core dumps or ptrace by other processes of the
// same user (they could read the PIN and tokens from memory), and a
// client that hangs up never kills us with SIGPIPE.
void harden_process() {
  open_standard_descriptors();
  close_inherited_descriptors();
  if (const Status kept = keep_memory_private(); !kept) log::warning(kept.error().message);
  std::signal(SIGPIPE, SIG_IGN);
  ::umask(kProcessUmask);
  // glibc gives each thread that allocates its own arena; with a few
  // workers doing TLS handshakes that is megabytes of freed but kept
  // memory for a daemon that mostly sits idle. One arena is enough: the
  // I/O thread does nearly all allocation, workers mostly wait on HTTP.
  ::mallopt(M_ARENA_MAX, kMallocArenas);
  raise_open_file_limit();
}

Result<ListeningSocket> open_socket(const Config& config) {
  auto activated = ListeningSocket::from_systemd();
  if (!activated) return activated.error();
  if (*activated) {
    log::info("using the socket systemd passed" +
              ((*activated)->path().empty() ? std::string() : " (" + (*activated)->path() + ")") +
              "; [agent] socket and socket_mode are the .socket unit's business");
    return std::move(**activated);
  }
  auto bound = ListeningSocket::bind_path(config.socket, config.socket_mode);
  if (!bound) return bound.error().with_context(config.path + ": [agent]");
  return bound;
}

void log_clients(const AgentState& state) {
  const std::int64_t now = epoch_seconds_now();
  for (const ClientConfig& client : state.config.clients) {
    const SignerInfo info = state.engine->signer_info(client);
    const std::int64_t days = (info.certificate_not_after - now) / kSecondsPerDay;
    log::info("client \"" + client.name + "\": client_id " + client.client_id + ", key " +
              client.key + ", certificate \"" + info.certificate_subject + "\", expires in " +
              std::to_string(days) + " days");
  }
}

Result<std::shared_ptr<AgentState>> load_and_build(const std::string& path,
                                                   TokenCache::Scheduler exchanges) {
  auto config = load_config(path);
  if (!config) return config.error();
  return build_agent_state(*config, std::move(exchanges));
}

std::shared_ptr<FairScheduler> exchange_slots(const Config& config) {
  const auto slots = static_cast<std::size_t>(config.max_concurrent_exchanges);
  const std::size_t kept = std::max<std::size_t>(1, slots / kExchangesKeptFromOnePeerDivisor);
  return FairScheduler::create(FairScheduler::run_here(), slots, slots > kept ? slots - kept : 1);
}

class Daemon final {
 public:
  explicit Daemon(const DaemonOptions& options)
      : config_path_(options.config_path),
        log_format_override_(options.log_format),
        pool_(kWorkerThreads),
        control_pool_(kControlThreads),
        verify_pool_(kVerifyThreads),
        signals_(io_, SIGTERM, SIGINT, SIGHUP),
        sweep_timer_(io_),
        refresh_timer_(io_),
        grace_timer_(io_),
        watchdog_timer_(io_) {}
  // Timers and handlers point at `this`.
  Daemon(const Daemon&) = delete;
  Daemon& operator=(const Daemon&) = delete;

  Status run() {
    auto started = start();
    if (started) io_.run();
    metrics_listener_.reset();
    // Workers first: nothing may answer into a connection after this.
    pool_.stop();
    pool_.join();
    control_pool_.stop();
    control_pool_.join();
    verify_pool_.stop();
    verify_pool_.join();
    server_.reset();
    listening_.reset();
    if (started) log::info("stopped");
    return started;
  }

 private:
  // Exchanges in flight share max_concurrent_exchanges fairly among
  // peers: one uid may have at most all but an eighth of them, so that a
  // peer asking for many uncached tokens while Maskinporten is slow leaves
  // room for everyone else.
  TokenCache::Scheduler exchanges() {
    return [fair = fair_](const std::string& owner,
                          std::function<void(std::function<void()>)> start) {
      fair->submit_async(owner, std::move(start));
    };
  }

  static WorkScheduler scheduler_on(boost::asio::thread_pool& pool) {
    return [executor = pool.get_executor()](std::function<void()> job) {
      boost::asio::post(executor, [job = std::move(job)] {
        job();
        // An exchange parses CA bundles and TLS state and frees it all;
        // hand those pages back so an idle agent stays small.
        ::malloc_trim(0);
      });
    };
  }

  Status start() {
    auto config = load_config(config_path_);
    if (!config) return config.error();
    apply_log_format(*config);
    auto socket = open_socket(*config);
    if (!socket) return socket.error();
    listening_.emplace(std::move(*socket));
    fair_ = exchange_slots(*config);
    auto state = build_agent_state(*config, exchanges());
    if (!state) return state.error();

    log::info(std::string("maskinporten-agent ") + kVersion + " with " + config->path);
    log_clients(**state);
    handler_ = std::make_shared<AgentHandler>(*state, scheduler_on(control_pool_),
                                              scheduler_on(verify_pool_));
    handler_->report_workers([fair = fair_] { return fair->stats(); });
    ServerOptions options;
    options.max_connections = static_cast<std::size_t>(config->max_connections);
    options.max_connections_per_uid = static_cast<std::size_t>(config->max_connections_per_uid);
    options.may_connect = [handler = handler_.get()](const PeerCredentials& peer) {
      return handler->may_connect(peer);
    };
    server_ = std::make_unique<Server>(io_, listening_->release_fd(), handler_, std::move(options));
    server_->start();
    MPA_ASSIGN_OR_RETURN(metrics_listener_, start_metrics_listener(*config, handler_));
    wait_for_signal();
    schedule_sweep();
    schedule_refresh_ahead();
    schedule_watchdog();
    log::info("ready: listening on " + listening_->path());
    service_manager_.ready("listening on " + listening_->path());
    return {};
  }

  void apply_log_format(const Config& config) const {
    log::set_format(log_format_override_.value_or(config.log_format));
  }

  void wait_for_signal() {
    signals_.async_wait([this](const boost::system::error_code& error, int signal_number) {
      if (error) return;
      on_signal(signal_number);
      wait_for_signal();
    });
  }

  void on_signal(int signal_number) {
    if (signal_number == SIGHUP) {
      start_reload();
    } else if (stopping_) {
      log::warning("second stop signal: closing every connection now");
      stop_now();
    } else {
      begin_shutdown(signal_number == SIGTERM ? "SIGTERM" : "SIGINT");
    }
  }

  // Stops accepting (and removes the socket file, so a new agent may
  // start), answers what was read, then leaves io_.run().
  void begin_shutdown(const char* signal_name) {
    stopping_ = true;
    log::info(std::string("stopping on ") + signal_name + ": finishing the requests in flight");
    service_manager_.stopping();
    listening_->remove_file();
    sweep_timer_.cancel();
    refresh_timer_.cancel();
    grace_timer_.expires_after(std::chrono::seconds(kShutdownGraceSeconds));
    grace_timer_.async_wait([this](const boost::system::error_code& error) {
      if (error) return;
      log::warning("requests still in flight after " + std::to_string(kShutdownGraceSeconds) +
                   " s; closing " + std::to_string(server_->connection_count()) +
                   " connections");
      stop_now();
    });
    server_->shut_down([this] {
      grace_timer_.cancel();
      io_.stop();
    });
  }

  void stop_now() {
    server_->close_all();
    io_.stop();
  }

  // Builds the new state on a worker (it logs in to the token) and
  // switches on the I/O thread only if it is whole.
  void start_reload() {
    if (stopping_) return;
    if (reloading_) {
      reload_again_ = true;
      return;
    }
    reloading_ = true;
    log::info("SIGHUP: reloading " + config_path_);
    service_manager_.reloading();
    boost::asio::post(pool_, [this] {
      auto built = load_and_build(config_path_, exchanges());
      if (built) log_clients(**built);
      boost::asio::post(io_, [this, built = std::move(built)]() mutable {
        finish_reload(std::move(built));
      });
    });
  }

  void finish_reload(Result<std::shared_ptr<AgentState>> built) {
    reloading_ = false;
    if (!built) {
      log::error("reload failed, keeping the running configuration: " + built.error().message);
    } else if (!stopping_) {
      warn_about_restart_only_changes(handler_->state()->config, (*built)->config);
      server_->set_max_connections(static_cast<std::size_t>((*built)->config.max_connections));
      server_->set_max_connections_per_uid(
          static_cast<std::size_t>((*built)->config.max_connections_per_uid));
      apply_log_format((*built)->config);
      handler_->replace_state(std::move(*built));
      log::info("reloaded the configuration from " + config_path_);
    }
    if (!stopping_) service_manager_.reloaded("listening on " + listening_->path());
    if (reload_again_) {
      reload_again_ = false;
      start_reload();
    }
  }

  void warn_about_restart_only_changes(const Config& running, const Config& loaded) const {
    if (loaded.max_concurrent_exchanges != running.max_concurrent_exchanges) {
      log::warning("[agent] max_concurrent_exchanges changed; that needs a restart (still " +
                   std::to_string(running.max_concurrent_exchanges) + ")");
    }
    if (loaded.metrics_listen != running.metrics_listen) {
      log::warning("[metrics] listen changed; that needs a restart");
    }
    if (listening_->activated()) return;
    if (loaded.socket != running.socket || loaded.socket_mode != running.socket_mode) {
      log::warning("[agent] socket or socket_mode changed; that needs a restart (still listening on " +
                   listening_->path() + ")");
    }
  }

  void schedule_sweep() {
    sweep_timer_.expires_after(std::chrono::seconds(kCacheSweepIntervalSeconds));
    sweep_timer_.async_wait([this](const boost::system::error_code& error) {
      if (error || stopping_) return;
      boost::asio::post(pool_, [handler = handler_] { handler->sweep_cache(); });
      schedule_sweep();
    });
  }

  // Starts refreshes ahead for entries in use, whether or not a request
  // comes in their window; it only starts exchanges, so it runs here.
  void schedule_refresh_ahead() {
    refresh_timer_.expires_after(std::chrono::seconds(kRefreshAheadIntervalSeconds));
    refresh_timer_.async_wait([this](const boost::system::error_code& error) {
      if (error || stopping_) return;
      handler_->refresh_ahead();
      schedule_refresh_ahead();
    });
  }

  // WATCHDOG=1 from the I/O thread itself: if the event loop wedges, the
  // pings stop and systemd restarts the agent (WatchdogSec=). Also while
  // stopping: the drain is bounded by the grace timer.
  void schedule_watchdog() {
    const auto interval = service_manager_.watchdog_interval();
    if (!interval) return;
    service_manager_.watchdog();
    watchdog_timer_.expires_after(*interval);
    watchdog_timer_.async_wait([this](const boost::system::error_code& error) {
      if (!error) schedule_watchdog();
    });
  }

  std::string config_path_;
  std::optional<log::Format> log_format_override_;
  ServiceManager service_manager_;
  boost::asio::io_context io_;       // the one socket I/O thread runs it
  boost::asio::thread_pool pool_;    // signing and HTTP
  boost::asio::thread_pool control_pool_;  // status, metrics: never queued behind HTTP
  boost::asio::thread_pool verify_pool_;   // verify_token, which may fetch the issuer's keys
  std::shared_ptr<FairScheduler> fair_;      // exchanges in flight, a fair share per peer
  boost::asio::signal_set signals_;
  boost::asio::steady_timer sweep_timer_;
  boost::asio::steady_timer refresh_timer_;
  boost::asio::steady_timer grace_timer_;
  boost::asio::steady_timer watchdog_timer_;
  std::optional<ListeningSocket> listening_;
  std::shared_ptr<AgentHandler> handler_;
  std::unique_ptr<Server> server_;
  std::unique_ptr<MetricsListener> metrics_listener_;  // [metrics] listen; null without
  bool stopping_ = false;
  bool reloading_ = false;
  bool reload_again_ = false;
};

}  // namespace

Status run_daemon(const DaemonOptions& options) {
  harden_process();
  Daemon daemon(options);
  return daemon.run();
}

}  // namespace mpa
