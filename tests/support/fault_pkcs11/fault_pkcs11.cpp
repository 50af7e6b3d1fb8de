// libmpa_fault_pkcs11.so: a PKCS#11 module for tests. It forwards every call
// to a real module (SoftHSM2 unless MPA_FAULT_MODULE names another) and
// injects the faults that a test switches on, while the process under test
// keeps running, by creating files in the control directory MPA_FAULT_DIR:
// a removed token, hanging calls, an abort() in C_Sign, a chosen C_Login
// result, PIN warning flags, and a smartcard's slow, one-at-a-time signing.
// It counts logins, sessions and signatures in files in the same directory.
// README.md in this folder is the manual.

#include <dlfcn.h>
#include <sys/stat.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <climits>
#include <cstdio>
#include <cstdlib>
#include <mutex>
#include <optional>
#include <shared_mutex>
#include <string>
#include <thread>
#include <type_traits>
#include <vector>

#include "control.h"
#include "parse.h"

namespace mpa_fault {
namespace {

// Control files: created, written and deleted by tests.
constexpr const char* kRemoved = "removed";
constexpr const char* kHangOpenSession = "hang_open_session";
constexpr const char* kHangSign = "hang_sign";
constexpr const char* kAbortSign = "abort_sign";
constexpr const char* kLoginRv = "login_rv";
constexpr const char* kInitializeRv = "initialize_rv";
constexpr const char* kPinFlags = "pin_flags";
constexpr const char* kPinFlagsAfterRefusal = "pin_flags_after_refusal";
constexpr const char* kSignLatency = "sign_latency_ms";

// Files the module writes: counters, the signature log and lock files.
constexpr const char* kLoginCount = "login_count";
constexpr const char* kOpenSessionEntered = "open_session_entered";
constexpr const char* kOpenSessionCount = "open_session_count";
constexpr const char* kSignEntered = "sign_entered";
constexpr const char* kSignCount = "sign_count";
constexpr const char* kSignLog = "sign_log";
constexpr const char* kCardLock = ".card.lock";

constexpr const char* kDefaultModule = "/usr/lib/softhsm/libsofthsm2.so";

// Set once, by load(), before the function list is handed out.
CK_FUNCTION_LIST_PTR g_real = nullptr;
ControlDir g_dir;

// Held shared by every call while it runs in the real module, and exclusively
// by eject(): SoftHSM2 does not expect a session to be closed under a call
// that is using it, so ejection waits for such calls to come back.
std::shared_mutex g_forwarding;

// True once this process has closed the real sessions for the removal in
// progress; cleared when a call sees the token back.
std::atomic<bool> g_ejected{false};

// Calls `member` of the real module. The parameters take the member's own
// types (type_identity keeps them from being deduced from the arguments).
template <typename... A>
CK_RV forward(CK_RV (*CK_FUNCTION_LIST::*member)(A...), std::type_identity_t<A>... args) {
  const std::shared_lock lock(g_forwarding);
  return (g_real->*member)(args...);
}

// Pulling a real token out ends every session on it, and the login with
// them. Closing the sessions in the real module makes reinsertion look the
// same to the application: its old handles get CKR_SESSION_HANDLE_INVALID,
// and it must open a session and log in again.
void eject() {
  const std::unique_lock lock(g_forwarding);
  CK_ULONG count = 0;
  if (g_real->C_GetSlotList(CK_FALSE, nullptr, &count) != CKR_OK || count == 0) return;
  std::vector<CK_SLOT_ID> slots(count);
  if (g_real->C_GetSlotList(CK_FALSE, slots.data(), &count) != CKR_OK) return;
  for (CK_ULONG i = 0; i < count; ++i) g_real->C_CloseAllSessions(slots[i]);
}

// True while the control file `removed` exists: every token of the real
// module counts as pulled out. The first call to notice a removal ejects.
bool token_removed() {
  if (!g_dir.has(kRemoved)) {
    g_ejected.store(false);
    return false;
  }
  if (!g_ejected.exchange(true)) eject();
  return true;
}

// Bumps a counter when the call returns, by whichever return.
class CountOnReturn {
 public:
  explicit CountOnReturn(const char* name) : name_(name) {}
  ~CountOnReturn() { g_dir.bump(name_); }
  CountOnReturn(const CountOnReturn&) = delete;
  CountOnReturn& operator=(const CountOnReturn&) = delete;

