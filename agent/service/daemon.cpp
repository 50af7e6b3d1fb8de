#include "agent/service/daemon.h"

#include <boost/asio/io_context.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/signal_set.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/thread_pool.hpp>
#include <csignal>
#include <optional>

#include "agent/cache/fair_scheduler.h"
#include "agent/ops/agent_handler.h"
#include "agent/server/listen_socket.h"
#include "agent/server/server.h"
#include "agent/service/service_manager.h"
#include "agent/service/startup.h"
#include "common/log.h"
#include "common/version.h"

namespace mpa {
namespace {

class Daemon final {
 public:
  explicit Daemon(const DaemonOptions& options)
      : config_path_(options.config_path),
        log_format_override_(options.log_format),
        signers_(options.signers ? options.signers : helper_signers()),
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

  Status start() {
    auto config = load_config(config_path_);
    if (!config) return config.error();
    apply_log_format(*config);
    auto socket = open_socket(*config);
    if (!socket) return socket.error();
    listening_.emplace(std::move(*socket));
    fair_ = exchange_slots(*config);
    auto state = build_agent_state(*config, exchanges(), signers_);
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
      auto built = load_and_build(config_path_, exchanges(), signers_);
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
  Engine::GrantSignerFactory signers_;
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
  Daemon daemon(options);
  return daemon.run();
}

}  // namespace mpa
