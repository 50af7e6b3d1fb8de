#include "parse.h"

#include <charconv>
#include <cstdint>
#include <cstdio>
#include <sstream>
#include <string_view>

namespace mpa_fault {
namespace {

struct Named {
  std::string_view name;
  unsigned long value;
};

#define MPA_NAMED(name) Named{#name, name}

// Every return value that PKCS#11 v2.40 names (those in p11-kit's header).
constexpr Named kReturnValues[] = {
    MPA_NAMED(CKR_OK),
    MPA_NAMED(CKR_CANCEL),
    MPA_NAMED(CKR_HOST_MEMORY),
    MPA_NAMED(CKR_SLOT_ID_INVALID),
    MPA_NAMED(CKR_GENERAL_ERROR),
    MPA_NAMED(CKR_FUNCTION_FAILED),
    MPA_NAMED(CKR_ARGUMENTS_BAD),
    MPA_NAMED(CKR_NO_EVENT),
    MPA_NAMED(CKR_NEED_TO_CREATE_THREADS),
    MPA_NAMED(CKR_CANT_LOCK),
    MPA_NAMED(CKR_ATTRIBUTE_READ_ONLY),
    MPA_NAMED(CKR_ATTRIBUTE_SENSITIVE),
    MPA_NAMED(CKR_ATTRIBUTE_TYPE_INVALID),
    MPA_NAMED(CKR_ATTRIBUTE_VALUE_INVALID),
    MPA_NAMED(CKR_ACTION_PROHIBITED),
    MPA_NAMED(CKR_DATA_INVALID),
    MPA_NAMED(CKR_DATA_LEN_RANGE),
    MPA_NAMED(CKR_DEVICE_ERROR),
    MPA_NAMED(CKR_DEVICE_MEMORY),
    MPA_NAMED(CKR_DEVICE_REMOVED),
    MPA_NAMED(CKR_ENCRYPTED_DATA_INVALID),
    MPA_NAMED(CKR_ENCRYPTED_DATA_LEN_RANGE),
    MPA_NAMED(CKR_FUNCTION_CANCELED),
    MPA_NAMED(CKR_FUNCTION_NOT_PARALLEL),
    MPA_NAMED(CKR_FUNCTION_NOT_SUPPORTED),
    MPA_NAMED(CKR_KEY_HANDLE_INVALID),
    MPA_NAMED(CKR_KEY_SIZE_RANGE),
    MPA_NAMED(CKR_KEY_TYPE_INCONSISTENT),
    MPA_NAMED(CKR_KEY_NOT_NEEDED),
    MPA_NAMED(CKR_KEY_CHANGED),
    MPA_NAMED(CKR_KEY_NEEDED),
    MPA_NAMED(CKR_KEY_INDIGESTIBLE),
    MPA_NAMED(CKR_KEY_FUNCTION_NOT_PERMITTED),
    MPA_NAMED(CKR_KEY_NOT_WRAPPABLE),
    MPA_NAMED(CKR_KEY_UNEXTRACTABLE),
    MPA_NAMED(CKR_MECHANISM_INVALID),
    MPA_NAMED(CKR_MECHANISM_PARAM_INVALID),
    MPA_NAMED(CKR_OBJECT_HANDLE_INVALID),
    MPA_NAMED(CKR_OPERATION_ACTIVE),
    MPA_NAMED(CKR_OPERATION_NOT_INITIALIZED),
    MPA_NAMED(CKR_PIN_INCORRECT),
    MPA_NAMED(CKR_PIN_INVALID),
    MPA_NAMED(CKR_PIN_LEN_RANGE),
    MPA_NAMED(CKR_PIN_EXPIRED),
    MPA_NAMED(CKR_PIN_LOCKED),
    MPA_NAMED(CKR_SESSION_CLOSED),
    MPA_NAMED(CKR_SESSION_COUNT),
    MPA_NAMED(CKR_SESSION_HANDLE_INVALID),
    MPA_NAMED(CKR_SESSION_PARALLEL_NOT_SUPPORTED),
    MPA_NAMED(CKR_SESSION_READ_ONLY),
    MPA_NAMED(CKR_SESSION_EXISTS),
    MPA_NAMED(CKR_SESSION_READ_ONLY_EXISTS),
    MPA_NAMED(CKR_SESSION_READ_WRITE_SO_EXISTS),
    MPA_NAMED(CKR_SIGNATURE_INVALID),
    MPA_NAMED(CKR_SIGNATURE_LEN_RANGE),
    MPA_NAMED(CKR_TEMPLATE_INCOMPLETE),
    MPA_NAMED(CKR_TEMPLATE_INCONSISTENT),
    MPA_NAMED(CKR_TOKEN_NOT_PRESENT),
    MPA_NAMED(CKR_TOKEN_NOT_RECOGNIZED),
    MPA_NAMED(CKR_TOKEN_WRITE_PROTECTED),
    MPA_NAMED(CKR_UNWRAPPING_KEY_HANDLE_INVALID),
    MPA_NAMED(CKR_UNWRAPPING_KEY_SIZE_RANGE),
    MPA_NAMED(CKR_UNWRAPPING_KEY_TYPE_INCONSISTENT),
    MPA_NAMED(CKR_USER_ALREADY_LOGGED_IN),
    MPA_NAMED(CKR_USER_NOT_LOGGED_IN),
    MPA_NAMED(CKR_USER_PIN_NOT_INITIALIZED),
    MPA_NAMED(CKR_USER_TYPE_INVALID),
    MPA_NAMED(CKR_USER_ANOTHER_ALREADY_LOGGED_IN),
    MPA_NAMED(CKR_USER_TOO_MANY_TYPES),
    MPA_NAMED(CKR_WRAPPED_KEY_INVALID),
    MPA_NAMED(CKR_WRAPPED_KEY_LEN_RANGE),
    MPA_NAMED(CKR_WRAPPING_KEY_HANDLE_INVALID),
    MPA_NAMED(CKR_WRAPPING_KEY_SIZE_RANGE),
    MPA_NAMED(CKR_WRAPPING_KEY_TYPE_INCONSISTENT),
    MPA_NAMED(CKR_RANDOM_SEED_NOT_SUPPORTED),
    MPA_NAMED(CKR_RANDOM_NO_RNG),
    MPA_NAMED(CKR_DOMAIN_PARAMS_INVALID),
    MPA_NAMED(CKR_CURVE_NOT_SUPPORTED),
    MPA_NAMED(CKR_BUFFER_TOO_SMALL),
    MPA_NAMED(CKR_SAVED_STATE_INVALID),
    MPA_NAMED(CKR_INFORMATION_SENSITIVE),
    MPA_NAMED(CKR_STATE_UNSAVEABLE),
    MPA_NAMED(CKR_CRYPTOKI_NOT_INITIALIZED),
    MPA_NAMED(CKR_CRYPTOKI_ALREADY_INITIALIZED),
    MPA_NAMED(CKR_MUTEX_BAD),
    MPA_NAMED(CKR_MUTEX_NOT_LOCKED),
    MPA_NAMED(CKR_NEW_PIN_MODE),
    MPA_NAMED(CKR_NEXT_OTP),
    MPA_NAMED(CKR_EXCEEDED_MAX_ITERATIONS),
    MPA_NAMED(CKR_FIPS_SELF_TEST_FAILED),
    MPA_NAMED(CKR_LIBRARY_LOAD_FAILED),
    MPA_NAMED(CKR_PIN_TOO_WEAK),
    MPA_NAMED(CKR_PUBLIC_KEY_INVALID),
    MPA_NAMED(CKR_FUNCTION_REJECTED),
    MPA_NAMED(CKR_VENDOR_DEFINED),
};

constexpr Named kPinFlags[] = {
    MPA_NAMED(CKF_USER_PIN_COUNT_LOW),
    MPA_NAMED(CKF_USER_PIN_FINAL_TRY),
    MPA_NAMED(CKF_USER_PIN_LOCKED),
};

#undef MPA_NAMED

template <std::size_t N>
std::optional<unsigned long> lookup(const Named (&table)[N], std::string_view name) {
  for (const Named& entry : table) {
    if (entry.name == name) return entry.value;
  }
  return std::nullopt;
}

// The whole of `text` as an unsigned number in `base`, or nullopt.
template <typename T>
std::optional<T> whole_number(std::string_view text, int base) {
  T value{};
  const char* end = text.data() + text.size();
  const auto [stop, ec] = std::from_chars(text.data(), end, value, base);
  if (text.empty() || ec != std::errc() || stop != end) return std::nullopt;
  return value;
}

}  // namespace

std::optional<CK_RV> parse_ckr(const std::string& text) {
  const std::string_view view(text);
  if (view.starts_with("CKR_")) return lookup(kReturnValues, view);
  if (view.starts_with("0x") || view.starts_with("0X")) {
    return whole_number<CK_RV>(view.substr(2), 16);
  }
  return whole_number<CK_RV>(view, 10);
}

std::string ckr_name(CK_RV rv) {
  for (const Named& entry : kReturnValues) {
    if (entry.value == rv) return std::string(entry.name);
  }
  char hex[2 + 16 + 1];
  std::snprintf(hex, sizeof hex, "0x%08lX", rv);
  return hex;
}

std::optional<CK_FLAGS> parse_pin_flags(const std::string& text) {
  std::istringstream words(text);
  CK_FLAGS flags = 0;
  std::string word;
  while (words >> word) {
    const auto flag = lookup(kPinFlags, word);
    if (!flag) return std::nullopt;
    flags |= *flag;
  }
  return flags;
}

std::optional<std::chrono::milliseconds> parse_millis(const std::string& text) {
  const auto value = whole_number<std::uint32_t>(text, 10);
  if (!value) return std::nullopt;
  return std::chrono::milliseconds(*value);
}

}  // namespace mpa_fault
