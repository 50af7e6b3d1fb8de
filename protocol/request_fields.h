// The field readers that the request decoder and the encoder's
// normalize_authorization_details share (internal to protocol/).
#pragma once

#include <array>
#include <string>
#include <string_view>
#include <vector>

#include "common/json_text.h"
#include "common/result.h"

namespace mpa::protocol {

// The ops in the order of RequestBody's alternatives.
inline constexpr std::array<std::string_view, 7> kOps = {
    "token", "status", "invalidate", "verify_altinn", "ping", "verify_token", "metrics"};

Error invalid(std::string message);  // an invalid_request error

// "a string", "an array" ...: what arrived, for an error message.
std::string kind_of(const rapidjson::Value& value);

// A non-empty string of printable UTF-8 within `max_bytes`.
Result<std::string> read_text(const rapidjson::Value& value, const std::string& label,
                              std::size_t max_bytes);
// An array of at most `max_count` such strings.
Result<std::vector<std::string>> read_text_array(const rapidjson::Value& value,
                                                 const std::string& field, std::size_t max_count,
                                                 std::size_t max_bytes);

// The shape the protocol checks (the grant builder checks the Altinn
// types): a non-empty array of objects, bounded, unambiguous; as compact JSON.
Result<std::string> read_authorization_details(const rapidjson::Value& value);

}  // namespace mpa::protocol
