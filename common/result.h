// The one error channel of the project: an Error with a code from the
// socket protocol's list (DESIGN.md) and a message for a person, carried in
// a Result<T>. Exceptions do not cross library boundaries.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <type_traits>
#include <utility>
#include <variant>

namespace mpa {

enum class ErrorCode {
  invalid_request,  // malformed or unknown op/field
  forbidden,        // the peer may not use this client or scope
  unknown_client,
  invalid_scope,
  invalid_grant,    // Maskinporten said so
  invalid_client,   // Maskinporten said so
  unavailable,      // Maskinporten/Altinn unreachable or 5xx; retry may help
  hsm_error,        // the token could not sign
  invalid_token,    // verify_altinn
  internal,
  // Not on the wire (mapped to `internal` there): local configuration.
  invalid_config,
};

// The protocol's spelling of a code ("invalid_request", ...).
std::string_view to_string(ErrorCode code);

// What a caller may do about a failure beyond its code, carried in the
// error so that no one matches messages or passes flags beside a Result.
enum class ErrorReason : std::uint8_t {
  none,
  token_lost,   // the session, login or token went away: opening it again may help
  pin_refused,  // the token refused the PIN (or it must not be tried): never present it again
  tls_untrusted,  // the server's certificate did not verify: another attempt will not help
  pin_unreadable,  // the PIN's source (file, variable) failed: a [pkcs11] setting to correct
};

struct Error {
  ErrorCode code = ErrorCode::internal;
  std::string message;
  ErrorReason reason = ErrorReason::none;

  // A copy of this error with `context: ` put before its message.
  Error with_context(std::string_view context) const {
    return Error{code, std::string(context) + ": " + message, reason};
  }
};

inline Error make_error(ErrorCode code, std::string message,
                        ErrorReason reason = ErrorReason::none) {
  return Error{code, std::move(message), reason};
}

template <class T>
class [[nodiscard]] Result {
 public:
  Result(T value) : v_(std::in_place_index<0>, std::move(value)) {}  // NOLINT implicit
  Result(Error error) : v_(std::in_place_index<1>, std::move(error)) {}  // NOLINT implicit

  bool ok() const { return v_.index() == 0; }
  explicit operator bool() const { return ok(); }

  T& value() & { return std::get<0>(v_); }
  const T& value() const& { return std::get<0>(v_); }
  T&& value() && { return std::get<0>(std::move(v_)); }
  T* operator->() { return &std::get<0>(v_); }
  const T* operator->() const { return &std::get<0>(v_); }
  T& operator*() & { return std::get<0>(v_); }
  const T& operator*() const& { return std::get<0>(v_); }

  const Error& error() const& { return std::get<1>(v_); }
  Error&& error() && { return std::get<1>(std::move(v_)); }

 private:
  std::variant<T, Error> v_;
};

template <>
class [[nodiscard]] Result<void> {
 public:
  Result() = default;
  Result(Error error) : error_(std::move(error)), ok_(false) {}  // NOLINT implicit

  bool ok() const { return ok_; }
  explicit operator bool() const { return ok_; }
  const Error& error() const& { return error_; }
  Error&& error() && { return std::move(error_); }

 private:
  Error error_;
  bool ok_ = true;
};

using Status = Result<void>;

}  // namespace mpa

// Returns the error of a failed Status (or Result) from the enclosing
// function, which must return a Status or a Result.
#define MPA_RETURN_IF_ERROR(expr)                  \
  do {                                             \
    if (auto mpa_status_ = (expr); !mpa_status_) { \
      return std::move(mpa_status_).error();       \
    }                                              \
  } while (false)

#define MPA_CONCAT_INNER_(a, b) a##b
#define MPA_CONCAT_(a, b) MPA_CONCAT_INNER_(a, b)

// `MPA_ASSIGN_OR_RETURN(auto x, f());` declares x from the value of a
// successful Result, or returns its error from the enclosing function.
#define MPA_ASSIGN_OR_RETURN(lhs, expr) \
  MPA_ASSIGN_OR_RETURN_IMPL_(MPA_CONCAT_(mpa_result_, __LINE__), lhs, expr)
#define MPA_ASSIGN_OR_RETURN_IMPL_(result, lhs, expr) \
  auto result = (expr);                               \
  if (!result) return std::move(result).error();      \
  lhs = std::move(result).value()

namespace mpa {

inline std::string_view to_string(ErrorCode code) {
  switch (code) {
    case ErrorCode::invalid_request: return "invalid_request";
    case ErrorCode::forbidden: return "forbidden";
    case ErrorCode::unknown_client: return "unknown_client";
    case ErrorCode::invalid_scope: return "invalid_scope";
    case ErrorCode::invalid_grant: return "invalid_grant";
    case ErrorCode::invalid_client: return "invalid_client";
    case ErrorCode::unavailable: return "unavailable";
    case ErrorCode::hsm_error: return "hsm_error";
    case ErrorCode::invalid_token: return "invalid_token";
    case ErrorCode::internal: return "internal";
    case ErrorCode::invalid_config: return "internal";
  }
  return "internal";
}

}  // namespace mpa
