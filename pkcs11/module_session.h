// One loaded PKCS#11 module with one chosen token: the libp11 context, its
// slot list and the slot of the token. Private to pkcs11/.
#pragma once

#include <map>
#include <memory>
#include <optional>
#include <string>

#include "common/result.h"
#include "common/secret.h"
#include "pkcs11/errors.h"
#include "pkcs11/handles.h"
#include "pkcs11/pkcs11.h"

namespace mpa::pkcs11 {

class ModuleSession final {
 public:
  // Loads `module_path` (C_Initialize) and picks the one initialized token
  // that matches `uri`'s token attributes. Errors: invalid_config / hsm_error.
  static Result<std::unique_ptr<ModuleSession>> open(const std::string& module_path,
                                                     const Pkcs11Uri& uri);

  // Releases the slots and unloads the module (C_Finalize). Nothing useful
  // can be done about a failure here, and libp11's unload returns none.
  ~ModuleSession() noexcept;

  // Owns C handles that cannot be duplicated.
  ModuleSession(const ModuleSession&) = delete;
  ModuleSession& operator=(const ModuleSession&) = delete;
  ModuleSession(ModuleSession&& other) noexcept;
  ModuleSession& operator=(ModuleSession&&) = delete;

  // User login with `pin`. CKR_USER_ALREADY_LOGGED_IN counts as success
  // (the login belongs to the token, not to us). Errors: hsm_error, with
  // ErrorReason::pin_refused when the PIN must not be presented again,
  // ErrorReason::token_lost when the token went away.
  Result<void> login(const SecretBytes& pin);
  // What the last failed C_Login said about the PIN (errors.h); nothing
  // when no C_Login failed. Only LoginFailure::pin_refused is recorded.
  std::optional<LoginFailure> login_failure() const { return login_failure_; }

  PKCS11_SLOT* slot() const { return slot_; }
  PKCS11_TOKEN* token() const { return slot_->token; }
  std::string label() const;
  bool logged_in() const;

  // Private keys that signers use, kept for the life of this session
  // (their EVP_PKEYs point into it). Keyed by KeySelector::cache_key().
  EVP_PKEY* cached_key(const std::string& key) const;
  void cache_key(const std::string& key, Handle<EVP_PKEY> pkey);

 private:
  ModuleSession() = default;

  // The token's CK_TOKEN_INFO flags as the module reports them now (libp11's
  // copy is from the slot listing), or nothing if the module cannot say.
  std::optional<unsigned long> current_token_flags() const;
  // The words and reason of a failed login.
  Error login_error(LoginFailure failure, const DrainedErrors& errors,
                    std::optional<unsigned long> flags) const;
  // What the token's PIN flags, read after a failed login, say is left.
  static std::string refusal_words(std::optional<unsigned long> flags);

  Handle<PKCS11_CTX> ctx_;  // first member: freed last
  std::string module_path_;
  bool loaded_ = false;
  PKCS11_SLOT* slots_ = nullptr;
  unsigned int nslots_ = 0;
  PKCS11_SLOT* slot_ = nullptr;
  std::optional<LoginFailure> login_failure_;
  std::map<std::string, Handle<EVP_PKEY>> keys_;  // freed before the module unloads
};

}  // namespace mpa::pkcs11
