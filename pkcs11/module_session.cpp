#include "pkcs11/module_session.h"

#include <dlfcn.h>
#include <p11-kit-1/p11-kit/pkcs11.h>
#include <unistd.h>

#include <utility>
#include <vector>

#include "pkcs11/errors.h"

namespace mpa::pkcs11 {
namespace {

bool matches(const PKCS11_TOKEN& token, const Pkcs11Uri& uri) {
  const auto same = [](const std::optional<std::string>& want, const char* have) {
    return !want || (have != nullptr && *want == have);
  };
  return same(uri.token, token.label) && same(uri.serial, token.serialnr) &&
         same(uri.manufacturer, token.manufacturer) && same(uri.model, token.model);
}

std::string describe(const PKCS11_TOKEN& token) {
  const auto text = [](const char* s) { return std::string(s != nullptr ? s : ""); };
  return "\"" + text(token.label) + "\" (serial " + text(token.serialnr) + ", manufacturer " +
         text(token.manufacturer) + ", model " + text(token.model) + ")";
}

std::string describe(const Pkcs11Uri& uri) {
  std::string out;
  const auto add = [&](const char* name, const std::optional<std::string>& value) {
    if (!value) return;
    if (!out.empty()) out += ", ";
    out += std::string(name) + "=\"" + *value + "\"";
  };
  add("token", uri.token);
  add("serial", uri.serial);
  add("manufacturer", uri.manufacturer);
  add("model", uri.model);
  return out.empty() ? "any token" : out;
}

// The PIN flags libp11 read from CK_TOKEN_INFO when it listed the slots.
unsigned long flags_of(const PKCS11_TOKEN& token) {
  unsigned long flags = 0;
  if (token.userPinCountLow != 0) flags |= CKF_USER_PIN_COUNT_LOW;
  if (token.userPinFinalTry != 0) flags |= CKF_USER_PIN_FINAL_TRY;
  if (token.userPinLocked != 0) flags |= CKF_USER_PIN_LOCKED;
  return flags;
}

// Holds a dlopen handle on the module while libp11 loads it (so the
// library is not loaded, unloaded and loaded again).
struct LibraryHandle {
  void* handle = nullptr;
  ~LibraryHandle() {
    if (handle != nullptr) ::dlclose(handle);
  }
};

// Opens the library ourselves first: libp11 prints dlopen's or dlsym's
// complaint on stderr itself and reports only a bare failure. This way the
// user reads one error that says what is wrong with the file.
Status check_is_module(const std::string& path, LibraryHandle& library) {
  ::dlerror();
  library.handle = ::dlopen(path.c_str(), RTLD_NOW | RTLD_LOCAL);
  if (library.handle == nullptr) {
    const char* reason = ::dlerror();
    return make_error(ErrorCode::invalid_config,
                      "PKCS#11 module " + path + " cannot be loaded as a library: " +
                          (reason != nullptr ? reason : "no reason given"));
  }
  if (::dlsym(library.handle, "C_GetFunctionList") == nullptr) {
    return make_error(ErrorCode::invalid_config,
                      path + " is not a PKCS#11 module: it has no C_GetFunctionList (is `module` "
                             "the vendor's PKCS#11 library, e.g. /usr/lib/softhsm/libsofthsm2.so?)");
  }
  return {};
}

// What libp11 queued about a failed load or slot listing, never nothing:
// p11-kit's client, with no server at its address, fails and queues no
// reason at all.
std::string module_failure_reason() {
  const DrainedErrors errors = drain_openssl_errors();
  if (!errors.text.empty()) return errors.text;
  return "the module gave no reason; is the token or its server reachable?";
}

}  // namespace

ModuleSession::ModuleSession(ModuleSession&& other) noexcept
    : ctx_(std::move(other.ctx_)),
      module_path_(std::move(other.module_path_)),
      loaded_(std::exchange(other.loaded_, false)),
      slots_(std::exchange(other.slots_, nullptr)),
      nslots_(std::exchange(other.nslots_, 0)),
      slot_(std::exchange(other.slot_, nullptr)),
      login_failure_(other.login_failure_),
      keys_(std::move(other.keys_)) {}

ModuleSession::~ModuleSession() noexcept {
  keys_.clear();
  if (slots_ != nullptr) PKCS11_release_all_slots(ctx_.get(), slots_, nslots_);
  if (loaded_) PKCS11_CTX_unload(ctx_.get());
}

Result<std::unique_ptr<ModuleSession>> ModuleSession::open(const std::string& module_path,
                                                           const Pkcs11Uri& uri) {
  if (module_path.empty()) {
    return make_error(ErrorCode::invalid_config, "no PKCS#11 module is configured");
  }
  if (::access(module_path.c_str(), R_OK) != 0) {
    return make_error(ErrorCode::invalid_config,
                      "PKCS#11 module " + module_path + " does not exist or is not readable");
  }
  LibraryHandle library;
  if (auto checked = check_is_module(module_path, library); !checked) return checked.error();
  std::unique_ptr<ModuleSession> s(new ModuleSession());
  s->module_path_ = module_path;
  s->ctx_.reset(PKCS11_CTX_new());
  if (!s->ctx_) return make_error(ErrorCode::internal, "PKCS11_CTX_new failed (out of memory?)");
  if (PKCS11_CTX_load(s->ctx_.get(), module_path.c_str()) != 0) {
    // The library itself loaded above: a CKR here is the module's own
    // initialisation failing.
    const DrainedErrors errors = drain_openssl_errors();
    if (errors.ckr) return make_error(ErrorCode::hsm_error, initialisation_failure(module_path, *errors.ckr));
    return make_error(ErrorCode::hsm_error, "cannot load PKCS#11 module " + module_path + ": " +
                                                (errors.text.empty() ? module_failure_reason() : errors.text));
  }
  s->loaded_ = true;
  if (PKCS11_enumerate_slots(s->ctx_.get(), &s->slots_, &s->nslots_) != 0) {
    return make_error(ErrorCode::hsm_error, "cannot list the slots of " + module_path + ": " +
                                                module_failure_reason());
  }
  std::vector<PKCS11_SLOT*> chosen;
  std::string found;
  for (unsigned int i = 0; i < s->nslots_; ++i) {
    PKCS11_SLOT* slot = &s->slots_[i];
    if (slot->token == nullptr || slot->token->initialized == 0) continue;
    if (!found.empty()) found += ", ";
    found += describe(*slot->token);
    if (matches(*slot->token, uri)) chosen.push_back(slot);
  }
  if (chosen.empty()) {
    return make_error(ErrorCode::hsm_error,
                      "no token matches " + describe(uri) + " in " + module_path +
                          "; tokens found: " + (found.empty() ? "none" : found));
  }
  if (chosen.size() > 1) {
    return make_error(ErrorCode::invalid_config,
                      "several tokens match " + describe(uri) + " (" + found +
                          "); add serial= to the URI to pick one");
  }
  s->slot_ = chosen.front();
  return s;
}

Result<void> ModuleSession::login(const SecretBytes& pin) {
  const PKCS11_TOKEN& token = *slot_->token;
  if (token.userPinLocked != 0) {
    return make_error(ErrorCode::hsm_error,
                      "the user PIN of token \"" + label() +
                          "\" is locked; not trying to log in (unlock it with the SO PIN)",
                      ErrorReason::pin_refused);
  }
  if (token.loginRequired == 0) return {};
  SecretBytes c_pin = pin;  // libp11 wants a NUL-terminated string
  c_pin.push_back('\0');
  if (PKCS11_login(slot_, 0, c_pin.data()) == 0) return {};
  const DrainedErrors errors = drain_openssl_errors();
  const auto flags = current_token_flags();
  login_failure_ = classify_login_failure(errors.ckr, flags_of(token), flags);
  return login_error(*login_failure_, errors, flags);
}

Error ModuleSession::login_error(LoginFailure failure, const DrainedErrors& errors,
                                 std::optional<unsigned long> flags) const {
  const std::string answer = errors.ckr       ? ckr_text(*errors.ckr)
                             : errors.text.empty() ? std::string("the module gave no reason")
                                                   : errors.text;
  switch (failure) {
    case LoginFailure::pin_refused:
      if (*errors.ckr == CKR_PIN_LOCKED) {
        return make_error(ErrorCode::hsm_error,
                          "the user PIN of token \"" + label() + "\" is locked (" +
                              ckr_text(*errors.ckr) + "); unlock it with the SO PIN",
                          ErrorReason::pin_refused);
      }
      return make_error(ErrorCode::hsm_error,
                        "the token \"" + label() + "\" refused the PIN (" + ckr_text(*errors.ckr) +
                            "); not retried, to avoid locking it" + refusal_words(flags),
                        ErrorReason::pin_refused);
    case LoginFailure::tries_counted:
      return make_error(ErrorCode::hsm_error,
                        "cannot log in to token \"" + label() + "\": " + answer +
                            refusal_words(flags) +
                            "; not logging in automatically again: check the PIN and log in once "
                            "by hand (pkcs11-tool --login --test), then reload or restart the agent",
                        ErrorReason::pin_refused);
    case LoginFailure::token_lost:
      return make_error(ErrorCode::hsm_error,
                        "cannot log in to token \"" + label() + "\": " + errors.text,
                        ErrorReason::token_lost);
    case LoginFailure::not_about_pin:
      break;
  }
  // Not the token's word about the PIN: a reader or a daemon may be
  // restarting, and the right PIN must not be taken for a wrong one.
  return make_error(ErrorCode::hsm_error,
                    "cannot log in to token \"" + label() + "\": " + answer +
                        (flags ? "; the token's PIN flags show no try counted, so this is not "
                                 "taken as a refusal of the PIN"
                               : "; the token's PIN flags cannot be read, and this is not taken "
                                 "as a refusal of the PIN"));
}

// PKCS#11 has no retry count, only flags (v2.40 §3.2, CK_TOKEN_INFO): they
// are read again after the refusal, since the card has just counted it.
std::optional<unsigned long> ModuleSession::current_token_flags() const {
  void* handle = ::dlopen(module_path_.c_str(), RTLD_NOW | RTLD_NOLOAD);
  if (handle == nullptr) return std::nullopt;
  std::optional<unsigned long> flags;
  const auto get_list = reinterpret_cast<CK_C_GetFunctionList>(::dlsym(handle, "C_GetFunctionList"));
  CK_FUNCTION_LIST_PTR list = nullptr;
  CK_TOKEN_INFO info{};
  if (get_list != nullptr && get_list(&list) == CKR_OK && list != nullptr &&
      list->C_GetTokenInfo(PKCS11_get_slotid_from_slot(slot_), &info) == CKR_OK) {
    flags = info.flags;
  }
  ::dlclose(handle);
  return flags;
}

std::string ModuleSession::refusal_words(std::optional<unsigned long> flags) {
  if (!flags) return "";
  if ((*flags & CKF_USER_PIN_LOCKED) != 0) {
    return "; the token now reports the PIN locked, no tries left (CKF_USER_PIN_LOCKED): unlock "
           "it with the SO PIN";
  }
  if ((*flags & CKF_USER_PIN_FINAL_TRY) != 0) {
    return "; the token now reports one try left (CKF_USER_PIN_FINAL_TRY): one more wrong PIN "
           "locks it";
  }
  if ((*flags & CKF_USER_PIN_COUNT_LOW) != 0) {
    return "; the token now reports failed tries (CKF_USER_PIN_COUNT_LOW): fewer tries left than "
           "it allows (PKCS#11 does not say how many)";
  }
  return "; the token reports no failed tries (it may not count them)";
}

std::string ModuleSession::label() const {
  return slot_->token->label != nullptr ? slot_->token->label : "";
}

bool ModuleSession::logged_in() const {
  int res = 0;
  return PKCS11_is_logged_in(slot_, 0, &res) == 0 && res == 1;
}

EVP_PKEY* ModuleSession::cached_key(const std::string& key) const {
  const auto it = keys_.find(key);
  return it == keys_.end() ? nullptr : it->second.get();
}

void ModuleSession::cache_key(const std::string& key, Handle<EVP_PKEY> pkey) {
  keys_[key] = std::move(pkey);
}

}  // namespace mpa::pkcs11
