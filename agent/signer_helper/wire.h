// The wire between the agent and its signer helper (one process per token,
// as OpenSSH's ssh-agent talks to ssh-pkcs11-helper). Narrow on purpose:
// the helper trusts nothing it reads and the agent trusts nothing back.
//
// A frame is a 4-byte big-endian body length, then the body:
//   u8 version (kWireVersion) | u8 type | fields of that type
// Fields: u8, u32 and u64/i64 big-endian; a string or byte string is a u32
// length then the bytes; a list is a u32 count then the items. Every length
// and count is checked against the limits below before anything is
// buffered, every field is read to the end and nothing may follow the last
// one. A frame that breaks any rule is a protocol error: the helper exits,
// the agent kills the helper.
//
//   agent -> helper                       helper -> agent
//   setup (once, first)                   ready, or failed (then it exits)
//   sign(id, key, alg, signing input)     signature(id, bytes) | sign_error(id, code, words)
//   info(id)                              info_reply(id, SignerInfo per key)
//   reconfigure (one at a time)           ready (every key), or failed (it serves on as before)
//
// reconfigure (since version 2) gives a running helper the key list and
// signing policy of a reloaded configuration without a new login: the keys
// it has keep their place and come first, new ones are looked up on the
// logged-in token.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <variant>
#include <vector>

#include "common/result.h"
#include "common/grant_signer.h"

namespace mpa::signer_helper {

inline constexpr std::uint8_t kWireVersion = 2;

// A frame body larger than this is refused unread: the largest honest one
// is a ready with kMaxKeys chains of kMaxChainCertificates certificates.
inline constexpr std::size_t kMaxFrameBytes = 1024 * 1024;
// Paths, URIs, labels, subjects, variable names: far above any real one.
inline constexpr std::size_t kMaxNameBytes = 4096;
// A JWS signing input: header (x5c chain in base64) '.' claims.
inline constexpr std::size_t kMaxSigningInputBytes = 64 * 1024;
// RSA-16384 signs 2048 bytes; nothing larger is a signature.
inline constexpr std::size_t kMaxSignatureBytes = 2048;
// One DER certificate.
inline constexpr std::size_t kMaxCertificateBytes = 16 * 1024;
inline constexpr std::size_t kMaxChainCertificates = 8;
// Keys on one token that one configuration names.
inline constexpr std::size_t kMaxKeys = 32;
// Issuers (grant audiences) one configuration names.
inline constexpr std::size_t kMaxAudiences = 64;
// Words in an error: enough for an operator, not a dump.
inline constexpr std::size_t kMaxMessageBytes = 4096;

enum class PinSource : std::uint8_t { file = 1, env = 2 };

// Why a helper could not get ready; the agent acts on it (a refused PIN is
// not retried, DESIGN.md "The signer process").
// pin_unreadable: the PIN source itself (file missing, too open, variable
// unset), which the agent reports as a [pkcs11] setting.
enum class SetupFailure : std::uint8_t { other = 1, pin_refused = 2, pin_unreadable = 3 };

struct KeySetup {
  std::string key_uri;
  std::optional<std::string> chain_file;
};

struct SetupMessage {
  std::string module_path;
  std::string token_uri;  // the key URI whose token attributes select the token
  std::vector<KeySetup> keys;
  PinSource pin_source = PinSource::file;
  std::string pin_name;  // the pin_file path or the pin_env variable's name
  std::vector<JwsAlg> allowed_algs;
  std::vector<std::string> allowed_audiences;
  std::string state_dir;
  std::uint32_t max_concurrent_signatures = 1;
};

struct KeyReady {
  std::vector<Bytes> chain;  // DER, leaf first
  SignerInfo info;
};

struct ReadyMessage {
  std::vector<KeyReady> keys;  // in the order of SetupMessage::keys
};

struct FailedMessage {
  SetupFailure failure = SetupFailure::other;
  ErrorCode code = ErrorCode::internal;
  std::string message;
};

// A failed on the wire is an Error on either side of it: the setup
// failure's kind travels as the Error's reason (pin_refused,
// pin_unreadable; any other reason is `other`), the message cut to
// kMaxMessageBytes.
FailedMessage failed_message(const Error& error);
Error error_of(const FailedMessage& failed);

struct SignMessage {
  std::uint64_t id = 0;
  std::uint32_t key_index = 0;
  JwsAlg alg = JwsAlg::RS256;
  std::string signing_input;
};

struct SignatureMessage {
  std::uint64_t id = 0;
  Bytes signature;
};

struct SignErrorMessage {
  std::uint64_t id = 0;
  ErrorCode code = ErrorCode::hsm_error;
  std::string message;
};

struct InfoMessage {
  std::uint64_t id = 0;
};

struct InfoReplyMessage {
  std::uint64_t id = 0;
  std::vector<SignerInfo> keys;
};

struct ReconfigureMessage {
  std::vector<KeySetup> keys;  // the helper's keys, in their order, then new ones
  std::vector<JwsAlg> allowed_algs;
  std::vector<std::string> allowed_audiences;
};

using Message = std::variant<SetupMessage, ReadyMessage, FailedMessage, SignMessage,
                             SignatureMessage, SignErrorMessage, InfoMessage, InfoReplyMessage,
                             ReconfigureMessage>;

// The body of one frame (without the length prefix). Errors: internal, when
// a field is over its limit (our own bug, never sent).
Result<Bytes> encode(const Message& message);
// Strict; errors (internal, "signer wire: ...") say which rule broke.
Result<Message> decode(std::span<const std::uint8_t> body);

// Blocking frame I/O on a stream socket, EINTR retried. read_frame returns
// std::nullopt at a clean end of stream (the peer closed between frames).
Status write_frame(int fd, const Message& message);
Result<std::optional<Message>> read_frame(int fd);

}  // namespace mpa::signer_helper
