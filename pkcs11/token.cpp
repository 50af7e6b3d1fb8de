#include "pkcs11/token.h"

#include <algorithm>
#include <chrono>
#include <utility>

#include "common/clock.h"
#include "pkcs11/errors.h"
#include "pkcs11/pkcs11_grant_signer.h"
#include "pkcs11/refused_pins.h"

namespace mpa::pkcs11 {
namespace {

// Re-opening a token that is away: first after this, doubling up to the max.
constexpr std::chrono::seconds kFirstReopenBackoff{1};
constexpr std::chrono::seconds kMaxReopenBackoff{30};

// A certificate that expires sooner than this gets a warning at start.
constexpr std::int64_t kExpiryWarningSeconds = 30 * 24 * 3600;

bool token_attributes_agree(const Pkcs11Uri& key, const Pkcs11Uri& token) {
  const auto agree = [](const std::optional<std::string>& a, const std::optional<std::string>& b) {
    return !a || !b || *a == *b;
  };
  return agree(key.token, token.token) && agree(key.serial, token.serial) &&
         agree(key.manufacturer, token.manufacturer) && agree(key.model, token.model);
}

Result<void> check_validity(X509* leaf, const TokenOptions& options) {
  const auto after = not_after(leaf);
  const auto before = not_before(leaf);
  if (!after || !before) {
    return make_error(ErrorCode::hsm_error, "cannot read the validity of certificate " +
                                                subject_text(leaf));
  }
  const std::int64_t now = epoch_seconds_now();
  if (*after < now) {
    return make_error(ErrorCode::hsm_error,
                      "certificate " + subject_text(leaf) + " expired " +
                          std::to_string((now - *after) / 86400) +
                          " days ago; Maskinporten refuses grants signed with it");
  }
  if (*before > now) {
    return make_error(ErrorCode::hsm_error,
                      "certificate " + subject_text(leaf) + " is not valid yet");
  }
  if (*after - now < kExpiryWarningSeconds && options.warn) {
    options.warn("certificate " + subject_text(leaf) + " expires in " +
                 std::to_string((*after - now) / 86400) + " days; renew it");
  }
  return {};
}

}  // namespace

Pkcs11Token::Impl::Impl(TokenOptions options, Pkcs11Uri uri)
    : options_(std::move(options)), uri_(std::move(uri)) {}

Result<std::shared_ptr<Pkcs11Token>> Pkcs11Token::open(TokenOptions options,
                                                      const Pkcs11Uri& token_uri) {
  MPA_ASSIGN_OR_RETURN(auto impl, Impl::create(std::move(options), token_uri));
  return std::make_shared<Pkcs11Token>(std::move(impl));
}

Result<std::shared_ptr<GrantSigner>> Pkcs11Token::signer(const KeyOptions& key) {
  return impl_->signer(key);
}

Result<std::shared_ptr<Pkcs11Token::Impl>> Pkcs11Token::Impl::create(TokenOptions options, const Pkcs11Uri& uri) {
  std::shared_ptr<Impl> token(new Impl(std::move(options), uri));
  std::unique_lock lock(token->mutex_);
  auto session = token->open_session_locked();
  if (!session) return std::move(session).error();
  token->session_ = std::move(session).value();
  token->label_ = token->session_->label();
  return token;
}

Result<std::unique_ptr<ModuleSession>> Pkcs11Token::Impl::open_session_locked() {
  ++generation_;
  auto session = ModuleSession::open(options_.module_path, uri_);
  if (!session) return std::move(session).error();
  const PKCS11_TOKEN& token = *(*session)->token();
  const std::string serial = token.serialnr != nullptr ? token.serialnr : "";
  if (!serial_.empty() && serial != serial_) {
    // Not a refusal of the PIN: the right token may come back.
    return make_error(ErrorCode::hsm_error,
                      "the token \"" + (*session)->label() + "\" now in the reader has serial " +
                          serial + ", not " + serial_ +
                          " as at the first login; the PIN is presented to that token only");
  }
  MPA_RETURN_IF_ERROR(same_keys_as_before(**session));
  const auto text = [](const char* s) { return std::string(s != nullptr ? s : ""); };
  const TokenIdentity identity{text(token.manufacturer), text(token.model), serial,
                               (*session)->label()};
  if (auto allowed = may_log_in(**session, identity); !allowed) {
    pin_refused_ = true;
    Error error = std::move(allowed).error();
    error.reason = ErrorReason::pin_refused;
    return error;
  }
  if (auto login = (*session)->login(options_.pin); !login) {
    pin_refused_ = pin_refused_ || login.error().reason == ErrorReason::pin_refused;
    // Only the token's own word about the PIN is written down: any other
    // failure may pass, and a record would keep the right PIN out for good.
    const bool said_so = (*session)->login_failure() == LoginFailure::pin_refused;
    if (!said_so || token.userPinLocked != 0) return std::move(login).error();
    return record_refusal(identity, std::move(login).error());
  }
  if (serial_.empty()) serial_ = serial;  // pinned: re-login only to this token
  return session;
}

Status Pkcs11Token::Impl::same_keys_as_before(ModuleSession& session) const {
  for (const auto& [selector, key] : known_keys_) {
    auto shown = public_key_before_login(session, key.id);
    // Not a refusal of the PIN: the right token may come back.
    if (!shown) {
      return make_error(ErrorCode::hsm_error,
                        "not presenting the PIN: " + shown.error().message +
                            ", so it cannot be told to be the token of the first login");
    }
    if (*shown != key.public_key_der) {
      return make_error(ErrorCode::hsm_error,
                        "not presenting the PIN: the token \"" + session.label() +
                            "\" now in the reader shows another public key for the key " +
                            key.description + " than at the first login (was the token "
                            "replaced?)");
    }
  }
  return {};
}

// Before C_Login: the token's own warnings (PKCS#11 v2.40 §3.2, CK_TOKEN_INFO
// flags) and this PIN's record. A final try is never spent automatically.
Status Pkcs11Token::Impl::may_log_in(const ModuleSession& session,
                                     const TokenIdentity& identity) const {
  const PKCS11_TOKEN& token = *session.token();
  if (token.loginRequired == 0 || token.userPinLocked != 0) return {};  // login() says it
  if (token.userPinFinalTry != 0) {
    return make_error(ErrorCode::hsm_error,
                      "the token \"" + session.label() +
                          "\" reports that one more wrong PIN locks it (CKF_USER_PIN_FINAL_TRY); "
                          "not logging in automatically: check the PIN and log in once by hand "
                          "(pkcs11-tool --login --test), then reload or restart the agent");
  }
  if (token.userPinCountLow != 0 && options_.warn) {
    options_.warn("the token \"" + session.label() +
                  "\" reports failed PIN attempts (CKF_USER_PIN_COUNT_LOW); check the PIN");
  }
  return RefusedPins(options_.state_dir).check(identity, options_.pin);
}

Error Pkcs11Token::Impl::record_refusal(const TokenIdentity& identity, Error refused) const {
  const RefusedPins records(options_.state_dir);
  if (options_.state_dir.empty()) return refused;
  if (auto recorded = records.record(identity, options_.pin); !recorded) {
    if (options_.warn) options_.warn("the refused PIN could not be recorded: " + recorded.error().message);
    return refused;
  }
  refused.message += "; recorded in " + records.record_path(identity) +
                     ", it is not presented to this token again: put the right PIN in place, or "
                     "delete that file to try this one again";
  return refused;
}

Result<std::shared_ptr<GrantSigner>> Pkcs11Token::Impl::signer(const KeyOptions& key) {
  auto uri = Pkcs11Uri::parse(key.key_uri);
  if (!uri) return std::move(uri).error();
  if (!token_attributes_agree(*uri, uri_)) {
    return make_error(ErrorCode::invalid_config,
                      "the key URI " + key.key_uri + " names another token than the one opened");
  }
  auto selector = KeySelector::from_uri(*uri);
  if (!selector) return std::move(selector).error();

  std::unique_lock lock(mutex_);
  if (!session_) {
    return make_error(ErrorCode::hsm_error, "the token is not open: " + last_error());
  }
  auto found = find_private_key(*session_, *selector);
  if (!found) return std::move(found).error();
  auto certs = find_certificates(*session_, found->id, key.chain_file);
  if (!certs) return std::move(certs).error();
  X509* leaf = certs->leaf.get();
  auto cert_key = public_key_der(X509_get0_pubkey(leaf));
  if (!cert_key) return std::move(cert_key).error();
  if (*cert_key != found->public_key_der) {
    return make_error(ErrorCode::hsm_error,
                      "the certificate with the key's CKA_ID (" + subject_text(leaf) +
                          ") carries another public key than the private key " +
                          selector->describe() + "; refusing to sign with a mismatched pair");
  }
  if (auto valid = check_validity(leaf, options_); !valid) return std::move(valid).error();

  std::vector<Bytes> chain{to_der(leaf)};
  for (const auto& cert : certs->intermediates) chain.push_back(to_der(cert.get()));
  SignerInfo info;
  info.token_label = label_;
  info.key_uri = key.key_uri;
  info.certificate_subject = subject_text(leaf);
  info.certificate_not_after = not_after(leaf).value_or(0);

  Bytes public_key = found->public_key_der;
  known_keys_[selector->cache_key()] = {found->id, public_key, selector->describe()};
  session_->cache_key(selector->cache_key(), std::move(found->pkey));
  return std::shared_ptr<GrantSigner>(std::make_shared<Pkcs11GrantSigner>(
      shared_from_this(), std::move(selector).value(), std::move(public_key), std::move(chain),
      std::move(info)));
}

Result<Bytes> Pkcs11Token::Impl::sign(const KeySelector& selector, const Bytes& public_key_der,
                              JwsAlg alg, std::string_view data) {
  std::uint64_t seen = 0;
  Error first;
  {
    std::shared_lock lock(mutex_);
    seen = generation_;
    EVP_PKEY* key = session_ ? session_->cached_key(selector.cache_key()) : nullptr;
    if (key == nullptr) {
      first = make_error(ErrorCode::hsm_error, "the token is not open");
    } else {
      auto signature = digest_sign(key, alg, data);
      if (signature || signature.error().reason != ErrorReason::token_lost) {
        if (!signature) remember_error(signature.error());
        return signature;
      }
      first = std::move(signature).error();
    }
  }
  if (auto recovered = recover(seen, selector, public_key_der); !recovered) {
    Error error = make_error(ErrorCode::hsm_error,
                             first.message + "; opening the token again failed: " +
                                 recovered.error().message);
    remember_error(error);
    return error;
  }
  std::shared_lock lock(mutex_);
  EVP_PKEY* key = session_ ? session_->cached_key(selector.cache_key()) : nullptr;
  if (key == nullptr) return make_error(ErrorCode::hsm_error, "the token is not open");
  auto signature = digest_sign(key, alg, data);
  if (!signature) remember_error(signature.error());
  return signature;
}

Result<void> Pkcs11Token::Impl::recover(std::uint64_t seen, const KeySelector& selector,
                                const Bytes& public_key_der) {
  std::unique_lock lock(mutex_);
  if (pin_refused_) {
    return make_error(ErrorCode::hsm_error,
                      "not logging in again: the token refused the PIN before; correct the "
                      "PIN, then reload (SIGHUP) or restart the agent");
  }
  if (generation_ == seen || !session_) {
    if (generation_ != seen) {
      // Another signature just tried to open the token and failed; one
      // attempt per failure is enough.
      return make_error(ErrorCode::hsm_error, last_error());
    }
    const auto now = steady_now();
    if (!session_ && now < next_reopen_) {
      // A token that is away is asked for again once per back-off step,
      // not once per request (a reader or card still resetting).
      const auto wait = std::chrono::ceil<std::chrono::seconds>(next_reopen_ - now).count();
      return make_error(ErrorCode::hsm_error, last_open_error_ + " (next try to open the token in " +
                                                  std::to_string(wait) + " s)");
    }
    // Close first: libp11 unloads with C_Finalize, which would also end
    // a new context opened beside this one on the same module.
    session_.reset();
    auto session = open_session_locked();
    if (!session) {
      remember_error(session.error());
      last_open_error_ = session.error().message;
      next_reopen_ = now + reopen_backoff_;
      reopen_backoff_ = std::min(reopen_backoff_ * 2, kMaxReopenBackoff);
      return std::move(session).error();
    }
    reopen_backoff_ = kFirstReopenBackoff;
    session_ = std::move(session).value();
  }
  if (session_->cached_key(selector.cache_key()) != nullptr) return {};
  return cache_key_locked(selector, public_key_der);
}

Result<void> Pkcs11Token::Impl::cache_key_locked(const KeySelector& selector,
                                         const Bytes& public_key_der) {
  auto found = find_private_key(*session_, selector);
  if (!found) return std::move(found).error();
  if (found->public_key_der != public_key_der) {
    return make_error(ErrorCode::hsm_error, "the private key " + selector.describe() +
                                                " on the token is not the one found at start "
                                                "(was the token replaced?)");
  }
  session_->cache_key(selector.cache_key(), std::move(found->pkey));
  return {};
}

TokenStatus Pkcs11Token::Impl::status() const {
  std::shared_lock lock(mutex_);
  TokenStatus out;
  out.present = session_ != nullptr;
  out.logged_in = session_ && session_->logged_in();
  out.label = label_;
  out.last_error = last_error();
  return out;
}

std::string Pkcs11Token::Impl::last_error() const {
  std::lock_guard lock(error_mutex_);
  return last_error_;
}

void Pkcs11Token::Impl::remember_error(const Error& error) const {
  std::lock_guard lock(error_mutex_);
  last_error_ = error.message;
}

}  // namespace mpa::pkcs11
