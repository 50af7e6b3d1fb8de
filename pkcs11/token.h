// The state behind pkcs11.h's Pkcs11Token: the module session, the PIN,
// recovery after the token went away.
// Private to pkcs11/.
#pragma once

#include <chrono>
#include <map>
#include <cstdint>
#include <memory>
#include <mutex>
#include <shared_mutex>
#include <string>
#include <vector>

#include "pkcs11/key_lookup.h"
#include "pkcs11/module_session.h"
#include "pkcs11/pkcs11.h"
#include "pkcs11/refused_pins.h"

namespace mpa::pkcs11 {

struct TokenStatus {
  bool present = false;
  bool logged_in = false;
  std::string label;
  std::string last_error;
};

class Pkcs11Token::Impl final : public std::enable_shared_from_this<Pkcs11Token::Impl> {
 public:
  static Result<std::shared_ptr<Impl>> create(TokenOptions options, const Pkcs11Uri& uri);

  // Holds a mutex and the only copy of the PIN.
  Impl(const Impl&) = delete;
  Impl& operator=(const Impl&) = delete;
  ~Impl() noexcept = default;

  Result<std::shared_ptr<GrantSigner>> signer(const KeyOptions& key);

  // Signs with the key `selector` names, whose public key must be
  // `public_key_der`. When the token went away, opens it again and logs in
  // once with the kept PIN (never after the PIN was refused), then retries
  // the signature once. Errors: hsm_error.
  Result<Bytes> sign(const KeySelector& selector, const Bytes& public_key_der, JwsAlg alg,
                     std::string_view data);

  TokenStatus status() const;

 private:
  Impl(TokenOptions options, Pkcs11Uri uri);

  // Opens the module, finds the token and logs in. Sets pin_refused_.
  // Called with mutex_ held exclusively.
  Result<std::unique_ptr<ModuleSession>> open_session_locked();
  Status may_log_in(const ModuleSession& session, const TokenIdentity& identity) const;
  // After reinsertion, before C_Login: every key handed out still shows
  // the public key it had (certificate or public key object, readable
  // without login), so the PIN goes only to the token it was meant for.
  Status same_keys_as_before(ModuleSession& session) const;
  // `refused` with where its record went (or a warning if it could not).
  Error record_refusal(const TokenIdentity& identity, Error refused) const;
  // Replaces a session that went away (see sign()). `seen` is the
  // generation the caller failed with.
  Result<void> recover(std::uint64_t seen, const KeySelector& selector,
                       const Bytes& public_key_der);
  // Finds and caches the key in session_. Called with mutex_ held exclusively.
  Result<void> cache_key_locked(const KeySelector& selector, const Bytes& public_key_der);
  void remember_error(const Error& error) const;
  std::string last_error() const;

  TokenOptions options_;  // holds the PIN, for re-login after token removal
  const Pkcs11Uri uri_;

  // Exclusive: open/close and object lookup (libp11's enumeration caches
  // are not thread-safe). Shared: signing (libp11 hands each signature a
  // session from its per-slot pool).
  mutable std::shared_mutex mutex_;
  std::unique_ptr<ModuleSession> session_;  // null after a failed recovery
  std::uint64_t generation_ = 0;            // counts (re)open attempts
  bool pin_refused_ = false;
  std::string label_;
  std::string serial_;  // of the first login; later logins only to it
  // Each key a signer was made for, by KeySelector::cache_key(); checked
  // before a re-login.
  struct KnownKey {
    std::vector<std::uint8_t> id;
    Bytes public_key_der;
    std::string description;  // KeySelector::describe()
  };
  std::map<std::string, KnownKey> known_keys_;
  // While the token is away: no re-open before next_reopen_ (1 s .. 30 s).
  std::chrono::steady_clock::time_point next_reopen_{};
  std::chrono::seconds reopen_backoff_{1};
  std::string last_open_error_;  // why the last re-open failed

  mutable std::mutex error_mutex_;
  mutable std::string last_error_;
};

}  // namespace mpa::pkcs11
