// What the agent tells systemd (sd_notify(3), libsystemd): READY=1 once
// the socket serves, WATCHDOG=1 from the event loop (so that a wedged loop
// gets the agent restarted), RELOADING=1 and STOPPING=1. Outside systemd
// (no NOTIFY_SOCKET) every call does nothing.
#pragma once

#include <chrono>
#include <optional>
#include <string>

namespace mpa {

class ServiceManager final {
 public:
  // Reads NOTIFY_SOCKET and WATCHDOG_USEC/WATCHDOG_PID (sd_watchdog_enabled).
  ServiceManager();

  // How often to send WATCHDOG=1: half of WatchdogSec=, as sd_watchdog_enabled(3)
  // advises; nullopt when systemd does not watch this process.
  std::optional<std::chrono::microseconds> watchdog_interval() const { return watchdog_interval_; }

  void ready(const std::string& status) const;
  void watchdog() const;
  void reloading() const;
  void reloaded(const std::string& status) const;
  void stopping() const;

 private:
  void notify(const std::string& state) const;

  std::optional<std::chrono::microseconds> watchdog_interval_;
};

}  // namespace mpa
