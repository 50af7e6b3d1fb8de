// Socket protocol v1 request parser on arbitrary input. Expected: either an
// invalid_request with words, or a Request that survives encode_request and
// decode_request unchanged. Every answer built from it must be one line of
// valid JSON. Anything else (or a sanitizer report) aborts.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string>
#include <string_view>
#include <variant>

#include "protocol/limits.h"
#include "protocol/messages.h"

namespace {

using namespace mpa;
using namespace mpa::protocol;

void require(bool condition) {
  if (!condition) std::abort();
}

// One line, ending in its only '\n'; returns what the client side reads
// from it (strict JSON, valid UTF-8), for the caller to check.
Status read_back(const std::string& line) {
  require(!line.empty() && line.back() == '\n' && line.find('\n') == line.size() - 1);
  return decode_response_status(std::string_view(line).substr(0, line.size() - 1));
}

void require_error_line(const std::string& line, ErrorCode code) {
  const Status status = read_back(line);
  require(!status.ok() && status.error().code == code);
}

void check_refusal(const DecodeError& refusal) {
  require(refusal.error.code == ErrorCode::invalid_request);
  require(!refusal.error.message.empty());
  require_error_line(encode_error(refusal.id_json, refusal.error), ErrorCode::invalid_request);
}

void check_round_trip(const Request& request) {
  const std::string encoded = encode_request(request);
  require(encoded.back() == '\n' && encoded.find('\n') == encoded.size() - 1);
  const auto again = decode_request(std::string_view(encoded).substr(0, encoded.size() - 1));
  require(std::holds_alternative<Request>(again));
  require(encode_request(std::get<Request>(again)) == encoded);
}

// Answers that echo the request's id and carry text taken from it.
void check_answers(const Request& request, std::string_view input) {
  require(read_back(encode_ok(request.id_json)).ok());
  // An upstream server's words may be any bytes; the answer stays one line.
  require_error_line(encode_error(request.id_json, make_error(ErrorCode::invalid_grant, std::string(input))),
                     ErrorCode::invalid_grant);
  const auto* token = std::get_if<TokenRequest>(&request.body);
  if (token == nullptr) return;
  const TokenResponse response{token->grant.scopes.front(), "Bearer", token->min_ttl.value_or(0), 1, token->client};
  const std::string answer = encode_token_response(request.id_json, response);
  require(read_back(answer).ok());
  const auto decoded = decode_token_response(std::string_view(answer).substr(0, answer.size() - 1));
  require(decoded.ok() && decoded->access_token == response.access_token &&
          decoded->expires_in == response.expires_in && decoded->scope == response.scope);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view line(reinterpret_cast<const char*>(data), size);
  const auto result = decode_request(line);
  if (const auto* refusal = std::get_if<DecodeError>(&result)) {
    check_refusal(*refusal);
    return 0;
  }
  // The server refuses longer lines before decoding; so must the decoder.
  require(line.size() <= kMaxRequestLineBytes);
  const Request& request = std::get<Request>(result);
  check_round_trip(request);
  check_answers(request, line);
  return 0;
}
