// Pieces of the client commands (token, status, invalidate, exec) that
// they share and tests reach directly: the request options, the socket
// lookup (socket_path.h), the token answer's renderings and the status
// summary.
#pragma once

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "agent/cli/args.h"
#include "agent/cli/socket_path.h"
#include "common/result.h"
#include "protocol/client.h"
#include "protocol/status.h"

namespace mpa::cli {

// A token request may wait for Maskinporten, including the agent's retries.
inline constexpr std::chrono::seconds kTokenTimeout{90};

// The options that describe a token (--scope, --client, ...), plus
// --socket and --config to find the agent; and their help lines.
extern const std::vector<OptionSpec> kRequestOptions;
extern const char* const kRequestOptionsHelp;
extern const char* const kSocketHelp;

// The request the options describe; nullopt after a usage message.
std::optional<protocol::TokenRequest> token_request_from(const std::string& command,
                                                         const ParsedArgs& args);

// Asks the agent the options name for a token: the answer line and its
// decoding. Failures are printed already (one `error:` line) when nullopt.
struct TokenAnswer {
  std::string line;
  protocol::TokenResponse token;
};
std::optional<TokenAnswer> ask_for_token(const ParsedArgs& args, protocol::TokenRequest request);

// `token --format credential-process`: one JSON object with the token and
// its end in RFC 3339, for tools that run a credential helper.
std::string credential_process_json(const protocol::TokenResponse& token);

// The agent's status answer as lines for a person; `now` is epoch seconds.
// What the answer lacks is shown as unknown ("?"), not refused.
std::string render_status(const protocol::StatusResponse& status, std::int64_t now);

}  // namespace mpa::cli