 private:
  const char* name_;
};

// ---- Wrappers that only forward, or refuse while the token is removed ----

// Each is a template on the CK_FUNCTION_LIST member it forwards to, and its
// call() has exactly that member's parameters, so one list entry below names
// the function once and the compiler checks the rest.
template <auto Member>
struct Plain;
template <typename... A, CK_RV (*CK_FUNCTION_LIST::*Member)(A...)>
struct Plain<Member> {
  static CK_RV call(A... args) { return forward(Member, args...); }
};

// Returns `kWhenRemoved` instead of forwarding while the token is removed.
template <auto Member, CK_RV kWhenRemoved>
struct Gated;
template <typename... A, CK_RV (*CK_FUNCTION_LIST::*Member)(A...), CK_RV kWhenRemoved>
struct Gated<Member, kWhenRemoved> {
  static CK_RV call(A... args) {
    if (token_removed()) return kWhenRemoved;
    return forward(Member, args...);
  }
};

// Functions on a slot: an empty slot has no token to answer them.
template <auto Member>
constexpr auto on_slot = &Gated<Member, CKR_TOKEN_NOT_PRESENT>::call;
// Functions on a session: the device behind the session has gone.
template <auto Member>
constexpr auto on_session = &Gated<Member, CKR_DEVICE_REMOVED>::call;

// ---- Wrappers with faults ----

// `initialize_rv` answers C_Initialize without initialising the real
// module: a module whose daemon or service is missing (openCryptoki
// without pkcsslotd).
CK_RV Initialize(CK_VOID_PTR init_args) {
  if (const auto text = g_dir.read_value(kInitializeRv)) {
    if (const auto rv = parse_ckr(*text)) {
      if (*rv != CKR_OK) return *rv;
    } else {
      complain(std::string(kInitializeRv) + " holds \"" + *text + "\": not a CKR_ name or number");
      return CKR_GENERAL_ERROR;
    }
  }
  // A fresh start: if `removed` exists, the next call ejects again (no
  // sessions exist yet, so that is harmless).
  g_ejected.store(false);
  return forward(&CK_FUNCTION_LIST::C_Initialize, init_args);
}

// With the token removed, no slot has a token; every slot is still listed
// when the caller asks for all of them.
CK_RV GetSlotList(CK_BBOOL token_present, CK_SLOT_ID_PTR slots, CK_ULONG_PTR count) {
  if (token_present == CK_FALSE || !token_removed()) {
    return forward(&CK_FUNCTION_LIST::C_GetSlotList, token_present, slots, count);
  }
  // Asked of the real module all the same, for its errors (not initialized,
  // bad arguments); the answer itself is then "no slots".
  const CK_RV rv = forward(&CK_FUNCTION_LIST::C_GetSlotList, CK_FALSE, nullptr, count);
  if (rv == CKR_OK) *count = 0;
  return rv;
}

// The slot looks like a reader from which the token can be pulled: always
// CKF_REMOVABLE_DEVICE, and no CKF_TOKEN_PRESENT while removed (libp11 looks
// only at this flag when it enumerates slots).
CK_RV GetSlotInfo(CK_SLOT_ID slot, CK_SLOT_INFO_PTR info) {
  const bool removed = token_removed();
  const CK_RV rv = forward(&CK_FUNCTION_LIST::C_GetSlotInfo, slot, info);
  if (rv != CKR_OK || !g_dir.enabled()) return rv;
  info->flags |= CKF_REMOVABLE_DEVICE;
  if (removed) info->flags &= ~CK_FLAGS{CKF_TOKEN_PRESENT};
  return rv;
}

// The PIN flags of `pin_flags` are OR-ed into the real token's flags.
CK_RV GetTokenInfo(CK_SLOT_ID slot, CK_TOKEN_INFO_PTR info) {
  if (token_removed()) return CKR_TOKEN_NOT_PRESENT;
  const CK_RV rv = forward(&CK_FUNCTION_LIST::C_GetTokenInfo, slot, info);
  if (rv != CKR_OK) return rv;
  const auto text = g_dir.read_value(kPinFlags);
  if (!text) return rv;
  const auto flags = parse_pin_flags(*text);
  if (!flags) {
    complain(std::string(kPinFlags) + " holds \"" + *text + "\": not CKF_USER_PIN_* names");
    return CKR_GENERAL_ERROR;
  }
  info->flags |= *flags;
  return rv;
}

CK_RV OpenSession(CK_SLOT_ID slot, CK_FLAGS flags, CK_VOID_PTR application, CK_NOTIFY notify,
                  CK_SESSION_HANDLE_PTR session) {
  g_dir.bump(kOpenSessionEntered);
  const CountOnReturn done(kOpenSessionCount);
  g_dir.wait_while_present(kHangOpenSession);
  if (token_removed()) return CKR_TOKEN_NOT_PRESENT;
  return forward(&CK_FUNCTION_LIST::C_OpenSession, slot, flags, application, notify, session);
}

// A card counts a refused PIN: `pin_flags_after_refusal` becomes `pin_flags`.
void count_refusal() {
  const auto after = g_dir.read(kPinFlagsAfterRefusal);
  if (!after) return;
  const std::string staged = g_dir.path() + "/." + kPinFlags + ".new";
  const std::string target = g_dir.path() + "/" + kPinFlags;
  if (FILE* out = std::fopen(staged.c_str(), "w")) {
    std::fputs(after->c_str(), out);
    std::fclose(out);
    std::rename(staged.c_str(), target.c_str());
  }
}

// `login_rv` answers every C_Login (any user type) without asking the token.
CK_RV Login(CK_SESSION_HANDLE session, CK_USER_TYPE user, CK_UTF8CHAR_PTR pin, CK_ULONG pin_len) {
  const CountOnReturn done(kLoginCount);
  if (token_removed()) return CKR_DEVICE_REMOVED;
  if (const auto text = g_dir.read_value(kLoginRv)) {
    if (const auto rv = parse_ckr(*text)) {
      if (*rv != CKR_OK) count_refusal();
      return *rv;
    }
    complain(std::string(kLoginRv) + " holds \"" + *text + "\": not a CKR_ name or number");
    return CKR_GENERAL_ERROR;
  }
  return forward(&CK_FUNCTION_LIST::C_Login, session, user, pin, pin_len);
}

// "<pid> <tid>" of the calling thread, for the lines of sign_log.
std::string caller() {
  return std::to_string(::getpid()) + " " + std::to_string(::gettid());
}

// Runs `sign` between "begin" and "end" lines in sign_log. With a latency
// (the smartcard model) the whole of it holds the card lock, so one signature
// is made at a time across every thread and process using the control
// directory, and each takes at least `latency`.
template <typename Sign>
CK_RV run_signature(const Sign& sign, std::optional<std::chrono::milliseconds> latency) {
  std::optional<ControlDir::Lock> card;
  if (latency) card.emplace(g_dir, kCardLock);
  const auto start = std::chrono::steady_clock::now();
  g_dir.append_line(kSignLog, "begin " + caller());
  const CK_RV rv = sign();
  if (latency) std::this_thread::sleep_until(start + *latency);
  g_dir.append_line(kSignLog, "end " + caller());
  return rv;
}

// The call that makes a signature (C_Sign or C_SignFinal with an output
// buffer) with every signing fault, in this order: removed, hang_sign,
// abort_sign, removed again (it may have been pulled during the hang), then
// sign_latency_ms.
template <typename Sign>
CK_RV make_signature(const Sign& sign) {
  g_dir.bump(kSignEntered);
  const CountOnReturn done(kSignCount);
  if (token_removed()) return CKR_DEVICE_REMOVED;
  g_dir.wait_while_present(kHangSign);
  if (g_dir.has(kAbortSign)) {
    complain(std::string(kAbortSign) + " exists: abort() in the signature call");
    std::abort();
  }
  if (token_removed()) return CKR_DEVICE_REMOVED;
  std::optional<std::chrono::milliseconds> latency;
  if (const auto text = g_dir.read_value(kSignLatency)) {
    latency = parse_millis(*text);
    if (!latency) {
      complain(std::string(kSignLatency) + " holds \"" + *text + "\": not milliseconds");
      return CKR_GENERAL_ERROR;
    }
  }
  return run_signature(sign, latency);
}

// A call without an output buffer only asks for the signature's length: no
// signature is made, so no signing fault applies to it and it is not counted.
CK_RV Sign(CK_SESSION_HANDLE session, CK_BYTE_PTR data, CK_ULONG data_len, CK_BYTE_PTR signature,
           CK_ULONG_PTR signature_len) {
  if (signature == nullptr) {
    return on_session<&CK_FUNCTION_LIST::C_Sign>(session, data, data_len, signature,
                                                 signature_len);
  }
  return make_signature([&] {
    return forward(&CK_FUNCTION_LIST::C_Sign, session, data, data_len, signature, signature_len);
  });
}

CK_RV SignFinal(CK_SESSION_HANDLE session, CK_BYTE_PTR signature, CK_ULONG_PTR signature_len) {
  if (signature == nullptr) {
    return on_session<&CK_FUNCTION_LIST::C_SignFinal>(session, signature, signature_len);
  }
  return make_signature([&] {
    return forward(&CK_FUNCTION_LIST::C_SignFinal, session, signature, signature_len);
  });
}

// ---- The function list ----

#define MPA_OWN(name) .C_##name = name
#define MPA_PLAIN(name) .C_##name = &Plain<&CK_FUNCTION_LIST::C_##name>::call
#define MPA_ON_SLOT(name) .C_##name = on_slot<&CK_FUNCTION_LIST::C_##name>
#define MPA_ON_SESSION(name) .C_##name = on_session<&CK_FUNCTION_LIST::C_##name>

// Every member of the v2.40 list, in the header's order: C++20 refuses
// designators out of order, and -Werror=missing-field-initializers (see
// CMakeLists.txt) refuses a missing one, so none can be left null.
CK_FUNCTION_LIST g_list = {
    .version = {CRYPTOKI_VERSION_MAJOR, CRYPTOKI_VERSION_MINOR},
    MPA_OWN(Initialize),
    MPA_PLAIN(Finalize),
    MPA_PLAIN(GetInfo),
    .C_GetFunctionList = ::C_GetFunctionList,
    MPA_OWN(GetSlotList),
    MPA_OWN(GetSlotInfo),
    MPA_OWN(GetTokenInfo),
    MPA_ON_SLOT(GetMechanismList),
    MPA_ON_SLOT(GetMechanismInfo),
    MPA_ON_SLOT(InitToken),
    MPA_ON_SESSION(InitPIN),
    MPA_ON_SESSION(SetPIN),
    MPA_OWN(OpenSession),
    MPA_PLAIN(CloseSession),  // closing is always possible, removed or not
    MPA_PLAIN(CloseAllSessions),
    MPA_ON_SESSION(GetSessionInfo),
    MPA_ON_SESSION(GetOperationState),
    MPA_ON_SESSION(SetOperationState),
    MPA_OWN(Login),
    MPA_ON_SESSION(Logout),
    MPA_ON_SESSION(CreateObject),
    MPA_ON_SESSION(CopyObject),
    MPA_ON_SESSION(DestroyObject),
    MPA_ON_SESSION(GetObjectSize),
    MPA_ON_SESSION(GetAttributeValue),
    MPA_ON_SESSION(SetAttributeValue),
    MPA_ON_SESSION(FindObjectsInit),
    MPA_ON_SESSION(FindObjects),
    MPA_ON_SESSION(FindObjectsFinal),
    MPA_ON_SESSION(EncryptInit),
    MPA_ON_SESSION(Encrypt),
    MPA_ON_SESSION(EncryptUpdate),
    MPA_ON_SESSION(EncryptFinal),
    MPA_ON_SESSION(DecryptInit),
    MPA_ON_SESSION(Decrypt),
    MPA_ON_SESSION(DecryptUpdate),
    MPA_ON_SESSION(DecryptFinal),
    MPA_ON_SESSION(DigestInit),
    MPA_ON_SESSION(Digest),
    MPA_ON_SESSION(DigestUpdate),
    MPA_ON_SESSION(DigestKey),
    MPA_ON_SESSION(DigestFinal),
    MPA_ON_SESSION(SignInit),
    MPA_OWN(Sign),
    MPA_ON_SESSION(SignUpdate),
    MPA_OWN(SignFinal),
    MPA_ON_SESSION(SignRecoverInit),
    MPA_ON_SESSION(SignRecover),
    MPA_ON_SESSION(VerifyInit),
    MPA_ON_SESSION(Verify),
    MPA_ON_SESSION(VerifyUpdate),
    MPA_ON_SESSION(VerifyFinal),
    MPA_ON_SESSION(VerifyRecoverInit),
    MPA_ON_SESSION(VerifyRecover),
    MPA_ON_SESSION(DigestEncryptUpdate),
    MPA_ON_SESSION(DecryptDigestUpdate),
    MPA_ON_SESSION(SignEncryptUpdate),
    MPA_ON_SESSION(DecryptVerifyUpdate),
    MPA_ON_SESSION(GenerateKey),
    MPA_ON_SESSION(GenerateKeyPair),
    MPA_ON_SESSION(WrapKey),
    MPA_ON_SESSION(UnwrapKey),
    MPA_ON_SESSION(DeriveKey),
    MPA_ON_SESSION(SeedRandom),
    MPA_ON_SESSION(GenerateRandom),
    MPA_ON_SESSION(GetFunctionStatus),
    MPA_ON_SESSION(CancelFunction),
    MPA_PLAIN(WaitForSlotEvent),
};

#undef MPA_OWN
#undef MPA_PLAIN
#undef MPA_ON_SLOT
#undef MPA_ON_SESSION

// ---- Loading ----

// MPA_FAULT_DIR, made absolute: the process under test may chdir (a daemon
// goes to /) after loading the module.
CK_RV open_control_dir() {
  const char* dir = std::getenv("MPA_FAULT_DIR");
  if (dir == nullptr || *dir == '\0') return CKR_OK;  // no faults: a plain proxy
  char resolved[PATH_MAX];
  struct stat st;
  if (::realpath(dir, resolved) == nullptr || ::stat(resolved, &st) != 0 || !S_ISDIR(st.st_mode)) {
    complain(std::string("MPA_FAULT_DIR=") + dir + " is not a directory");
    return CKR_GENERAL_ERROR;
  }
  g_dir = ControlDir(resolved);
  return CKR_OK;
}

// The real module's function list. Its handle is never dlclose'd: a thread
// of the application may still be inside it (a hung call) when our module is
// unloaded or the process exits, and loading our module again then finds the
// real one still mapped, as dlopen's reference count intends.
CK_RV open_real_module() {
  const char* env = std::getenv("MPA_FAULT_MODULE");
  const std::string path = env != nullptr && *env != '\0' ? env : kDefaultModule;
  void* handle = ::dlopen(path.c_str(), RTLD_NOW | RTLD_LOCAL);
  if (handle == nullptr) {
    complain("cannot load the real module " + path + ": " + ::dlerror());
    return CKR_GENERAL_ERROR;
  }
  const auto get = reinterpret_cast<CK_C_GetFunctionList>(::dlsym(handle, "C_GetFunctionList"));
  if (get == nullptr) {
    complain(path + " has no C_GetFunctionList: not a PKCS#11 module");
    return CKR_GENERAL_ERROR;
  }
  if (get == &::C_GetFunctionList) {
    complain("MPA_FAULT_MODULE=" + path + " is the fault module itself");
    return CKR_GENERAL_ERROR;
  }
  CK_FUNCTION_LIST_PTR real = nullptr;
  const CK_RV rv = get(&real);
  if (rv != CKR_OK || real == nullptr || real->version.major < 2) {
    complain(path + ": C_GetFunctionList failed or gave no v2 function list");
    return rv != CKR_OK ? rv : CKR_GENERAL_ERROR;
  }
  g_real = real;
  return CKR_OK;
}

CK_RV load() {
  const CK_RV rv = open_control_dir();
  return rv != CKR_OK ? rv : open_real_module();
}

}  // namespace
}  // namespace mpa_fault

// The one exported symbol (everything else is hidden, see CMakeLists.txt).
// The real module is loaded on the first call, once per process.
extern "C" __attribute__((visibility("default"))) CK_RV C_GetFunctionList(
    CK_FUNCTION_LIST_PTR_PTR list) {
  static std::once_flag once;
  static CK_RV loaded = CKR_GENERAL_ERROR;
  std::call_once(once, [] { loaded = mpa_fault::load(); });
  if (list == nullptr) return CKR_ARGUMENTS_BAD;
  if (loaded != CKR_OK) return loaded;
  *list = &mpa_fault::g_list;
  return CKR_OK;
}
