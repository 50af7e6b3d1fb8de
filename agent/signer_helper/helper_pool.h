// The helpers of `run` and the one-shot commands: one per distinct token
// (module + the key URI's token attributes + PIN source), kept across
// reloads. A configuration whose token settings (module, token, PIN source
// and PIN file, state directory, max_concurrent_signatures,
// sign_timeout_seconds) did not change gets the running helper back, given
// its keys and signing policy (no new C_Login); a changed one gets a new
// helper, and the old one ends when the last engine using it goes, i.e.
// after the switch.
#pragma once

#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "agent/config/config.h"
#include "agent/signer_helper/helper_supervisor.h"
#include "common/result.h"
#include "common/grant_signer.h"

namespace mpa::signer_helper {

class HelperPool {
 public:
  // One GrantSigner per client of `config`, in the order of config.clients.
  // Errors: the helper's own, with the client named.
  Result<std::vector<std::shared_ptr<GrantSigner>>> signers_for(const Config& config);

  // For tests: a launcher instead of this executable.
  void set_launcher(HelperLauncher launch) { launch_ = std::move(launch); }
  // Whether a helper's start is logged (one-shot commands keep stderr for
  // their error line).
  void set_log_starts(bool log_starts) { log_starts_ = log_starts; }

  // The pool `run` uses.
  static HelperPool& for_this_process();

 private:
  std::mutex mutex_;
  HelperLauncher launch_;
  bool log_starts_ = true;
  // Weak: a helper lives as long as an engine holds its signers.
  std::map<std::string, std::weak_ptr<HelperSupervisor>> running_;
};

}  // namespace mpa::signer_helper
