// Public face of pkcs11/: the only folder that sees libp11 and PKCS#11 types.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "common/result.h"
#include "common/secret.h"
#include "common/grant_signer.h"

namespace mpa::pkcs11 {

// An RFC 7512 PKCS#11 URI, restricted to the attributes we use.
struct Pkcs11Uri {
  std::optional<std::string> token;         // CKA/CK_TOKEN_INFO label
  std::optional<std::string> serial;
  std::optional<std::string> manufacturer;
  std::optional<std::string> model;
  std::optional<std::string> object;        // CKA_LABEL
  std::optional<std::vector<std::uint8_t>> id;  // CKA_ID
  std::optional<std::string> type;          // "private", "cert", "public"

  // Strict: "pkcs11:" scheme, known path attributes only, %-escapes
  // decoded, no duplicates, `pin-value` refused with a pointer to pin_file.
  // The query part is refused as a whole (module-name/-path belong in
  // [pkcs11] module). Messages never quote a query or a pin-value.
  // Errors: invalid_config.
  static Result<Pkcs11Uri> parse(std::string_view uri);

  // The token attributes only (token, serial, manufacturer, model), as one
  // key: keys whose URIs give the same one are on the same token and share
  // one login.
  std::string token_selector() const;
};

// Reads a PIN from a file that must not be readable by group or other.
// A trailing newline is dropped. Errors: invalid_config.
Result<SecretBytes> read_pin_file(const std::string& path);
// Reads a PIN from the environment variable `name`. Errors: invalid_config.
Result<SecretBytes> read_pin_env(const std::string& name);
// Once read: unsets `name` and wipes its bytes where exec put them, which
// /proc/PID/environ shows; a process this one starts does not get it.
void remove_pin_env(const std::string& name);
// For the process that starts signer helpers and so must pass the PIN on:
// the variable stays set, in memory of this process's own, and its bytes
// where exec put them (/proc/PID/environ) are wiped.
void move_pin_env_out_of_sight(const std::string& name);

struct TokenOptions {
  std::string module_path;
  SecretBytes pin;
  // Called with warnings for an operator (certificate expiring soon, ...).
  std::function<void(const std::string&)> warn;
  // Where refused PINs are recorded (pkcs11/refused_pins.h); empty: not.
  std::string state_dir;
};

struct KeyOptions {
  std::string key_uri;                     // RFC 7512, names a private key
  std::optional<std::string> chain_file;   // PEM intermediates not on the token
};

// One loaded module with one logged-in token. Thread-safe. Hands out
// signers for keys on it (they keep its state alive). Owns the PIN for
// re-login after token removal. Keep one per token: when a second one on
// the same module goes away, libp11 closes every session on the slot and
// unloads the module (C_CloseAllSessions, C_Finalize), and the survivor
// must recover (open again and log in once more) at its next signature.
class Pkcs11Token final {
 public:
  // Loads the module, finds the token named by `token_uri`'s token
  // attributes, logs in once (a refused PIN is never retried).
  // Errors: hsm_error / invalid_config, in words; ErrorReason::pin_refused
  // when the PIN was refused or must not be presented (never retry it).
  static Result<std::shared_ptr<Pkcs11Token>> open(TokenOptions options,
                                                   const Pkcs11Uri& token_uri);

  // Finds the private key, its certificate (same CKA_ID) and intermediates
  // (token or chain_file), checks certificate/key match and validity. The
  // signer keeps this token's state alive.
  Result<std::shared_ptr<GrantSigner>> signer(const KeyOptions& key);

  // The state behind this face, shared with the signers; defined in
  // pkcs11/token.h, private to pkcs11/.
  class Impl;
  explicit Pkcs11Token(std::shared_ptr<Impl> impl) : impl_(std::move(impl)) {}

 private:
  std::shared_ptr<Impl> impl_;
};

}  // namespace mpa::pkcs11
