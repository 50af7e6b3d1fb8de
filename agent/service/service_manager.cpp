#include "agent/service/service_manager.h"

#include <systemd/sd-daemon.h>
#include <time.h>

#include <cstdint>

#include "common/log.h"
#include "common/text.h"

namespace mpa {
namespace {

// RELOADING=1 carries the time it began (sd_notify(3), systemd 253's
// Type=notify-reload needs it; older ones ignore it).
std::string monotonic_usec_now() {
  timespec now{};
  ::clock_gettime(CLOCK_MONOTONIC, &now);
  const std::int64_t usec = static_cast<std::int64_t>(now.tv_sec) * 1'000'000 + now.tv_nsec / 1000;
  return std::to_string(usec);
}

}  // namespace

ServiceManager::ServiceManager() {
  std::uint64_t usec = 0;
  // 1: the signer helpers are not watched; NOTIFY_SOCKET stays for the
  // later calls (NotifyAccess=main ignores any child's message).
  if (::sd_watchdog_enabled(1, &usec) > 0 && usec > 0) {
    watchdog_interval_ = std::chrono::microseconds(static_cast<std::int64_t>(usec / 2));
  }
}

void ServiceManager::notify(const std::string& state) const {
  const int rc = ::sd_notify(0, state.c_str());
  if (rc < 0) log::warning("sd_notify: " + errno_text(-rc));
}

void ServiceManager::ready(const std::string& status) const { notify("READY=1\nSTATUS=" + status); }

void ServiceManager::watchdog() const { notify("WATCHDOG=1"); }

void ServiceManager::reloading() const {
  notify("RELOADING=1\nMONOTONIC_USEC=" + monotonic_usec_now() + "\nSTATUS=reloading the configuration");
}

void ServiceManager::reloaded(const std::string& status) const { notify("READY=1\nSTATUS=" + status); }

void ServiceManager::stopping() const { notify("STOPPING=1\nSTATUS=finishing the requests in flight"); }

}  // namespace mpa
