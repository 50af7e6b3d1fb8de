// Socket protocol v1 messages (DESIGN.md "Socket protocol, version 1"):
// one JSON object per line. Decoding is strict: unknown ops and unknown
// fields are invalid_request, so that typos are seen.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

#include "common/grant_request.h"
#include "common/result.h"

namespace mpa::protocol {

// A token request on the socket: the grant it asks for, plus what only the
// agent reads (which client, how long the token must stay valid, and the
// exchange after Maskinporten). Two requests that differ in anything but
// min_ttl never share a cached token.
struct TokenRequest {
  std::string client;                   // empty: the agent's only client
  GrantRequest grant;                   // grant.scopes is required, non-empty
  std::optional<std::int64_t> min_ttl;  // seconds; default: refresh margin
  std::optional<std::string> exchange;  // "altinn"
};

struct StatusRequest {};
struct PingRequest {};
// The agent's metrics in the OpenMetrics text format (docs/OPERATIONS.md "Metrics").
struct MetricsRequest {};
struct InvalidateRequest {
  TokenRequest target;  // same fields as token (min_ttl ignored)
};
struct VerifyAltinnRequest {
  std::string token;
};
// A Maskinporten token to verify against the [verify] issuer.
struct VerifyTokenRequest {
  std::string token;
  std::vector<std::string> scopes;  // each must be granted; may be empty
};

using RequestBody = std::variant<TokenRequest, StatusRequest, InvalidateRequest,
                                 VerifyAltinnRequest, PingRequest, VerifyTokenRequest,
                                 MetricsRequest>;

struct Request {
  std::optional<std::string> id_json;  // the "id" value as compact JSON, echoed back
  RequestBody body;
};

// A decode failure keeps the id if one could be read, so the error
// response can echo it, and says whether the connection must close after
// the error: DESIGN.md closes it for a line too long or one that is not a
// JSON object; an object with a bad op or field leaves it open.
struct DecodeError {
  Error error;
  std::optional<std::string> id_json;
  bool close_connection = false;
};

// Decodes one request line (without its '\n'). Every failure is
// invalid_request with a message that names the field and what was expected.
std::variant<Request, DecodeError> decode_request(std::string_view line);
// One line ending in '\n': "op" first, then "id", then the fields that are set.
// `id_json` must be compact JSON (a string or an integer), as decode_request
// makes it.
std::string encode_request(const Request& request);  // for the client library

// The op's name on the wire ("token", "status", ...).
std::string_view op_name(const RequestBody& body);

// Checks authorization_details text (a JSON array of objects, bounded) and
// returns it as compact JSON, the form TokenRequest holds.
Result<std::string> normalize_authorization_details(std::string_view json_text);

struct TokenResponse {
  std::string access_token;
  std::string token_type;
  std::int64_t expires_in = 0;
  std::int64_t expires_at = 0;
  std::string scope;
};

// Each encoder returns one line ending in '\n': "ok" first, then "id" if
// there is one, then the rest. Text that is not valid UTF-8 (a message
// quoting an upstream server) has its bad bytes replaced by U+FFFD.
std::string encode_error(const std::optional<std::string>& id_json, const Error& error);
std::string encode_token_response(const std::optional<std::string>& id_json,
                                  const TokenResponse& response);
// `fields_json` is a compact JSON object whose members are added after "ok":true.
// Members named "ok" or "id", or text that is not an object, are a bug of the
// caller: the answer is then an `internal` error line.
std::string encode_ok(const std::optional<std::string>& id_json, std::string_view fields_json = "{}");

// The code spelled as on the wire; nullopt for a spelling not in DESIGN.md.
std::optional<ErrorCode> error_code_from_string(std::string_view text);

// Client side. A {"ok":false,...} line becomes its Error (an unknown code
// becomes `internal`, keeping the code in the message); a line that is not
// a response becomes `internal` too.
Status decode_response_status(std::string_view line);
Result<TokenResponse> decode_token_response(std::string_view line);
// The text of a metrics answer ({"ok":true,"metrics":"..."}).
Result<std::string> decode_metrics_response(std::string_view line);

}  // namespace mpa::protocol
